#!/usr/bin/env bash
# Installs the Debian 12 packages Herald needs that are missing.
#   scripts/deps.sh run    what building and running heraldd needs
#   scripts/deps.sh test   that, plus what the test suite needs
# Idempotent: when everything is present it installs nothing and asks no
# mirror. Needs root (or sudo) only when something is missing.
set -euo pipefail

what=${1:-run}
run_pkgs=(build-essential cmake pkg-config curl ca-certificates
  libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libpq-dev libmsgpack-dev
  libsodium-dev libjansson-dev libncurses-dev libcurl4-openssl-dev libssl-dev
  postgresql-15)
# openssl: tests/e2e/tls.sh makes a throw-away CA. python3-yaml and
# nginx-light: tests/e2e/docker_files.sh checks docker/compose.yaml and
# docker/nginx.conf (nginx -t) without Docker.
test_pkgs=(clang libclang-rt-14-dev tmux procps psmisc locales openssl python3
  python3-yaml nginx-light)

pkgs=("${run_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "herald: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
# Herald runs its own clusters; Debian's postgresql-common would otherwise
# create and start a system-wide "main" cluster on install.
if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  $sudo mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
