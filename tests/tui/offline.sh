#!/usr/bin/env bash
# Offline: with the server stopped, Ben reads a conversation and types
# three messages, then quits. The next start shows the cached history at
# once, while still offline; once the server is back the outbox replays in
# order: the three messages arrive once each, in order, and the read
# carries the time it was made (the server's clock has moved two hours
# meanwhile), as Ann's /who shows.
. "$(dirname "$0")/tui_lib.sh"

start
org
user ann Ann
user ben Ben
ctl group create Launch --owner ann --member ben --tracking all >/dev/null
ctl group create Ops --owner ann --member ben --tracking all >/dev/null

hopen ben ben 100 24 --password-file "$T/ben.pw"
notice_ok ben
wait_for ben "online"
wait_for ben "> Launch"
send_ann() { "$HERALDCTL" send --server "$URL" --login ann --password-file "$T/ann.pw" "$@" >/dev/null; }
send_ann --group Ops "ops status at noon"
send_ann --group Ops "please confirm the rollout"
wait_for ben "Ops (2)"

stop_server
wait_for ben "OFFLINE"
# Read Ops while offline: the read waits in the outbox with its time.
before=$(date -u +%H:%M)
keys ben C-n
wait_for ben "please confirm the rollout"
wait_for ben "outbox 1"
after=$(date -u +%H:%M)
for m in "offline one" "offline two" "offline three"; do
  typein ben "$m"
  keys ben Enter
done
wait_for ben "outbox 4"
wait_for ben "queued (offline)"
keys ben C-c
wait_exit ben
tm kill-session -t ben
cache=$(find "$STATE" -path '*ben/herald-cache')
expect_eq "$(stat -c %a "$cache")" 600 "cache file mode"
expect_eq "$(stat -c %a "$(dirname "$cache")")" 700 "state directory mode"

# Two hours pass on the server's clock before it comes back.
echo 7200000 >"$CLOCK"
hopen ben ben 100 24
wait_for ben "OFFLINE" 5
scr=$(screen ben)
expect_contains "$scr" "please confirm the rollout" "cached history at start, offline"
expect_contains "$scr" "offline three" "unsent messages shown at start"
restart_on_port
wait_for ben "outbox 0" 30
wait_for ben "online"
wait_gone ben "queued (offline)"

# From another client: each message once, in order.
"$HERALDCTL" tail --server "$URL" --login ann --password-file "$T/ann.pw" \
  --group Ops --last 20 >"$T/tail.out" 2>"$T/tail.err" &
tail_pid=$!
for _ in $(seq 1 200); do grep -q "offline three" "$T/tail.out" && break; sleep 0.05; done
kill -INT $tail_pid
wait $tail_pid || true
for m in "offline one" "offline two" "offline three"; do
  expect_eq "$(grep -c "ben: $m\$" "$T/tail.out")" 1 "\"$m\" arrived once"
done
order=$(grep -o 'offline [a-z]*' "$T/tail.out" | tr '\n' ,)
expect_eq "$order" "offline one,offline two,offline three," "order of the replayed sends"

# The read time is the offline one (rounded to the minute), not the
# server's time at the replay, two hours later.
hopen ann ann 100 24 --password-file "$T/ann.pw"
notice_ok ann
wait_for ann "online"
typein ann "/join Ops"
keys ann Enter
wait_for ann "herald · Ops"
typein ann "/who 2"
keys ann Enter
wait_for ann "Who read #2"
line=$(screen ann | grep -m1 'Ben .*read')
case "$line" in
  *" $before"|*" $after") ;;
  *) fail "read time: expected $before or $after, got: $line" ;;
esac

# Catching up: what was said while Ben's herald was closed arrives on its
# next start, after the cached history, once.
keys ben C-c
wait_exit ben
tm kill-session -t ben
send_ann --group Ops "while you were away"
hopen ben ben 100 24
wait_for ben "while you were away"
expect_eq "$(screen ben | grep -c 'while you were away')" 1 "caught up once"
expect_contains "$(screen ben)" "offline three" "history before it"
quit_all
echo "tui offline: ok"
