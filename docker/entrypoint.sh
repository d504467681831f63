#!/bin/sh
# entrypoint.sh — the heraldd container's entry point (docker/Dockerfile
# installs it as /usr/local/bin/herald-entrypoint). Kept as a script so
# that the test suite runs the same steps without Docker
# (tests/e2e/docker_files.sh).
#
#   herald-entrypoint [serve] [HERALDD ARGS...]
#       runs heraldd (the default). With DB_PASSWORD_FILE set, the database
#       password is read from that file (a compose secret) into a private
#       libpq password file, so it is never in the environment, on the
#       command line or in `heraldd --check-config`'s output.
#   herald-entrypoint init-key
#       creates the master key file named by HERALD_MASTER_KEY_FILE (64 hex
#       digits, mode 0600) unless it exists. Run once, before the first node
#       starts (compose's herald-init service), so that every node shares
#       one key. Never overwrites a key.
#   herald-entrypoint healthcheck
#       exits 0 when GET /readyz answers 200 (database reachable, schema
#       current).
#
# Environment: HERALDD (the binary, default heraldd), HERALD_* (heraldd's
# settings, `heraldd --help`), DB_PASSWORD_FILE, HEALTH_URL (default
# http://127.0.0.1:8740/readyz).
set -eu

heraldd=${HERALDD:-heraldd}

die() { echo "herald-entrypoint: $*" >&2; exit 1; }

# The password file of libpq: every field may be '*'; ':' and '\' in the
# password are escaped with '\'.
db_password() {
  [ -n "${DB_PASSWORD_FILE:-}" ] || return 0
  [ -r "$DB_PASSWORD_FILE" ] || die "DB_PASSWORD_FILE $DB_PASSWORD_FILE is not readable"
  dir=${HERALD_RUN_DIR:-${HOME:-/tmp}}
  pass="$dir/.pgpass"
  (
    umask 077
    pw=$(head -n 1 "$DB_PASSWORD_FILE" | sed -e 's/\\/\\\\/g' -e 's/:/\\:/g')
    printf '*:*:*:*:%s\n' "$pw" >"$pass.tmp"
    mv -f "$pass.tmp" "$pass"
  )
  export PGPASSFILE="$pass"
  unset DB_PASSWORD_FILE
}

init_key() {
  key=${HERALD_MASTER_KEY_FILE:-}
  [ -n "$key" ] || die "init-key needs HERALD_MASTER_KEY_FILE"
  if [ -e "$key" ]; then
    echo "herald-entrypoint: master key $key exists; keeping it" >&2
    return 0
  fi
  mkdir -p "$(dirname "$key")"
  (
    umask 077
    hex=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    [ ${#hex} -eq 64 ] || die "could not read 32 random bytes"
    # noclobber: O_EXCL, so two racing inits never write two keys.
    set -C
    printf '%s\n' "$hex" >"$key"
  ) || die "could not create $key"
  echo "herald-entrypoint: created master key $key: back it up apart from the database" >&2
}

cmd=${1:-serve}
case "$cmd" in
  init-key)
    init_key ;;
  healthcheck)
    exec curl -fsS -o /dev/null --max-time 3 "${HEALTH_URL:-http://127.0.0.1:8740/readyz}" ;;
  serve)
    shift
    db_password
    exec "$heraldd" "$@" ;;
  -*)
    db_password
    exec "$heraldd" "$@" ;;
  *)
    die "unknown command \"$cmd\" (serve, init-key, healthcheck)" ;;
esac
