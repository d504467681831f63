#!/usr/bin/env bash
# An interview card is filled and signed by both parties from two clients:
# the manager creates the record in their 1:1 group, each party edits a
# different section, the manager adds an action item, the employee
# submits, both /sign with their device keys (registered by herald on
# first use). Both screens show the record locked and signed by both; the
# action item became a task card shown to its owner. heraldctl agrees
# (card show) and the hash chains verify (audit verify). Then the device
# key: kept private, registered again silently on the next start, and a
# different key for the same device is reported.
. "$(dirname "$0")/tui_lib.sh"

start
org
user boss Boss --role manager
user bob Bob --manager boss
ctl group create "One on one" --owner boss --member bob --tracking all >/dev/null

hopen boss boss 110 48 --password-file "$T/boss.pw"
notice_ok boss
hopen bob bob 110 48 --password-file "$T/bob.pw"
notice_ok bob
wait_for boss "> One on one"
wait_for bob "> One on one"
typein bob "hello"
keys bob Enter
wait_for boss "hello"

typein boss "/interview new @bob period 2026-Q4"
keys boss Enter
wait_for boss "┌ interview #c1 · draft"
wait_for bob "┌ interview #c1 · draft"
wait_for bob "employee Bob · manager Boss · period 2026-Q4"

typein boss "/interview edit c1 notes A good quarter 很好"
keys boss Enter
wait_for bob "notes: A good quarter 很好"
typein bob "/interview edit #c1 development_plan learn Rust"
keys bob Enter
wait_for boss "development plan: learn Rust"
typein boss "/interview item c1 @bob due 2026-12-15 Write the design doc"
keys boss Enter
wait_for bob "action item: Write the design doc → Bob, due 2026-12-15"
# A section that does not exist is answered at once.
typein bob "/interview edit c1 salary more"
keys bob Enter
wait_for bob "usage: /interview edit CARD development_plan"
# Signing a draft is refused by the server, clearly.
typein bob "/sign c1"
keys bob Enter
wait_for bob "sign: INVALID_ACTION"

typein bob "/interview submit c1"
keys bob Enter
wait_for bob "┌ interview #c1 · submitted"
wait_for boss "┌ interview #c1 · submitted"
wait_for bob "/sign c1"
typein bob "/sign c1"
keys bob Enter
wait_for boss "signatures: Bob signed · Boss missing"
wait_for bob "you signed; waiting for the other signature"
typein boss "/sign c1"
keys boss Enter
wait_for boss "┌ interview #c1 · locked"
wait_for bob "┌ interview #c1 · locked"
wait_for bob "signatures: Bob signed · Boss signed"
wait_for boss "signatures: Bob signed · Boss signed"
wait_for boss "locked: signed by both"
# The action item is now Bob's task, in the same conversation.
wait_for bob "┌ task #c2 · open"
wait_for bob "/task accept c2"
wait_for boss "┌ task #c2 · open"
# /sign is for interview records: a task is refused locally.
typein bob "/sign c2"
keys bob Enter
wait_for bob "#c2 is a task card, not an interview"
# An edit of the locked record is refused with the server's reason.
typein boss "/interview edit c1 notes changed"
keys boss Enter
wait_for boss "edit: INVALID_ACTION"

out=$(ctl card show 1)
expect_contains "$out" '"status": "locked"' "heraldctl card show: locked"
expect_contains "$out" '"notes": "A good quarter 很好"' "the manager's section"
expect_contains "$out" '"development_plan": "learn Rust"' "the employee's section"
out=$(ctl card show 2)
expect_contains "$out" '"title": "Write the design doc"' "the spawned task"
ctl audit verify >/dev/null || fail "audit verify"

# A new device of Bob's (its own state directory) rebuilds the record from
# the server's replay.
hopen bob2 bob 110 48 --state-dir "$T/state2" --password-file "$T/bob.pw"
notice_ok bob2
wait_for bob2 "┌ interview #c1 · locked"
wait_for bob2 "signatures: Bob signed · Boss signed"
wait_for bob2 "┌ task #c2 · open"
keys bob2 C-c
wait_exit bob2

# The device key: one private file per state directory.
keyf=$(find "$STATE" -path '*bob/signing-key')
[ -n "$keyf" ] || fail "no signing key kept for bob"
expect_eq "$(stat -c %a "$keyf")" 600 "signing key file mode"
# A restart registers the same key again without a word.
keys bob C-c
wait_exit bob
tm kill-session -t bob
hopen bob bob 110 48
wait_for bob "online"
wait_for bob "┌ task #c2 · open"
sleep 1
case "$(screen bob)" in *"signing key"*) fail "the same key was reported" ;; esac
# Another key for the same device is reported, and not replaced.
keys bob C-c
wait_exit bob
tm kill-session -t bob
old=$(cat "$keyf")
printf '%064d\n' 7 >"$keyf"
hopen bob bob 110 48
wait_for bob "already has a different key"
expect_eq "$(cat "$keyf")" "$(printf '%064d' 7)" "the key file is left as it is"
[ "$old" != "$(cat "$keyf")" ] || fail "test setup: same key"
quit_all
echo "tui cards_interview: ok"
