#!/usr/bin/env bash
# An OKR posted with /okr new shows its key results at 0%; a check-in by
# its owner moves the progress bar and the percentage on both screens. A
# check-in typed offline is queued in the outbox and lands on reconnect.
. "$(dirname "$0")/tui_lib.sh"

start
org
user ann Ann
user ben Ben
ctl group create Goals --owner ann --member ben --tracking all >/dev/null

hopen ann ann 100 30 --password-file "$T/ann.pw"
notice_ok ann
hopen ben ben 100 30 --password-file "$T/ben.pw"
notice_ok ben
wait_for ann "> Goals"
wait_for ben "> Goals"

typein ann "/okr new Ship cards period 2026-Q4"
keys ann Enter
wait_for ann "needs at least one key result"
# A card the server refuses names the field.
typein ann '/okr new Ship period 2026-Q9 kr Features 0 10'
keys ann Enter
wait_for ann "send refused: INVALID_CARD at /period"
typein ann '/okr new Ship 卡片 period 2026-Q4 kr "Features done" 0 10 kr Uptime 99 99.9 %'
keys ann Enter
wait_for ann "┌ okr #c1 · 0%"
wait_for ben "┌ okr #c1 · 0%"
wait_for ben "KR1 [----------]   0% 0/10 Features done"
wait_for ben "KR2 [----------]   0% 99/99.9 % Uptime"
wait_for ann "/okr checkin c1 KR VALUE"

# Only the owner (or a manager) checks in: ben is refused, by name.
typein ben "/okr checkin c1 1 3"
keys ben Enter
wait_for ben "FORBIDDEN"

typein ann "/okr checkin c1 1 5 0.7 half way"
keys ann Enter
wait_for ann "┌ okr #c1 · 25%"
wait_for ben "┌ okr #c1 · 25%"
wait_for ben "KR1 [#####-----]  50% 5/10 Features done"

# A bad key result number is caught by the server (field named).
typein ann "/okr checkin c1 9 5"
keys ann Enter
wait_for ann "INVALID_CARD at /kr"

# Offline: the check-in waits in the outbox and goes out on reconnect.
stop_server
wait_for ann "OFFLINE"
typein ann "/okr checkin c1 2 99.9"
keys ann Enter
wait_for ann "checkin: queued (offline)"
restart_on_port
wait_for ann "┌ okr #c1 · 75%" 60
wait_for ben "┌ okr #c1 · 75%" 60
wait_for ben "KR2 [##########] 100% 99.9/99.9 % Uptime"
quit_all
echo "tui cards_okr: ok"
