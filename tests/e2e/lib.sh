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

cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
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
}

expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
expect_contains() { case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in: $1" ;; esac; }
