#!/usr/bin/env bash
# A task card posted with /task appears as a box on both screens; the
# assignee's /task accept and /task done move its status on both (a
# non-assignee's accept is refused, named); heraldctl card show agrees; the
# box comes back from the offline cache with the server stopped. A
# malformed /task is answered on the feedback line without sending.
. "$(dirname "$0")/tui_lib.sh"

start
org
user ann Ann
user ben Ben
ctl group create Launch --owner ann --member ben --tracking all >/dev/null

hopen ann ann 100 30 --password-file "$T/ann.pw"
notice_ok ann
hopen ben ben 100 30 --password-file "$T/ben.pw"
notice_ok ben
wait_for ann "> Launch"
wait_for ben "> Launch"
# Names of the members are known once someone has written.
typein ben "hi"
keys ben Enter
wait_for ann "hi"

typein ann "/task !high"
keys ann Enter
wait_for ann "usage: /task TITLE"
typein ann "/task Write the 设计 doc @nobody"
keys ann Enter
wait_for ann "unknown user @nobody"

typein ann "/task Write the 设计 doc @ben due 2026-12-15 !high"
keys ann Enter
wait_for ann "┌ task #c1 · open"
wait_for ben "┌ task #c1 · open"
wait_for ben "Write the 设计 doc"
expect_contains "$(screen ben)" "assignees: Ben" "the assignee on ben's screen"
expect_contains "$(screen ben)" "due 2026-12-15 · priority high" "due and priority"
expect_contains "$(screen ben)" "/task accept c1" "the assignee's actions"
# The CJK line is framed: its right border comes right after the padding.
screen ben | grep -q '│ Write the 设计 doc *│' || fail "the CJK line is not framed"

# Only an assignee may accept: ann is refused, clearly.
typein ann "/task accept c1"
keys ann Enter
wait_for ann "FORBIDDEN"

typein ben "/task accept #c1"
keys ben Enter
wait_for ben "┌ task #c1 · in_progress"
wait_for ann "┌ task #c1 · in_progress"
typein ben "/task done c1"
keys ben Enter
wait_for ben "┌ task #c1 · done"
wait_for ann "┌ task #c1 · done"

# The server agrees.
out=$(ctl card show 1)
expect_contains "$out" "done" "heraldctl card show"

# The card survives a restart from the offline cache (server stopped).
keys ben C-c
wait_exit ben
tm kill-session -t ben
stop_server
hopen ben ben 100 30
wait_for ben "┌ task #c1 · done"
quit_all
echo "tui cards_task: ok"
