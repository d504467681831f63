#!/usr/bin/env bash
# The README's run command, twice: it builds, seeds the demo organisation
# once, serves /healthz, and a second run reuses the data from the first.
. "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
export HERALD_DATA_DIR=$T/data HERALD_LISTEN=127.0.0.1:0
ctl="$root/build/release/bin/heraldctl --data-dir $HERALD_DATA_DIR"

run_once() { # logfile — starts scripts/run.sh, waits until it listens
  SERVER_LOG=$1
  "$root/scripts/run.sh" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 3000); do
    PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$SERVER_LOG" | tail -1)
    [ -n "$PORT" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "run command exited early"
    sleep 0.2
  done
  fail "run command did not start heraldd within 10 minutes"
}

run_once "$T/run1.log"
expect_eq "$(curl -fsS "http://127.0.0.1:$PORT/healthz")" "ok" "healthz"
grep -q "demo users" "$T/run1.log" || fail "run command did not say how to connect"
creds=$HERALD_DATA_DIR/demo-credentials.txt
for u in admin mei alex bo chen; do grep -q "^$u " "$creds" || fail "no $u in $creds"; done
grep -q "ci-bot token: " "$creds" || fail "no bot token in $creds"
[ "$(stat -c %a "$creds")" = 600 ] || fail "$creds is readable by others"
users=$($ctl user list)
for u in admin mei alex bo chen; do expect_contains "$users" "$u" "user list"; done
expect_contains "$($ctl group list)" "Launch" "group list"
stop_server
[ ! -f "$HERALD_DATA_DIR/pg/postmaster.pid" ] || fail "PostgreSQL left running"

# Second run: idempotent, same organisation, no second seeding.
before=$(md5sum <"$creds")
run_once "$T/run2.log"
expect_eq "$(curl -fsS "http://127.0.0.1:$PORT/healthz")" "ok" "healthz (second run)"
expect_eq "$(md5sum <"$creds")" "$before" "credentials unchanged"
grep -q "creating the demo organisation" "$T/run2.log" && fail "demo seeded twice"
stop_server
echo "run command: ok"
