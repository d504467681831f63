#!/usr/bin/env bash
# The run command: installs what is missing, builds heraldd (build/release),
# creates a small demo organisation on the first run, and starts heraldd on
# its embedded PostgreSQL in the foreground. Ctrl-C stops both.
#
# Data: $HERALD_DATA_DIR, else /var/lib/herald as root, else
# ~/.local/share/herald. Listen address: $HERALD_LISTEN (127.0.0.1:8740).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh run
scripts/build.sh release

bin=build/release/bin
if [ -z "${HERALD_DATA_DIR:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then HERALD_DATA_DIR=/var/lib/herald
  else HERALD_DATA_DIR=${XDG_DATA_HOME:-$HOME/.local/share}/herald; fi
fi
export HERALD_DATA_DIR
listen=${HERALD_LISTEN:-127.0.0.1:8740}
mkdir -p "$HERALD_DATA_DIR"
creds=$HERALD_DATA_DIR/demo-credentials.txt

ctl() { "$bin/heraldctl" --data-dir "$HERALD_DATA_DIR" "$@"; }

if [ ! -s "$creds" ]; then
  echo "herald: creating the demo organisation"
  umask 077
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  : >"$creds.new"
  pw() { # login -> a fresh password file
    head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 12 >"$tmp/$1"
    printf '%-6s %s\n' "$1" "$(cat "$tmp/$1")" >>"$creds.new"
  }
  pw admin; pw mei; pw alex; pw bo; pw chen
  ctl init --org "Demo Co" --admin admin --display "Ada Admin" \
    --tz Asia/Hong_Kong --password-file "$tmp/admin"
  ctl user add mei --display "Mei Manager" --department Product --role manager \
    --tz Asia/Hong_Kong --password-file "$tmp/mei"
  for u in alex bo chen; do
    ctl user add "$u" --display "${u^} Staff" --department Product --manager mei \
      --tz Asia/Hong_Kong --password-file "$tmp/$u"
  done
  ctl group create "Launch" --owner mei --member alex --member bo --member chen
  echo "bot ci-bot token: $(ctl bot create ci-bot --owner mei --group Launch)" >>"$creds.new"
  mv "$creds.new" "$creds"
fi

cat <<EOT

Herald is starting on http://$listen (WebSocket subprotocol herald.v1).
  health:      curl http://$listen/healthz
  demo users:  $creds (login, password; and the bot's token)
  admin tool:  $bin/heraldctl --data-dir $HERALD_DATA_DIR --help
Stop with Ctrl-C (this also stops the embedded PostgreSQL).

EOT
exec "$bin/heraldd" --data-dir "$HERALD_DATA_DIR" --listen "$listen"
