#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the test suite.
#   scripts/testpg.sh start DIR   create (anew) and start a cluster in DIR,
#                                 print its admin conninfo
#   scripts/testpg.sh stop DIR    stop it and remove DIR
# It listens only on a unix socket inside DIR. As root, it runs as the
# postgres user (PostgreSQL refuses to run as root). fsync stays on: the
# tests that kill servers must see real durability.
set -euo pipefail

cmd=${1:?usage: testpg.sh start|stop DIR}
dir=${2:?usage: testpg.sh start|stop DIR}
bindir=${HERALD_PG_BINDIR:-/usr/lib/postgresql/15/bin}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "${HERALD_PG_USER:-postgres}" -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown "${HERALD_PG_USER:-postgres}" "$dir"
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=300 -c shared_buffers=256MB" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "host=$dir port=5432 dbname=postgres user=postgres"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
