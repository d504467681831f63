# lib.sh — helpers for the shell end-to-end tests: start the real heraldd on
# a port the kernel picks, wait for it, and fail loudly with its log.
#
# Expects HERALDD and HERALDCTL (paths of the binaries) in the environment;
# ctest passes them (tests/e2e/CMakeLists.txt).
set -euo pipefail

: "${HERALDD:?HERALDD must name the heraldd binary}"
: "${HERALDCTL:?HERALDCTL must name the heraldctl binary}"

T=$(mktemp -d "${TMPDIR:-/tmp}/herald-e2e.XXXXXX")
chmod 755 "$T"   # the embedded PostgreSQL runs as postgres and must reach it
SERVER_PID=
SERVER_LOG=
SERVER_LOGS=()   # every log start_server wrote, for scan_logs

# Log hygiene (SPEC §12): `secret STRING` and `secret_file FILE` (its first
# line) register what no server log may contain: passwords, tokens,
# message bodies. Strings shorter than 6 bytes are ignored (ordinary
# words). scan_logs runs at stop_server and at exit, and fails the test
# when a log holds one.
secret() {
  [ "${#1}" -ge 6 ] || return 0
  printf '%s\n' "$1" >>"$T/.secrets"
}
secret_file() { secret "$(head -n 1 "$1")"; }

# scan_logs [LOG...] — the logs given (default: every server log), fails
# naming the log and line number (not the secret) on a hit.
scan_logs() {
  local log hit
  [ -s "$T/.secrets" ] || return 0
  [ $# -gt 0 ] || set -- "${SERVER_LOGS[@]}"
  for log in "$@"; do
    [ -f "$log" ] || continue
    if hit=$(grep -n -F -f "$T/.secrets" "$log" | head -1 | cut -d: -f1) &&
       [ -n "$hit" ]; then
      echo "LOG LEAK: $log line $hit holds a password, token or message body the test registered" >&2
      return 1
    fi
  done
}

# cleanup [STATUS] — the exit trap; STATUS defaults to $? (for a test's
# own trap that runs commands first).
cleanup() {
  local rc=${1:-$?}
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  scan_logs || rc=1
  # Stop any embedded cluster a test left (a killed heraldd leaves one).
  for pid in "$T"/*/pg/postmaster.pid; do
    [ -f "$pid" ] || continue
    kill -QUIT "$(head -1 "$pid")" 2>/dev/null || true
  done
  if [ $rc -ne 0 ] && [ -n "$SERVER_LOG" ] && [ -f "$SERVER_LOG" ]; then
    echo "---- heraldd log ($SERVER_LOG) ----" >&2
    tail -n 60 "$SERVER_LOG" >&2
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# start_server LOGFILE ARGS... — starts heraldd on 127.0.0.1:0 in the
# background and sets SERVER_PID and PORT once it listens.
start_server() {
  SERVER_LOG=$1; shift
  SERVER_LOGS+=("$SERVER_LOG")
  "$HERALDD" --listen 127.0.0.1:0 "$@" >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 1 600); do
    # Count first, then read the port: the other order can pair a new
    # line's count with the previous start's port.
    if [ "$(grep -c 'listening on' "$SERVER_LOG")" -ge "${STARTS:-1}" ]; then
      PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$SERVER_LOG" | tail -1)
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || fail "heraldd exited during start-up"
    sleep 0.1
  done
  fail "heraldd did not start listening within 60 s"
}

# stop_server — SIGTERM, and require a clean exit status.
stop_server() {
  kill -TERM "$SERVER_PID"
  local rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=
  [ $rc -eq 0 ] || fail "heraldd exited with status $rc after SIGTERM"
  scan_logs "$SERVER_LOG" || fail "a secret appeared in the server's log"
}

expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
expect_contains() { case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in: $1" ;; esac; }
