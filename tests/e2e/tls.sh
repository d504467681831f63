#!/usr/bin/env bash
# TLS on the listen port: a throw-away CA and server certificates made with
# the openssl command, then wss:// and https:// with verification, TLS 1.2
# and 1.3 only (the server refuses 1.1 itself), ALPN http/1.1, a
# certificate replaced on SIGHUP while connections stay up, start-up errors
# that name the setting, and the plain-text rule for non-loopback addresses.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || fail "the openssl command is needed (scripts/deps.sh test)"

P=$T/pki
mkdir -p "$P"
# mkcert NAME SERIAL — a P-256 key and a certificate for DNS:localhost only
# (so that wss://127.0.0.1 must fail the name check), signed by the CA.
mkcert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$P/$1.key" -out "$P/$1.csr" -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost\n' >"$P/ext"
  openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" \
    -set_serial "$2" -days 2 -extfile "$P/ext" -out "$P/$1.pem" 2>/dev/null
  chmod 600 "$P/$1.key"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$P/ca.key" -out "$P/ca.pem" -days 2 -subj /CN=Herald-Test-CA 2>/dev/null
mkcert one 0x0A01
mkcert two 0x0B02
mkcert other 0x0C03
cp "$P/one.pem" "$P/srv.pem"; cp "$P/one.key" "$P/srv.key"

D=$T/data
mkdir -p "$D"

# ---- start-up errors name the setting and exit 2, before anything starts
# refused CMD... — runs heraldd, expects exit 2; sets ERR to its stderr.
refused() {
  local rc=0
  ERR=$("$HERALDD" --data-dir "$D" "$@" 2>&1 >/dev/null) || rc=$?
  [ $rc -eq 2 ] || fail "heraldd $* exited $rc, expected 2: $ERR"
}
refused --listen 127.0.0.1:0 --tls-cert "$P/missing.pem" --tls-key "$P/srv.key"
expect_contains "$ERR" "setting tls-cert: cannot read $P/missing.pem" "missing certificate"
refused --listen 127.0.0.1:0 --tls-cert "$P/srv.pem" --tls-key "$P/two.key"
expect_contains "$ERR" "setting tls-key:" "mismatched key"
expect_contains "$ERR" "match" "mismatched key says why"
refused --listen 127.0.0.1:0 --tls-cert "$P/srv.key" --tls-key "$P/srv.key"
expect_contains "$ERR" "setting tls-cert:" "a key file as the certificate"
refused --listen 127.0.0.1:0 --tls-cert "$P/srv.pem"
expect_contains "$ERR" "setting tls-key" "certificate without a key"
refused --listen 0.0.0.0:0
expect_contains "$ERR" "setting listen: 0.0.0.0 is not a loopback address" "non-loopback plain text"
expect_contains "$ERR" "allow-plaintext" "the error names the way out"
expect_contains "$ERR" "tls-cert" "the error names TLS"
refused --check-config --listen 0.0.0.0:0 --allow-plaintext maybe
expect_contains "$ERR" "setting allow-plaintext (flag)" "bad boolean"
refused --check-config --tls-cert "$P/srv.pem" --tls-key "$P/two.key"
expect_contains "$ERR" "setting tls-key:" "--check-config loads the TLS files"
out=$("$HERALDD" --check-config --tls-cert "$P/srv.pem" --tls-key "$P/srv.key")
expect_contains "$out" "configuration OK" "good TLS files pass --check-config"
chmod 644 "$P/other.key"
out=$("$HERALDD" --check-config --tls-cert "$P/other.pem" --tls-key "$P/other.key" 2>&1)
expect_contains "$out" "can be read by other users" "a world-readable key is warned about"
chmod 600 "$P/other.key"

# ---- allow-plaintext: a non-loopback address starts, with a warning
"$HERALDD" --listen 0.0.0.0:0 --allow-plaintext true --data-dir "$D" \
  >"$T/plain.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$T/plain.log" && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "heraldd with allow-plaintext exited: $(cat "$T/plain.log")"
  sleep 0.1
done
expect_contains "$(cat "$T/plain.log")" "WARN  server: serving plain text on 0.0.0.0" "plain-text warning"
expect_contains "$(cat "$T/plain.log")" "(plain text)" "listen line says plain text"
SERVER_LOG=$T/plain.log
stop_server

