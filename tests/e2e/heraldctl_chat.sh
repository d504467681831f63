#!/usr/bin/env bash
# heraldctl send and tail against the real server: a person trying Herald
# from a shell before the terminal client exists.
. "$(dirname "$0")/lib.sh"

D=$T/data
mkdir -p "$D"
start_server "$T/heraldd.log" --data-dir "$D"
URL=ws://127.0.0.1:$PORT
printf 'pw-ann-123\n' >"$T/ann"; printf 'pw-ben-123\n' >"$T/ben"
printf 'pw-cat-123\n' >"$T/cat"
secret_file "$T/ann"; secret_file "$T/ben"; secret_file "$T/cat"
"$HERALDCTL" --data-dir "$D" init --org Acme --admin ann --password-file "$T/ann" >/dev/null
"$HERALDCTL" --data-dir "$D" user add ben --display Ben --password-file "$T/ben" >/dev/null
"$HERALDCTL" --data-dir "$D" user add cat --display Cat --password-file "$T/cat" >/dev/null
"$HERALDCTL" --data-dir "$D" group create Launch --owner ann --member ben >/dev/null

send() { "$HERALDCTL" send --server "$URL" "$@"; }

out=$(send --login ann --password-file "$T/ann" --group Launch "hello from the shell")
expect_contains "$out" "seq 1" "first send"
out=$(printf 'piped text\n' | send --login ben --password-file "$T/ben" --group Launch -)
expect_contains "$out" "seq 2" "send from stdin"
out=$(send --login ann --password-file "$T/ann" --to ben "a 1:1 message")
expect_contains "$out" "seq 1" "direct message"

# tail: history first, then live messages as they come.
"$HERALDCTL" tail --server "$URL" --login ben --password-file "$T/ben" \
  --group Launch --last 5 >"$T/tail.out" 2>"$T/tail.err" &
tail_pid=$!
for _ in $(seq 1 100); do grep -q "piped text" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "ann: hello from the shell" "tail history"
send --login ann --password-file "$T/ann" --group Launch "live now" >/dev/null
for _ in $(seq 1 100); do grep -q "live now" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "ann: live now" "tail follows"
kill -INT $tail_pid
wait $tail_pid || fail "tail did not exit 0 on SIGINT: $(cat "$T/tail.err")"

# A non-member cannot post, and learns nothing; bad usage is exit 2.
set +e
err=$(send --login cat --password-file "$T/cat" --group Launch "let me in" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "non-member send: exit $rc"
expect_contains "$err" "Launch" "non-member error names the group"
set +e
send --login ann --password-file "$T/ann" >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "missing conversation: exit $rc, expected 2"
set +e
err=$(send --login ann --password-file "$T/ben" --group Launch "x" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "wrong password: exit $rc"

# DINGs: to named members with their own re-alert times, or to everyone.
out=$(send --login ann --password-file "$T/ann" --group Launch --ding urgent \
  --ding-to ben --esc 5m,15m "the build is red")
expect_contains "$out" "seq 4" "DING to ben"
out=$(send --login ann --password-file "$T/ann" --group Launch --ding critical \
  "everyone: stop deploying")
expect_contains "$out" "seq 5" "DING to all"
set +e
err=$(send --login ann --password-file "$T/ann" --group Launch --ding urgent \
  --ding-to cat "x" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "DING to a non-member: exit $rc"
expect_contains "$err" "cat: not a member" "DING to a non-member"
set +e
send --login ann --password-file "$T/ann" --group Launch --ding-to ben x \
  >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "--ding-to without --ding: exit $rc, expected 2"
set +e
err=$(send --login ann --password-file "$T/ann" --group Launch --ding urgent \
  --esc 15m,5m x 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "decreasing --esc: exit $rc, expected 2"

stop_server
echo "heraldctl chat: ok"
