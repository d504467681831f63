#!/usr/bin/env bash
# --help documents every option; bad settings are refused naming the setting.
. "$(dirname "$0")/lib.sh"

help=$("$HERALDD" --help)
for opt in --listen --data-dir --db --log-level --max-frame --config --check-config --test-clock-file \
           --print-config --tls-cert --tls-key --allow-plaintext; do
  expect_contains "$help" "$opt" "heraldd --help"
done
expect_contains "$help" "TEST ONLY, never in production" "test clock is marked test-only"
out=$("$HERALDD" --check-config --listen 127.0.0.1:9999)
expect_contains "$out" 'listen = "127.0.0.1:9999"' "check-config"

set +e
err=$("$HERALDD" --check-config --max-frame 5 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "bad max-frame accepted (rc $rc)"
expect_contains "$err" "max-frame" "error names the setting"
set +e
err=$(HERALD_LISTEN=nonsense "$HERALDD" --check-config 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "bad listen accepted"
expect_contains "$err" "listen (environment)" "error names setting and source"
printf 'log-level = loud\n' >"$T/h.conf"
set +e
err=$("$HERALDD" --check-config --config "$T/h.conf" 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "bad log-level in file accepted"
expect_contains "$err" "log-level (file)" "file error"

help=$("$HERALDCTL" --help)
for cmd in init "user add" "user list" "user deactivate" "group create" "group add-member" "group list" "group automate" "bot create" "bot robot" "keys rotate" "quiet show" "quiet set" "quiet org" "ding schedule" "card post" "card act" "card edit" "card show"; do
  expect_contains "$help" "$cmd" "heraldctl --help"
done
for cmd in "audit verify" "audit export"; do
  expect_contains "$help" "$cmd" "heraldctl --help"
done
echo "cli help: ok"
