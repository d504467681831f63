#!/usr/bin/env bash
# docker/heraldd.conf is what `heraldd --print-config` writes from the
# settings table (so the documentation cannot drift from the code), it is a
# valid configuration file as shipped and with every line uncommented, and
# --check-config names a bad setting and where it came from.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONF=$ROOT/docker/heraldd.conf

"$HERALDD" --print-config >"$T/printed.conf"
if ! diff -u "$CONF" "$T/printed.conf" >"$T/diff"; then
  cat "$T/diff" >&2
  fail "docker/heraldd.conf differs from the settings table; regenerate it: heraldd --print-config > docker/heraldd.conf"
fi
# The same text whatever the environment says.
HERALD_LISTEN=0.0.0.0:1 HERALD_TLS_CERT=/nonexistent "$HERALDD" --print-config >"$T/env.conf"
cmp -s "$T/printed.conf" "$T/env.conf" || fail "--print-config depends on the environment"

# Every setting of --help is documented, with its environment name.
for name in $("$HERALDD" --help | sed -n 's/^  --\([a-z-]*\) .*/\1/p'); do
  case $name in config|check-config|print-config|help|version) continue ;; esac
  grep -q "^#$name = " "$CONF" || fail "setting $name is not in heraldd.conf"
  env=HERALD_$(echo "$name" | tr 'a-z-' 'A-Z_')
  grep -q "$env" "$CONF" || fail "heraldd.conf does not name $env"
done
grep -q '^#tls-cert = ""' "$CONF" || fail "tls-cert missing"
grep -q '^#allow-plaintext = false' "$CONF" || fail "allow-plaintext missing"

# Valid as shipped, and with every setting uncommented (each default
# parses and passes its checks).
out=$(env -u HERALD_LISTEN "$HERALDD" --check-config --config "$CONF")
expect_contains "$out" "configuration OK" "shipped file"
sed 's/^#\([a-z]\)/\1/' "$CONF" >"$T/active.conf"
[ "$(grep -c '^[a-z-]* = ' "$T/active.conf")" -ge 20 ] || fail "uncommenting found too few settings"
out=$("$HERALDD" --check-config --config "$T/active.conf")
expect_contains "$out" 'listen = "127.0.0.1:8740"' "uncommented file"
expect_contains "$out" "configuration OK" "uncommented file"

# --check-config names a bad setting and its source.
printf 'max-frame = 5\n' >"$T/bad.conf"
set +e
err=$("$HERALDD" --check-config --config "$T/bad.conf" 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "bad file: exit $rc"
expect_contains "$err" "setting max-frame (file): 5 is outside" "bad value in a file"
printf 'no-such-thing = 1\n' >"$T/bad.conf"
set +e
err=$("$HERALDD" --check-config --config "$T/bad.conf" 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "unknown setting: exit $rc"
expect_contains "$err" 'unknown setting "no-such-thing"' "unknown setting in a file"
set +e
err=$(HERALD_ALLOW_PLAINTEXT=perhaps "$HERALDD" --check-config 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "bad boolean: exit $rc"
expect_contains "$err" "setting allow-plaintext (environment): expected true or false" "bad boolean"
echo "config_file: ok"
