#!/usr/bin/env bash
# The docker/ folder without Docker (there is no engine on the build
# machines): compose.yaml is valid YAML with the services the README
# promises and passes only settings heraldd knows; the image's entry point
# (docker/entrypoint.sh) creates a shared master key once, keeps the
# database password out of the environment and serves; nginx.conf passes
# `nginx -t` and, run for real in front of that heraldd, upgrades
# WebSockets, answers /readyz and hides /metrics.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DOCKER=$ROOT/docker
EP=$DOCKER/entrypoint.sh
export HERALDD

# ---- lib.sh's log scanner can fail: a planted secret is caught ----------
printf 'x INFO  http: token planted-secret-123\n' >"$T/planted.log"
secret planted-secret-123
scan_logs "$T/planted.log" 2>/dev/null && fail "scan_logs missed a planted secret"
printf 'x INFO  http: nothing here\n' >"$T/clean.log"
scan_logs "$T/clean.log" || fail "scan_logs flags a clean log"

# ---- compose.yaml ------------------------------------------------------
python3 - "$DOCKER/compose.yaml" >"$T/compose.env" <<'PY' || fail "compose.yaml"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
svc = doc["services"]
def need(c, msg):
    if not c:
        sys.exit("compose.yaml: " + msg)
need(svc["postgres"]["image"].startswith("postgres:15"), "PostgreSQL 15")
need(any(v.startswith("pgdata:") for v in svc["postgres"]["volumes"]),
     "a volume for the database")
h = svc["herald"]
need(h.get("deploy", {}).get("replicas", 1) >= 2, "two heraldd nodes")
need(h["depends_on"]["postgres"]["condition"] == "service_healthy",
     "nodes wait for the database")
need(h["depends_on"]["herald-init"]["condition"] ==
     "service_completed_successfully", "nodes wait for the key")
need("ports" not in h, "nodes publish no port (only nginx)")
need("nginx" in svc and svc["nginx"]["ports"], "nginx in front")
for name in ("postgres", "herald", "nginx"):
    need("healthcheck" in svc[name], name + " has a health check")
need(svc["herald-init"]["command"] == ["init-key"], "the key is made once")
keyvol = [v for v in h["volumes"] if v.startswith("herald-keys:")]
need(keyvol and keyvol == [v for v in svc["herald-init"]["volumes"]],
     "nodes and init share the key volume")
env = dict(h["environment"])
need(not any("password" in str(v).lower() for k, v in env.items()
             if k != "DB_PASSWORD_FILE"), "no password in the environment")
need("password" not in env["HERALD_DB"], "no password in HERALD_DB")
need(set(doc["volumes"]) >= {"pgdata", "herald-keys"}, "named volumes")
need("db_password" in doc["secrets"], "the db password is a secret")
for k, v in sorted(env.items()):
    print("%s=%s" % (k, v))
PY

# Every HERALD_* the nodes get is a setting of heraldd. allow-plaintext
# comes with TLS support (tls-cert, tls-key): until heraldd has those, it
# is the one name allowed to be missing.
mapfile -t ENVS <"$T/compose.env"
out=$(env -i PATH="$PATH" "${ENVS[@]}" HERALD_DB_PASSWORD= "$HERALDD" --check-config 2>&1) ||
  fail "heraldd --check-config refuses the compose environment: $out"
expect_contains "$out" "configuration OK" "--check-config"
for kv in "${ENVS[@]}"; do
  k=${kv%%=*}
  case "$k" in HERALD_*) ;; *) continue ;; esac
  name=$(printf '%s' "${k#HERALD_}" | tr 'A-Z_' 'a-z-')
  if ! grep -q "^$name = " <<<"$out"; then
    if [ "$name" = allow-plaintext ] && ! grep -q '^tls-cert = ' <<<"$out"; then
      echo "note: heraldd has no TLS settings yet; HERALD_ALLOW_PLAINTEXT not checked" >&2
      continue
    fi
    fail "compose.yaml passes $k but heraldd has no setting \"$name\""
  fi
done

# ---- the Dockerfile ----------------------------------------------------
DF=$DOCKER/Dockerfile
[ "$(grep -c '^FROM debian:bookworm' "$DF")" -ge 2 ] || fail "multi-stage on bookworm"
grep -q 'scripts/deps.sh run' "$DF" || fail "the image installs through scripts/deps.sh"
grep -q '^USER herald' "$DF" || fail "the image runs as herald"
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$DF" | grep -q '^HEALTHCHECK .*CMD \["herald-entrypoint", "healthcheck"\]' ||
  fail "a health check"
grep -q 'docker/entrypoint.sh' "$DF" || fail "the entry point script"

# ---- entrypoint.sh: the master key ------------------------------------
KEY=$T/keys/master.key
HERALD_MASTER_KEY_FILE=$KEY "$EP" init-key 2>"$T/ep.err" || fail "init-key: $(cat "$T/ep.err")"
[ "$(stat -c %a "$KEY")" = 600 ] || fail "the key file must be mode 0600"
grep -Eqx '[0-9a-f]{64}' "$KEY" || fail "the key is 64 hex digits"
sum=$(sha256sum <"$KEY")
HERALD_MASTER_KEY_FILE=$KEY "$EP" init-key 2>"$T/ep.err" || fail "init-key again"
expect_contains "$(cat "$T/ep.err")" "keeping it" "a second init-key"
[ "$(sha256sum <"$KEY")" = "$sum" ] || fail "init-key overwrote the key"
secret "$(cat "$KEY")"
"$EP" init-key 2>/dev/null && fail "init-key without HERALD_MASTER_KEY_FILE"
"$EP" frobnicate 2>/dev/null && fail "an unknown command must fail"

