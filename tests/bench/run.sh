#!/usr/bin/env bash
# tests/bench/run.sh — Herald's benchmark in one command.
#
#   tests/bench/run.sh                 the whole benchmark (about 6-8 min)
#   tests/bench/run.sh --quick         small sizes, a smoke test (< 1 min
#                                      once built)
#   tests/bench/run.sh --only fanout,mqtt,sends,replay,idle,unread,nodes
#   tests/bench/run.sh --keep          keep the work directory (logs,
#                                      results.jsonl) and print its path
#
# It installs what is missing (scripts/deps.sh; mosquitto from Debian),
# builds the release tree (heraldd, heraldctl, herald-bench), starts a
# throwaway PostgreSQL (scripts/testpg.sh), creates the organisation, the
# users bench0001.. and the groups, starts heraldd and Mosquitto (with a
# WebSocket listener) on loopback ports, runs every scenario with
# build/release/bin/herald-bench, stops everything and prints one table.
# All traffic stays on 127.0.0.1 (ports $HERALD_BENCH_PORT, default 18740,
# and $HERALD_BENCH_MQTT_PORT, default 18741 and the next one); every step
# is bounded in time.
#
# Scenarios (the issue's "Benchmark" section):
#   fanout  one sender to groups of 10, 100, 1,000 online members: at
#           saturation and paced at half of it (herald_client members);
#           the largest group also with bare protocol clients (herald-raw)
#   nodes   several heraldd nodes on one database (issue 8): each fan-out
#           group with every member on one node, then with the receivers
#           split over two nodes (the sender on the first; the second
#           learns of each message by LISTEN/NOTIFY and fetches it), in
#           the same run (only with --only ...,nodes: not in the default set)
#   mqtt    the same shape against Mosquitto, MQTT 3.1.1 over WebSockets,
#           QoS 1; its paced phase uses Herald's rate, so that latencies
#           compare at the same load
#   sends   64 senders over 100 groups, and into one hot group: 5,000/s
#           offered, then saturation
#   replay  a client 10,000 messages behind reconnects
#   idle    10,000 and 19,000 idle connections over 3 processes: server
#           RSS per connection (on a freshly started heraldd)
#   unread  issue 4's report: seeds 1,000 users (4-level tree), 200 groups,
#           1,000,000 tracked messages and a month of reads (~2 min, ~2.5 GB),
#           then times the unread-over-2h report for managers, VPs, the CEO
#           and the admin, on a Sunday and on a Friday afternoon (business
#           time: --at), and sizes the read state (no heraldd: storage
#           only; in the run's PostgreSQL, or in $HERALD_TEST_PG when set,
#           where its database is dropped afterwards)
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/../.."
root=$PWD
cmdline="$0${*:+ $*}"

quick=0
keep=0
only=fanout,mqtt,sends,replay,idle,unread
hport=${HERALD_BENCH_PORT:-18740}
mport=${HERALD_BENCH_MQTT_PORT:-18741}

usage() { sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    --only) only=${2:?--only needs a list}; shift ;;
    --only=*) only=${1#--only=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
want() { [[ ",$only," == *",$1,"* ]]; }
for s in ${only//,/ }; do
  case "$s" in
    fanout|mqtt|sends|replay|idle|unread|nodes) ;;
    *) echo "run.sh: unknown scenario $s (fanout, mqtt, sends, replay, idle, unread, nodes)" >&2; exit 2 ;;
  esac
done

if [ "$quick" = 1 ]; then
  nusers=120; fan_sizes="10 100"; warmup=0.5; duration=2; drain=5
  send_loads=2000,sat; missed=2000; reps=3
  idle_steps=500,1000; idle_warm=50; idle_per_proc=600
  unread_opts=(--users 200 --groups 40 --messages 50000 --runs 50 --org-runs 5)
else
  nusers=1000; fan_sizes="10 100 1000"; warmup=2; duration=10; drain=15
  send_loads=5000,sat; missed=10000; reps=5
  idle_steps=10000,19000; idle_warm=100; idle_per_proc=8000
  unread_opts=(--users 1000 --groups 200 --messages 1000000 --runs 200 --org-runs 20)
