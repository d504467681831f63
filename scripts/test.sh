#!/usr/bin/env bash
# The test command: installs what is missing, builds the sanitizer tree
# (build/test), starts a throwaway PostgreSQL, and runs the whole ctest suite.
# Extra arguments go to ctest (e.g. -L unit, -R name -V).
#
# Under CI=true nothing is skipped: a test that cannot reach what it needs
# fails (tests/support/pgtest.c).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

scripts/deps.sh test
scripts/build.sh test

pgdir=${TMPDIR:-/tmp}/herald-test-pg-$(id -u)
trap 'scripts/testpg.sh stop "$pgdir"' EXIT
HERALD_TEST_PG=$(scripts/testpg.sh start "$pgdir")
export HERALD_TEST_PG
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LANG=C.UTF-8

rc=0
ctest --test-dir build/test --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" "$@" || rc=$?
echo "herald: test command took $(( $(date +%s) - start ))s"
exit $rc
