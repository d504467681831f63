#!/usr/bin/env bash
# herald over wss://: heraldd serves TLS with a throw-away CA made here;
# herald with --ca-file logs in and chats. Without the CA (and without
# HERALD_CA_FILE) the certificate is refused: herald stays offline and
# never falls back to plain text.
. "$(dirname "$0")/tui_lib.sh"
command -v openssl >/dev/null || fail "the openssl command is needed (scripts/deps.sh test)"

P=$T/pki
mkdir -p "$P"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$P/ca.key" -out "$P/ca.pem" -days 2 -subj /CN=Herald-TUI-CA 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$P/srv.key" -out "$P/srv.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' >"$P/ext"
openssl x509 -req -in "$P/srv.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" \
  -set_serial 0x51 -days 2 -extfile "$P/ext" -out "$P/srv.pem" 2>/dev/null
chmod 600 "$P/srv.key"

start_server "$T/heraldd.log" --data-dir "$D" --test-clock-file "$CLOCK" \
  --tls-cert "$P/srv.pem" --tls-key "$P/srv.key"
grep -q 'listening on .*(TLS)' "$T/heraldd.log" || fail "heraldd is not serving TLS: $(cat "$T/heraldd.log")"
URL=wss://localhost:$PORT
org
user ann Ann
user ben Ben
ctl group create Launch --owner ann --member ben --tracking all >/dev/null

unset HERALD_CA_FILE
hopen ann ann 100 24 --password-file "$T/ann.pw" --ca-file "$P/ca.pem"
hopen ben ben 100 24 --password-file "$T/ben.pw" --ca-file "$P/ca.pem"
notice_ok ann
notice_ok ben
wait_for ann "online"
wait_for ben "online"
wait_for ann "> Launch"
typein ann "hello over tls"
keys ann Enter
wait_for ben "hello over tls"
wait_for ann "read 1/1"

# No CA: the server's certificate does not verify; nothing gets through.
hopen eve ben 100 24 --state-dir "$T/other-state" --password-file "$T/ben.pw"
wait_for eve "unable to get local issuer certificate"
sleep 4
case "$(screen eve)" in *online*) fail "connected without trusting the CA" ;; esac
case "$(screen eve)" in *"hello over tls"*) fail "history shown without TLS verification" ;; esac
# libwebsockets' error lines go to the notice line, not over the screen.
case "$(screen eve)" in *"] E: "*) fail "a library log line was written over the screen" ;; esac
keys eve C-c
wait_exit eve
quit_all
echo "tui wss: ok"