fi
server=0
for s in fanout mqtt sends replay idle nodes; do want "$s" && server=1; done
senders=64

# ---- what we need ------------------------------------------------------
scripts/deps.sh run
if want mqtt && ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  echo "run.sh: installing mosquitto" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends mosquitto >/dev/null
fi
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
scripts/build.sh release >/dev/null
bin=$root/build/release/bin
bench=$bin/herald-bench
[ -x "$bench" ] || { echo "run.sh: $bench was not built" >&2; exit 1; }

# The load client holds up to 20,000 descriptors per process, and so do
# heraldd and mosquitto, which inherit this limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d /tmp/herald-bench.XXXXXX)
chmod 755 "$work"           # PostgreSQL runs as `postgres` under it when root
results=$work/results.jsonl
: >"$results"
hpid=""; mpid=""; h2pid=""
cleanup() {
  set +e
  [ -n "$h2pid" ] && kill -TERM "$h2pid" 2>/dev/null && wait "$h2pid" 2>/dev/null
  [ -n "$hpid" ] && kill -TERM "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null
  [ -n "$mpid" ] && kill -TERM "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
  "$root/scripts/testpg.sh" stop "$work/pg" >/dev/null 2>&1
  if [ "$keep" = 1 ]; then echo "run.sh: work directory kept: $work" >&2
  else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "run.sh: $*" >&2; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- database and organisation ----------------------------------------
log "starting PostgreSQL"
admin_ci=$(scripts/testpg.sh start "$work/pg")
psql "$admin_ci" -qc "CREATE DATABASE herald_bench"
db=${admin_ci/dbname=postgres/dbname=herald_bench}
sql() { psql "$db" -v ON_ERROR_STOP=1 -qAt "$@"; }
head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$work/password"
chmod 600 "$work/password"
"$bin/heraldctl" --db "$db" init --org "Bench Co" --admin benchadmin \
  --display "Bench Admin" --password-file "$work/password" >/dev/null

# The organisation, users and groups of the server scenarios.
if [ "$server" = 1 ]; then
  log "creating $nusers users and the groups"
  # Users share the admin's password hash (one argon2id hash, not thousands).
  # The per-row time-zone trigger of `users` reads pg_timezone_names (~30 ms a
  # row); every zone here is UTC, so this one session skips triggers.
  sql >/dev/null <<SQL
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO users (login, display_name, password_hash)
  SELECT 'bench' || lpad(i::text, 4, '0'), 'Bench ' || i, a.password_hash
  FROM generate_series(1, $nusers) i,
       (SELECT password_hash FROM users WHERE login = 'benchadmin') a;
INSERT INTO users (login, display_name, password_hash)
  SELECT 'benchreplay', 'Bench Replay', password_hash
  FROM users WHERE login = 'benchadmin';
COMMIT;
CREATE FUNCTION pg_temp.bench_group(p_title text, p_logins text[])
RETURNS bigint LANGUAGE plpgsql AS \$\$
DECLARE v_conv bigint;
BEGIN
  INSERT INTO conversations (kind, title, created_by)
    VALUES ('group', p_title, (SELECT id FROM users WHERE login = 'benchadmin'))
    RETURNING id INTO v_conv;
  INSERT INTO members (conversation_id, user_id, role)
    SELECT v_conv, u.id, CASE WHEN u.login = p_logins[1] THEN 'owner' ELSE 'member' END
    FROM users u WHERE u.login = ANY (p_logins);
  RETURN v_conv;
END \$\$;
SELECT pg_temp.bench_group('fan' || n,
         ARRAY(SELECT 'bench' || lpad(i::text, 4, '0') FROM generate_series(1, n) i))
  FROM unnest(ARRAY[$(echo "$fan_sizes" | tr ' ' ',')]) n;
SELECT pg_temp.bench_group('send' || lpad(g::text, 3, '0'),
         ARRAY(SELECT 'bench' || lpad(i::text, 4, '0') FROM generate_series(1, $senders) i))
  FROM generate_series(1, 100) g;
SELECT pg_temp.bench_group('hot',
         ARRAY(SELECT 'bench' || lpad(i::text, 4, '0') FROM generate_series(1, $senders) i));
SELECT pg_temp.bench_group('replay', ARRAY['bench0001', 'benchreplay']);
-- Planner statistics, as a database in service has them.
ANALYZE;
SQL
  conv() { sql -c "SELECT id FROM conversations WHERE title = '$1'"; }
  send_convs=$(sql -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM conversations WHERE title LIKE 'send%'")
fi

# ---- servers ------------------------------------------------------------
url=ws://127.0.0.1:$hport/
start_heraldd() {
  "$bin/heraldd" --db "$db" --listen "127.0.0.1:$hport" --log-level warn \
    >>"$work/heraldd.log" 2>&1 &
  hpid=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$hport/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$hpid" 2>/dev/null || break
    sleep 0.1
  done
  log "heraldd did not start; its log:"; tail -20 "$work/heraldd.log" >&2
  exit 1
}
stop_heraldd() {
  kill -TERM "$hpid" 2>/dev/null || true
  wait "$hpid" 2>/dev/null || true
  hpid=""
}
# A second node on the same database (the nodes scenario). Both nodes
# find the same master key: the same default data directory.
h2port=$((hport + 3))
url2=ws://127.0.0.1:$h2port/
start_heraldd2() {
  "$bin/heraldd" --db "$db" --listen "127.0.0.1:$h2port" --log-level warn \
    >>"$work/heraldd2.log" 2>&1 &
  h2pid=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$h2port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$h2pid" 2>/dev/null || break
    sleep 0.1
  done
  log "the second heraldd did not start; its log:"; tail -20 "$work/heraldd2.log" >&2
  exit 1
}
stop_heraldd2() {
  kill -TERM "$h2pid" 2>/dev/null || true
  wait "$h2pid" 2>/dev/null || true
  h2pid=""
}
start_mosquitto() {
  cat >"$work/mosquitto.conf" <<EOF
# Written by tests/bench/run.sh: MQTT over WebSockets on loopback only.
# Mosquitto 2.0.11 exits ("Unable to start any listening sockets") when
# every listener is a WebSocket one, so a plain MQTT listener comes first;
# the benchmark does not use it. Without socket_domain ipv4 the WebSocket
# listener ignores its address and listens on every interface.
listener $((mport + 1)) 127.0.0.1
listener $mport 127.0.0.1
socket_domain ipv4
protocol websockets
allow_anonymous true
persistence false
# Herald drops a connection whose queue passes 4,096 frames; the same bound.
max_queued_messages 4096
log_dest stderr
log_type error
log_type warning
EOF
  "$mosquitto_bin" -c "$work/mosquitto.conf" >>"$work/mosquitto.log" 2>&1 &
  mpid=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && return 0
    kill -0 "$mpid" 2>/dev/null || break
    sleep 0.1
  done
  log "mosquitto did not start; its log:"; tail -20 "$work/mosquitto.log" >&2
  exit 1
}
stop_mosquitto() {
  kill -TERM "$mpid" 2>/dev/null || true
  wait "$mpid" 2>/dev/null || true
  mpid=""
}
run() {   # runs herald-bench, keeping its RESULT lines; a failure is
          # reported and the other scenarios still run
  log "herald-bench $*"
  "$bench" "$@" | tee -a "$results" || log "herald-bench $1 failed"
}

if [ "$server" = 1 ]; then   # heraldd and the users' tokens
  start_heraldd
  log "heraldd $hpid on 127.0.0.1:$hport"
  { for i in $(seq 1 "$nusers"); do printf 'bench%04d\n' "$i"; done; echo benchreplay; } >"$work/users"
  "$bench" login --url "$url" --users "$work/users" --password-file "$work/password" \
    --out "$work/tokens" --parallel 8
  tokens=$work/tokens
  common=(--url "$url" --tokens "$tokens" --server-pid "$hpid")
  phase=(--warmup "$warmup" --duration "$duration" --drain "$drain")
fi

# ---- scenarios ----------------------------------------------------------
if want fanout; then
  for n in $fan_sizes; do
    run fanout "${common[@]}" "${phase[@]}" --conv "$(conv "fan$n")" \
      --group-size "$n" --loads sat,half
  done
  # The largest group again with bare protocol clients as members: what
  # herald_client itself costs, and the same kind of client as MQTT's.
  run fanout "${common[@]}" "${phase[@]}" --conv "$(conv "fan$n")" \
    --group-size "$n" --loads sat,half --client raw
fi
if want nodes; then
  start_heraldd2
  log "second heraldd $h2pid on 127.0.0.1:$h2port"
  for n in $fan_sizes; do
    run fanout "${common[@]}" "${phase[@]}" --conv "$(conv "fan$n")" \
      --group-size "$n" --loads sat,half --nodes 1
    run fanout "${common[@]}" "${phase[@]}" --conv "$(conv "fan$n")" \
      --group-size "$n" --loads sat,half --nodes 2 --url2 "$url2"
  done
  stop_heraldd2
fi
if want mqtt; then
  start_mosquitto
  log "mosquitto $mpid on 127.0.0.1:$mport"
  for n in $fan_sizes; do
    # The paced phase at Herald's half-saturation rate when there is one.
    rate=$(grep '"mode":"fanout"' "$results" | grep "\"group\":$n," |
           grep -o '"offered_msgs_per_s":[0-9.]*' | head -1 | cut -d: -f2 || true)
    run mqtt --url "ws://127.0.0.1:$mport/" --server-pid "$mpid" "${phase[@]}" \
      --topic "herald-bench/fan$n" --group-size "$n" --loads "sat,${rate:-half}"
  done
  stop_mosquitto
fi
if want sends; then
  run sends "${common[@]}" "${phase[@]}" --senders "$senders" \
    --convs "$send_convs" --loads "$send_loads"
  run sends "${common[@]}" "${phase[@]}" --senders "$senders" \
    --convs "$(conv hot)" --loads "$send_loads"
fi
if want replay; then
  run replay "${common[@]}" --conv "$(conv replay)" --sender bench0001 \
    --receiver benchreplay --missed "$missed" --reps "$reps"
fi
if want idle; then
  # A fresh server, so that nothing earlier runs left is counted.
  stop_heraldd
  start_heraldd
  run idle --url "$url" --tokens "$tokens" --server-pid "$hpid" \
    --steps "$idle_steps" --warm "$idle_warm" --per-proc "$idle_per_proc" \
    --first "$senders"
fi
stop_heraldd
if want unread; then
  # After the server scenarios, on a quiet database: seeding writes ~2.5 GB.
  # The month of messages ends on a Friday afternoon (pinned, so that any
  # day's run measures the same instants): measured on the Sunday after,
  # when the default quiet windows make the whole weekend quiet (the
  # cutoffs lie on Friday), and at the data's end, in working hours.
  unread_admin=${HERALD_TEST_PG:-$admin_ci}
  run unread --db "$unread_admin" --create herald_unread_bench \
    --end "2026-11-20 16:00 UTC" --at "2026-11-22 12:00 UTC" "${unread_opts[@]}"
  run unread --db "${unread_admin/dbname=postgres/dbname=herald_unread_bench}" \
    --skip-seed --at "2026-11-20 16:00 UTC" "${unread_opts[@]}"
  if [ -n "${HERALD_TEST_PG:-}" ]; then
    psql "$unread_admin" -qc "DROP DATABASE IF EXISTS herald_unread_bench WITH (FORCE)" || true
  fi
fi

# ---- the table ----------------------------------------------------------
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "Herald benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+changes'), $(nproc) cores"
echo "command: $cmdline"
echo "load average before: $load_before   after: $load_after"
echo
"$bench" report "$results"
