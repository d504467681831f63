#!/usr/bin/env bash
# Configures and builds one of Herald's two build trees.
#   scripts/build.sh release   build/release: gcc, optimised (heraldd for use)
#   scripts/build.sh test      build/test: clang, ASan+UBSan, libFuzzer targets
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:-release}
jobs=$(nproc 2>/dev/null || echo 2)
case "$kind" in
  release)
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DHERALD_TESTS=OFF >/dev/null ;;
  test)
    cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
      -DHERALD_SANITIZE=ON -DHERALD_FUZZ=ON -DHERALD_WERROR=ON >/dev/null ;;
  *) echo "usage: $0 release|test" >&2; exit 2 ;;
esac
cmake --build "build/$kind" -j "$jobs"
