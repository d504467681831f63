#!/usr/bin/env bash
# The embedded default, end to end: heraldd with only --data-dir creates its
# own PostgreSQL, serves /healthz, stops the cluster on SIGTERM, finds its
# data again on the next start, and recovers the cluster after kill -9.
. "$(dirname "$0")/lib.sh"

D=$T/data
mkdir -p "$D"
log=$T/heraldd.log

# 1. First start creates the cluster and serves HTTP.
start_server "$log" --data-dir "$D"
expect_eq "$(curl -fsS "http://127.0.0.1:$PORT/healthz")" "ok" "healthz"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")
expect_eq "$code" "404" "unknown path"
[ -f "$D/pg/PG_VERSION" ] || fail "no cluster under the data dir"
[ -f "$D/pg/postmaster.pid" ] || fail "embedded PostgreSQL not running"
pgpid=$(head -1 "$D/pg/postmaster.pid")
ident=$(stat -c %i "$D/pg/PG_VERSION")
[ "$(stat -c %U "/proc/$pgpid")" != root ] || fail "PostgreSQL runs as root"

# heraldctl works against the running server's cluster.
printf 'pw-admin-1\n' >"$T/pw"
"$HERALDCTL" --data-dir "$D" init --org Acme --admin root1 --password-file "$T/pw" >/dev/null
"$HERALDCTL" --data-dir "$D" user add ann --display Ann --password-file "$T/pw" >/dev/null

# 2. SIGTERM stops heraldd and its PostgreSQL.
stop_server
[ ! -f "$D/pg/postmaster.pid" ] || fail "PostgreSQL still running after heraldd stopped"
# Gone, or a zombie waiting for its (re-parented) parent to reap it.
state=$(awk '/^State:/ {print $2}' "/proc/$pgpid/status" 2>/dev/null || true)
[ -z "$state" ] || [ "$state" = Z ] || fail "postmaster $pgpid survived ($state)"

# 3. The next start finds the data from before (the cluster is reused).
STARTS=2 start_server "$log" --data-dir "$D"
out=$("$HERALDCTL" --data-dir "$D" user list)
expect_contains "$out" "ann" "user list after restart"
expect_eq "$(stat -c %i "$D/pg/PG_VERSION")" "$ident" "cluster reused, not re-created"

# 4. kill -9: the orphaned cluster is adopted on the next start, not re-created.
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
STARTS=3 start_server "$log" --data-dir "$D"
out=$("$HERALDCTL" --data-dir "$D" user list)
expect_contains "$out" "ann" "user list after kill -9"
expect_eq "$(stat -c %i "$D/pg/PG_VERSION")" "$ident" "cluster recovered, not re-created"
expect_eq "$(curl -fsS "http://127.0.0.1:$PORT/healthz")" "ok" "healthz after recovery"

# 5. A second heraldd on the same data dir is refused with a clear error.
set +e
"$HERALDD" --listen 127.0.0.1:0 --data-dir "$D" >"$T/second.log" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "second heraldd on the same data dir started"
grep -qi 'lock\|in use\|another' "$T/second.log" || fail "no clear error: $(cat "$T/second.log")"

stop_server
[ ! -f "$D/pg/postmaster.pid" ] || fail "PostgreSQL still running at the end"
echo "embedded default: ok"
