#!/usr/bin/env bash
# The master key: created (mode 0600) on the first start of the embedded
# default, never taken from the command line, and a wrong, retired or
# world-readable key is refused at start-up with a clear error.
. "$(dirname "$0")/lib.sh"

D=$T/data
mkdir -p "$D"
start_server "$T/heraldd.log" --data-dir "$D"
[ -f "$D/master.key" ] || fail "no master key created"
expect_eq "$(stat -c %a "$D/master.key")" "600" "master key file mode"
grep -q "back it up" "$T/heraldd.log" || fail "no warning to back up the new key"
stop_server
good=$(cat "$D/master.key")

newkey() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
refused() { # expected-text args... — heraldd must exit non-zero saying it
  local want=$1; shift
  set +e
  out=$("$HERALDD" --listen 127.0.0.1:0 --data-dir "$D" "$@" 2>&1); rc=$?
  set -e
  [ $rc -ne 0 ] || fail "heraldd started with $*"
  expect_contains "$out" "$want" "refusal"
}

# A different key in the file: refused, naming both key ids.
newkey >"$D/master.key"
refused "wrong master key"
# The right key from the environment wins over the wrong file.
STARTS=2 HERALD_MASTER_KEY=$good start_server "$T/heraldd.log" --data-dir "$D"
stop_server
# A wrong key from the environment, a world-readable file.
printf '%s\n' "$good" >"$D/master.key"
HERALD_MASTER_KEY=$(newkey) refused "wrong master key"
printf '%s\n' "$good" >"$T/open.key"; chmod 644 "$T/open.key"
refused "chmod 600" --master-key-file "$T/open.key"
# A malformed key.
printf 'not a key\n' >"$T/bad.key"; chmod 600 "$T/bad.key"
refused "bad.key" --master-key-file "$T/bad.key"
# No option takes the key itself.
set +e
out=$("$HERALDD" --master-key "$good" --check-config 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "--master-key accepted"
STARTS=3 start_server "$T/heraldd.log" --data-dir "$D"
stop_server
echo "master key: ok"
