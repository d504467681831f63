#!/usr/bin/env bash
# heraldctl card against the real server: post a task, act on it, edit it,
# see the refusals name the field, and show its state and hash chain.
. "$(dirname "$0")/lib.sh"

D=$T/data
mkdir -p "$D"
start_server "$T/heraldd.log" --data-dir "$D"
URL=ws://127.0.0.1:$PORT
printf 'pw-ann-123\n' >"$T/ann"; printf 'pw-ben-123\n' >"$T/ben"
"$HERALDCTL" --data-dir "$D" init --org Acme --admin ann --password-file "$T/ann" >/dev/null
"$HERALDCTL" --data-dir "$D" user add ben --display Ben --password-file "$T/ben" >/dev/null
"$HERALDCTL" --data-dir "$D" group create Launch --owner ann --member ben >/dev/null
ben=$("$HERALDCTL" --data-dir "$D" user list --format json |
  awk -F': ' '/"id"/ {gsub(/[ ,]/, "", $2); id = $2} /"login": "ben"/ {print id}')
[ -n "$ben" ] || fail "no id for ben"

card() { "$HERALDCTL" card "$1" --server "$URL" "${@:2}"; }

printf '{"title":"Ship it","assignees":[%s]}\n' "$ben" >"$T/task.json"
out=$(card post --as ann --password-file "$T/ann" --group Launch --type task --json "$T/task.json")
expect_contains "$out" "ver 1 conv" "card post"
id=$(echo "$out" | awk '{print $2}')
out=$(card act --as ben --password-file "$T/ben" "$id" accept --base 1)
expect_contains "$out" "card $id ver 2" "card act"
out=$(card edit --as ann --password-file "$T/ann" "$id" /title '"Ship it today"' --base 2)
expect_contains "$out" "card $id ver 3" "card edit"

# Refusals name the field; a stale base is refused; usage errors exit 2.
set +e
err=$(printf '{"title":7}' | card post --as ann --password-file "$T/ann" --group Launch --type task --json - 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "bad card: exit $rc"
expect_contains "$err" "/title" "the refusal names the field"
set +e
err=$(card act --as ben --password-file "$T/ben" "$id" set_status --args '{"status":"done"}' --base 1 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "stale base: exit $rc"
set +e
card edit --as ann --password-file "$T/ann" "$id" /title '"x"' >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "edit without --base: exit $rc, expected 2"

out=$("$HERALDCTL" --data-dir "$D" card show "$id")
expect_contains "$out" "card $id task ver 3" "card show header"
expect_contains "$out" "Ship it today" "card show state"
expect_contains "$out" "event 1 created" "card show events"
expect_contains "$out" "event 3 edited" "card show last event"
# The chain the server wrote verifies with the auditor's tool.
out=$("$HERALDCTL" --data-dir "$D" audit verify) || fail "audit verify: $out"
echo "heraldctl card: ok"
