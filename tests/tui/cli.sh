#!/usr/bin/env bash
# herald's command line: --help documents the options, --version, and bad
# usage is refused with exit status 2 naming the problem; without a
# terminal it says to use heraldctl (exit 1). No server needed.
. "$(dirname "$0")/../e2e/lib.sh"
: "${HERALD:?HERALD must name the herald binary}"

help=$("$HERALD" --help)
for opt in --server --user --password-file --state-dir --retry-max --help --version; do
  expect_contains "$help" "$opt" "herald --help"
done
expect_contains "$help" "XDG_STATE_HOME" "state directory documented"
expect_contains "$("$HERALD" --version)" "herald " "herald --version"

usage() {
  local want=$1 rc
  shift
  set +e
  err=$("$HERALD" "$@" 2>&1 </dev/null); rc=$?
  set -e
  [ $rc -eq 2 ] || fail "herald $*: exit $rc, expected 2"
  expect_contains "$err" "$want" "herald $*"
}
usage "--user LOGIN is required" --server ws://127.0.0.1:1
usage "unknown option --frob" --user ann --frob
usage "--retry-max needs seconds" --user ann --retry-max 0
usage "--server needs a value" --user ann --server
usage "bad server URL" --user ann --server http://x
usage "unexpected argument" --user ann extra

printf 'pw\n' >"$T/pw"
set +e
err=$("$HERALD" --user ann --server ws://127.0.0.1:1 --state-dir "$T/st" \
  --password-file "$T/pw" 2>&1 </dev/null); rc=$?
set -e
[ $rc -eq 1 ] || fail "herald without a terminal: exit $rc"
expect_contains "$err" "needs a terminal" "herald without a terminal"
expect_eq "$(stat -c %a "$T/st")" 700 "state root mode"
echo "herald cli: ok"