# ---- TLS
# OPENSSL_CONF=/dev/null: without Debian's system-wide MinProtocol, only
# heraldd's own setting stands between a client and TLS 1.1.
OPENSSL_CONF=/dev/null start_server "$T/heraldd.log" --data-dir "$D" \
  --tls-cert "$P/srv.pem" --tls-key "$P/srv.key"
expect_contains "$(cat "$T/heraldd.log")" "listening on 127.0.0.1:$PORT (TLS)" "listen line says TLS"
expect_contains "$(cat "$T/heraldd.log")" "serial 0A01" "start-up names the certificate"
H=https://localhost:$PORT

out=$(curl -sS --cacert "$P/ca.pem" "$H/healthz")
expect_eq "$out" "ok" "https /healthz"
if curl -sS --max-time 5 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
  fail "plain HTTP answered on the TLS port"
fi
if curl -sS --max-time 5 "$H/healthz" >/dev/null 2>&1; then
  fail "curl trusted the test certificate without the CA"
fi

# serial_of HOST — the serial of the certificate a new connection gets.
serial_of() {
  echo | openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$P/ca.pem" 2>/dev/null | openssl x509 -noout -serial
}
# hello ARGS — an s_client handshake; prints its output (never fails).
hello() {
  echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" \
    -servername localhost -CAfile "$P/ca.pem" "$@" 2>&1 || true
}
# The client side is told to allow everything (no system configuration,
# SECLEVEL=0), so the failure is the server's refusal: a protocol_version
# alert (a cipher mismatch would be a handshake_failure alert instead).
out=$(OPENSSL_CONF=/dev/null hello -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')
expect_contains "$out" "alert protocol version" "TLS 1.1 refused by the server"
out=$(OPENSSL_CONF=/dev/null hello -tls1 -cipher 'DEFAULT:@SECLEVEL=0')
expect_contains "$out" "alert protocol version" "TLS 1.0 refused by the server"
out=$(hello -tls1_2)
expect_contains "$out" "Protocol  : TLSv1.2" "TLS 1.2"
expect_contains "$out" "Verify return code: 0 (ok)" "TLS 1.2 verifies"
out=$(hello -tls1_2 -cipher 'AES128-SHA:@SECLEVEL=0')
expect_contains "$out" "handshake failure" "TLS 1.2 without forward secrecy refused"
out=$(hello -tls1_3)
expect_contains "$out" "New, TLSv1.3" "TLS 1.3"
out=$(hello -alpn h2,http/1.1)
expect_contains "$out" "ALPN protocol: http/1.1" "ALPN picks http/1.1 over h2"
expect_eq "$(serial_of)" "serial=0A01" "first certificate"

# ---- wss:// with the client library (heraldctl)
printf 'pw-ann-123\n' >"$T/ann"; printf 'pw-ben-123\n' >"$T/ben"
ctl() { "$HERALDCTL" --data-dir "$D" "$@"; }
ctl init --org Acme --admin ann --password-file "$T/ann" >/dev/null
ctl user add ben --display Ben --password-file "$T/ben" >/dev/null
ctl group create Launch --owner ann --member ben >/dev/null
BOT=$(ctl bot create alerts --owner ann --group Launch 2>/dev/null)
W=wss://localhost:$PORT/
out=$("$HERALDCTL" send --server "$W" --ca-file "$P/ca.pem" --login ann \
  --password-file "$T/ann" --group Launch "hello over TLS")
expect_contains "$out" "seq 1" "send over wss"
# Ben follows the group over wss (CA from the environment) and stays
# connected across the certificate reload below.
HERALD_CA_FILE=$P/ca.pem "$HERALDCTL" tail --server "$W" --login ben \
  --password-file "$T/ben" --group Launch --last 5 >"$T/tail.out" 2>"$T/tail.err" &
tail_pid=$!
for _ in $(seq 1 100); do grep -q "hello over TLS" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "ann: hello over TLS" "receive over wss"

# No trusted CA, or a URL host the certificate does not name: refused.
set +e
err=$("$HERALDCTL" send --server "$W" --login ann --password-file "$T/ann" \
  --group Launch --timeout 3 "x" 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "wss without the CA was accepted"
expect_contains "$err" "TLS handshake failed" "untrusted certificate"
set +e
err=$("$HERALDCTL" send --server "wss://127.0.0.1:$PORT/" --ca-file "$P/ca.pem" \
  --login ann --password-file "$T/ann" --group Launch --timeout 3 "x" 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "wss to a host the certificate does not name was accepted"
expect_contains "$err" "TLS handshake failed" "host name checked"

# The HTTP API over https: a bot posts, Ben's wss connection receives.
code=$(curl -sS --cacert "$P/ca.pem" -o "$T/post.out" -w '%{http_code}' \
  -H "Authorization: Bearer $BOT" -H 'Content-Type: application/json' \
  --data-binary '{"conversation":1,"text":"bot over https"}' "$H/api/v1/messages")
expect_eq "$code" "200" "bot POST over https: $(cat "$T/post.out")"
for _ in $(seq 1 100); do grep -q "bot over https" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "bot over https" "bot message reaches wss"
out=$("$HERALDCTL" report unread --server "$W" --ca-file "$P/ca.pem" --login ann \
  --password-file "$T/ann" --older-than 1m --format csv)
expect_contains "$out" "," "unread report over wss"

# ---- reload on SIGHUP
# An HTTPS keep-alive connection made before the reload must go on working.
mkfifo "$T/sc.in"
openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -quiet \
  -CAfile "$P/ca.pem" -verify_return_error <"$T/sc.in" >"$T/sc.out" 2>"$T/sc.err" &
sc_pid=$!
exec 3>"$T/sc.in"
req() { printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' >&3; }
# wait_count FILE PATTERN N — until PATTERN occurs N times in FILE.
wait_count() {
  for _ in $(seq 1 100); do
    [ "$(grep -c "$2" "$1" || true)" -ge "$3" ] && return 0
    sleep 0.1
  done
  fail "expected $3 x '$2' in $1: $(cat "$1")"
}
req
wait_count "$T/sc.out" "HTTP/1.1 200" 1

# A bad pair (the new certificate with the old key): the old one stays.
cp "$P/two.pem" "$P/srv.pem"
kill -HUP "$SERVER_PID"
wait_count "$T/heraldd.log" "certificate reload failed" 1
expect_contains "$(grep 'certificate reload failed' "$T/heraldd.log")" "setting tls-key" "reload error names the setting"
expect_eq "$(serial_of)" "serial=0A01" "old certificate kept after a bad reload"

# The good pair.
cp "$P/two.key" "$P/srv.key"
kill -HUP "$SERVER_PID"
wait_count "$T/heraldd.log" "certificate reloaded: serial 0B02" 1
expect_eq "$(serial_of)" "serial=0B02" "new connections get the new certificate"
out=$(curl -sS --cacert "$P/ca.pem" "$H/healthz")
expect_eq "$out" "ok" "https after the reload"

# The connections made before it still work: the same TLS connection
# answers a second request, and Ben's wss connection gets a new message.
req
wait_count "$T/sc.out" "HTTP/1.1 200" 2
exec 3>&-
wait "$sc_pid" 2>/dev/null || true
"$HERALDCTL" send --server "$W" --ca-file "$P/ca.pem" --login ann \
  --password-file "$T/ann" --group Launch "after the reload" >/dev/null
for _ in $(seq 1 100); do grep -q "after the reload" "$T/tail.out" && break; sleep 0.1; done
expect_contains "$(cat "$T/tail.out")" "ann: after the reload" "wss connection kept across the reload"
kill -0 "$tail_pid" 2>/dev/null || fail "tail exited: $(cat "$T/tail.err")"
kill -INT "$tail_pid"
wait "$tail_pid" || fail "tail did not exit 0: $(cat "$T/tail.err")"
[ ! -s "$T/tail.err" ] || fail "tail reported: $(cat "$T/tail.err")"

# A different key type cannot be swapped in by a reload (restart instead).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/srv.key" -out "$P/srv.pem" \
  -days 1 -subj /CN=localhost 2>/dev/null
kill -HUP "$SERVER_PID"
wait_count "$T/heraldd.log" "certificate reload failed" 2
expect_eq "$(serial_of)" "serial=0B02" "key type change refused"

stop_server
echo "tls: ok"
