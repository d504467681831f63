# tui_lib.sh — helpers for the terminal client's tests: the real heraldd
# (tests/e2e/lib.sh), an organisation with users and groups, and herald
# sessions in tmux that the tests type into (send-keys) and read
# (capture-pane), as a person would.
#
# Expects HERALD (the client) besides HERALDD and HERALDCTL.
. "$(dirname "$0")/../e2e/lib.sh"

: "${HERALD:?HERALD must name the herald binary}"
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC

# One tmux server per test (its own socket), killed with the test.
TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
tui_cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -S "$TMUX_SOCK" ]; then
    for s in $(tm list-sessions -F '#S' 2>/dev/null); do
      echo "---- screen of $s ----" >&2
      tm capture-pane -p -S -300 -t "$s" >&2 || true
    done
  fi
  tm kill-server 2>/dev/null || true
  set +e
  (exit $rc)
  cleanup                 # reads $? for the status (and prints the log)
}
trap tui_cleanup EXIT

D=$T/data
STATE=$T/state
CLOCK=$T/clock
mkdir -p "$D" "$STATE"
echo 0 >"$CLOCK"

ctl() { "$HERALDCTL" --data-dir "$D" "$@"; }

# start — heraldd on the data directory with the test clock.
start() { start_server "$T/heraldd.log" --data-dir "$D" --test-clock-file "$CLOCK"; URL=ws://127.0.0.1:$PORT; }

# restart_on_port — heraldd again on the port the clients know.
restart_on_port() {
  STARTS=$((${STARTS:-1} + 1))
  "$HERALDD" --listen "127.0.0.1:$PORT" --data-dir "$D" --test-clock-file "$CLOCK" \
    >>"$T/heraldd.log" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 1 600); do
    [ "$(grep -c 'listening on' "$T/heraldd.log")" -ge "$STARTS" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "heraldd exited during restart"
    sleep 0.1
  done
  fail "heraldd did not restart within 60 s"
}

# clock_add MS — moves the server's clock forward (SIGUSR2) and waits for it.
clock_add() {
  local now n
  now=$(cat "$CLOCK")
  echo $((now + $1)) >"$CLOCK"
  n=$(grep -c 'test clock: offset' "$T/heraldd.log" || true)
  kill -USR2 "$SERVER_PID"
  for _ in $(seq 1 300); do
    [ "$(grep -c 'test clock: offset' "$T/heraldd.log" || true)" -gt "$n" ] && return 0
    sleep 0.1
  done
  fail "heraldd did not apply the test clock"
}

# user LOGIN DISPLAY [heraldctl user add options] — a user with password
# pw-LOGIN-123 in $T/LOGIN.pw.
user() {
  local login=$1 display=$2
  shift 2
  printf 'pw-%s-123\n' "$login" >"$T/$login.pw"
  ctl user add "$login" --display "$display" --password-file "$T/$login.pw" "$@" >/dev/null
}

# org — the organisation (admin "root") without quiet hours, so that the
# tests do not depend on the day or hour they run at.
org() {
  printf 'pw-root-123\n' >"$T/root.pw"
  ctl init --org Acme --admin root --password-file "$T/root.pw" >/dev/null
  ctl quiet org --clear >/dev/null
}

# hopen NAME LOGIN COLS ROWS [herald options] — herald in a tmux session.
# A shell waits for herald and prints its exit status on the pane (the
# tests read the status from the screen rather than from tmux's own
# bookkeeping of dead panes).
hopen() {
  local name=$1 login=$2 cols=$3 rows=$4
  shift 4
  tm new-session -d -s "$name" -x "$cols" -y "$rows" \
    sh -c '"$@"; echo "[herald exited: $?]"; exec sleep 86400' herald \
    env LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC TERM=screen-256color \
    "$HERALD" --server "$URL" --user "$login" --state-dir "$STATE" \
    --retry-max 1 "$@"
}

screen() { tm capture-pane -p -t "$1"; }
keys() { local s=$1; shift; tm send-keys -t "$s" "$@"; }
# typein SESSION TEXT — types TEXT literally (UTF-8 included).
typein() { tm send-keys -t "$1" -l "$2"; }

# wait_for SESSION TEXT [SECONDS] — polls the screen until TEXT shows.
wait_for() {
  local s=$1 text=$2 limit=${3:-30} i
  for i in $(seq 1 $((limit * 20))); do
    case "$(screen "$s")" in *"$text"*) return 0 ;; esac
    sleep 0.05
  done
  fail "$s: \"$text\" did not appear within ${limit}s"
}

# wait_gone SESSION TEXT [SECONDS]
wait_gone() {
  local s=$1 text=$2 limit=${3:-30} i
  for i in $(seq 1 $((limit * 20))); do
    case "$(screen "$s")" in *"$text"*) ;; *) return 0 ;; esac
    sleep 0.05
  done
  fail "$s: \"$text\" still on the screen after ${limit}s"
}

# wait_exit SESSION — herald quit with status 0 and without a word from
# the sanitizers (leaks, undefined behaviour).
exited() { case "$(screen "$1")" in *"[herald exited: "*) return 0 ;; esac; return 1; }
wait_exit() {
  local i scr
  for i in $(seq 1 600); do
    if exited "$1"; then
      scr=$(tm capture-pane -p -S -300 -t "$1")
      case "$scr" in
        *Sanitizer*|*"runtime error"*) fail "$1: sanitizer report on exit" ;;
      esac
      expect_contains "$scr" "[herald exited: 0]" "$1: exit status"
      return 0
    fi
    sleep 0.05
  done
  fail "$1: herald did not quit"
}

# quit_all — Ctrl-C in every herald still running; each must exit cleanly.
quit_all() {
  local s
  for s in $(tm list-sessions -F '#S' 2>/dev/null); do
    exited "$s" && continue
    keys "$s" C-c
    wait_exit "$s"
  done
}

# login_first SESSION LOGIN — first use: the password prompt, then the
# privacy notice, dismissed with Enter.
login_first() {
  wait_for "$1" "Password for $2"
  typein "$1" "pw-$2-123"
  keys "$1" Enter
  wait_for "$1" "Privacy notice"
  keys "$1" Enter
  wait_gone "$1" "Privacy notice"
}

# with_pw SESSION — first use with --password-file: only the notice.
notice_ok() {
  wait_for "$1" "Privacy notice"
  keys "$1" Enter
  wait_gone "$1" "Privacy notice"
}