# ---- entrypoint.sh: the database password -----------------------------
printf 'pa:ss\\word-xyz\n' >"$T/dbpw"
secret 'pa:ss\word-xyz'
mkdir -p "$T/home"
cat >"$T/fake-heraldd" <<'SH'
#!/bin/sh
# Stands in for heraldd: shows what the entry point handed over.
echo "args: $*"
echo "pgpassfile: ${PGPASSFILE:-}"
echo "pwfile: ${DB_PASSWORD_FILE:-unset}"
if [ -n "${PGPASSFILE:-}" ]; then cat "$PGPASSFILE"; fi
SH
chmod +x "$T/fake-heraldd"
out=$(HOME=$T/home HERALDD=$T/fake-heraldd DB_PASSWORD_FILE=$T/dbpw "$EP" serve --x 1)
expect_contains "$out" "args: --x 1" "serve passes its arguments"
expect_contains "$out" "pgpassfile: $T/home/.pgpass" "PGPASSFILE"
expect_contains "$out" "pwfile: unset" "DB_PASSWORD_FILE is not inherited"
expect_contains "$out" '*:*:*:*:pa\:ss\\word-xyz' "the password escaped for libpq"
[ "$(stat -c %a "$T/home/.pgpass")" = 600 ] || fail "the password file must be mode 0600"
out=$(HOME=$T/home HERALDD=$T/fake-heraldd "$EP" --y)
expect_contains "$out" "args: --y" "flags alone mean serve"

# ---- the real heraldd through the entry point, behind nginx ------------
D=$T/data
mkdir -p "$D"
SERVER_LOG=$T/heraldd.log
SERVER_LOGS+=("$SERVER_LOG")
HOME=$T/home HERALD_MASTER_KEY_FILE=$KEY "$EP" serve --listen 127.0.0.1:0 \
  --data-dir "$D" >>"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
for i in $(seq 1 600); do
  grep -q 'listening on' "$SERVER_LOG" && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "heraldd exited during start-up"
  sleep 0.1
done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$SERVER_LOG" | tail -1)
[ -n "$PORT" ] || fail "heraldd did not start"
for i in $(seq 1 100); do
  HEALTH_URL=http://127.0.0.1:$PORT/readyz "$EP" healthcheck 2>/dev/null && break
  sleep 0.2
done
HEALTH_URL=http://127.0.0.1:$PORT/readyz "$EP" healthcheck || fail "healthcheck on /readyz"
HEALTH_URL=http://127.0.0.1:$PORT/nope "$EP" healthcheck 2>/dev/null && fail "healthcheck must fail on 404"

if ! command -v nginx >/dev/null; then
  [ "${CI:-}" = true ] && fail "nginx is not installed (scripts/deps.sh test installs it)"
  echo "note: nginx not installed; docker/nginx.conf not checked" >&2
  stop_server
  exit 0
fi
NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NG=$T/nginx
mkdir -p "$NG"
# The same file, pointed at this heraldd and at private temp paths.
sed -e "s|server herald:8740|server 127.0.0.1:$PORT|" \
    -e "s|listen 80;|listen 127.0.0.1:$NPORT;|" \
    -e "s|^http {|http {\n  access_log off;\n  client_body_temp_path $NG/body;\n  proxy_temp_path $NG/proxy;|" \
    "$DOCKER/nginx.conf" >"$NG/nginx.conf"
grep -q "127.0.0.1:$PORT" "$NG/nginx.conf" || fail "nginx.conf has no upstream to point at"
nginx -t -q -e stderr -p "$NG" -c "$NG/nginx.conf" -g "pid $NG/nginx.pid;" ||
  fail "nginx -t refuses docker/nginx.conf"
nginx -e stderr -p "$NG" -c "$NG/nginx.conf" -g "pid $NG/nginx.pid; daemon off;" 2>"$NG/err.log" &
NGINX_PID=$!
# Stop nginx too, keeping the exit status for cleanup.
trap 'st=$?; kill $NGINX_PID 2>/dev/null || true; cleanup $st' EXIT
N=http://127.0.0.1:$NPORT
for i in $(seq 1 50); do
  curl -fs -o /dev/null "$N/healthz" && break
  sleep 0.1
done
out=$(curl -s -w ' %{http_code}' "$N/readyz")
expect_contains "$out" '"ready":true' "/readyz through nginx"
expect_contains "$out" " 200" "/readyz through nginx"
out=$(curl -s -o /dev/null -w '%{http_code}' "$N/metrics")
expect_eq "$out" 404 "/metrics through nginx"
out=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
expect_eq "$out" 200 "/metrics on the node itself"
# A WebSocket handshake through nginx: 101 with the herald.v1 protocol.
out=$(curl -s -i -N --http1.1 --max-time 2 \
  -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
  -H 'Sec-WebSocket-Protocol: herald.v1' "$N/" || true)
expect_contains "$out" "101 Switching Protocols" "WebSocket upgrade through nginx"
expect_contains "$(tr 'A-Z' 'a-z' <<<"$out")" "sec-websocket-protocol: herald.v1" "subprotocol"
kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true
stop_server
echo ok
