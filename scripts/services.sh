#!/usr/bin/env bash
# Make sure the local services the tests talk to are up: Redis on 127.0.0.1:6379 and PostgreSQL
# on 127.0.0.1:5432 with a database `test` that user postgres reaches without a password
# (tests/support/services.py), plus Debian's Chromium for the browser tests.
#
# Idempotent: what is running is only reported. As root, what is missing is installed with
# apt-get and started; otherwise the script says what to do and exits 1. Needs no stdin.
# Prints one line per service; exits 0 only when Redis and PostgreSQL answer (and, as root,
# Chromium is installed).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
PG_HOST=127.0.0.1
PG_PORT=5432
PG_DB="test"
PG_CLUSTER=main
WAIT_SECONDS=30

say() { printf 'services: %s\n' "$*"; }
fail() {
    printf 'services: %s\n' "$*" >&2
    exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }

APT_UPDATED=0
apt_install() {
    is_root || fail "cannot install $* (not root): install it, or start the service yourself"
    have apt-get || fail "cannot install $*: no apt-get on this machine"
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        apt-get update -qq </dev/null >/dev/null
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null
}

# Wait (bounded) until "$@" succeeds; returns 1 after WAIT_SECONDS.
wait_for() {
    local deadline=$((SECONDS + WAIT_SECONDS))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# --- Redis ----------------------------------------------------------------------------------

redis_up() {
    [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null </dev/null)" = "PONG" ]
}

# Install only what is needed: redis-cli to ask, redis-server when nothing answers.
if ! have redis-cli || { ! redis_up && ! have redis-server; }; then
    apt_install redis-server
fi
if ! redis_up; then
    say "starting redis-server on $REDIS_HOST:$REDIS_PORT"
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" \
        --save "" --appendonly no --dir "${TMPDIR:-/tmp}" </dev/null >/dev/null
fi
wait_for redis_up || fail "redis: no answer on $REDIS_HOST:$REDIS_PORT after ${WAIT_SECONDS}s"
redis_version="$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" info server </dev/null |
    sed -n 's/^redis_version:\([^[:space:]]*\).*/\1/p')"
say "redis: PONG on $REDIS_HOST:$REDIS_PORT (redis $redis_version)"

# --- PostgreSQL -----------------------------------------------------------------------------

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 </dev/null >/dev/null 2>&1; }

# The newest installed major version (there is normally exactly one).
pg_version() {
    if [ -d /etc/postgresql ]; then
        find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1
    fi
    return 0
}

pg_tcp_login() { # $1: database
    psql -X -q -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "$1" -tAc 'SELECT 1' \
        </dev/null >/dev/null 2>&1
}

# psql as the postgres superuser: over TCP without a password when that works, else (as root)
# over the local socket as the postgres OS user, which peer auth lets in on a fresh install.
pg_admin() {
    if ! pg_tcp_login postgres && is_root && id postgres >/dev/null 2>&1; then
        (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@" </dev/null)
    else
        psql -X -q -w -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres "$@" </dev/null
    fi
}

PG_INSTALLED_HERE=0
if ! have pg_isready || ! have psql || { ! pg_up && { ! have pg_ctlcluster || [ -z "$(pg_version)" ]; }; }; then
    apt_install postgresql
    PG_INSTALLED_HERE=1
fi
if ! pg_up; then
    version="$(pg_version)"
    [ -n "$version" ] || fail "postgresql: no cluster under /etc/postgresql"
    say "starting postgresql $version/$PG_CLUSTER"
    if is_root || [ "$(id -un)" = postgres ]; then
        pg_ctlcluster --skip-systemctl-redirect "$version" "$PG_CLUSTER" start </dev/null ||
            say "postgresql: pg_ctlcluster start failed; waiting in case it is starting anyway"
    else
        fail "postgresql: not running on $PG_HOST:$PG_PORT; start it as root:" \
            "pg_ctlcluster --skip-systemctl-redirect $version $PG_CLUSTER start"
    fi
fi
wait_for pg_up || fail "postgresql: no answer on $PG_HOST:$PG_PORT after ${WAIT_SECONDS}s"

if [ "$(pg_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
    say "creating database $PG_DB"
    pg_admin -c "CREATE DATABASE \"$PG_DB\""
fi

# The tests log in as postgres over TCP with no password (trust). A fresh Debian install asks for
# one; on a machine this script set up, or in CI (a throwaway machine), allow local TCP logins.
if ! pg_tcp_login "$PG_DB"; then
    if is_root && { [ "$PG_INSTALLED_HERE" -eq 1 ] || [ "${CI:-}" = "true" ]; }; then
        hba="$(pg_admin -tAc 'SHOW hba_file')"
        say "postgresql: allowing passwordless logins from 127.0.0.1 and ::1 in $hba"
        tmp="$(mktemp)"
        {
            echo "# added by scripts/services.sh for the tests: local TCP logins without password"
            echo "host all all 127.0.0.1/32 trust"
            echo "host all all ::1/128 trust"
            cat "$hba"
        } >"$tmp"
        cat "$tmp" >"$hba"
        rm -f "$tmp"
        pg_admin -tAc 'SELECT pg_reload_conf()' >/dev/null
        wait_for pg_tcp_login "$PG_DB" || fail "postgresql: still no passwordless login after editing $hba"
    else
        fail "postgresql: user postgres cannot log in to $PG_DB on $PG_HOST:$PG_PORT" \
            "without a password; allow it (trust) for 127.0.0.1 in pg_hba.conf"
    fi
fi
pg_server_version="$(pg_admin -tAc 'SHOW server_version' | awk '{print $1}')"
say "postgresql: accepting connections on $PG_HOST:$PG_PORT, database $PG_DB ($pg_server_version)"

# --- Chromium (browser tests) ---------------------------------------------------------------

if [ -x /usr/bin/chromium ]; then
    say "chromium: /usr/bin/chromium"
elif is_root; then
    apt_install chromium fonts-liberation
    [ -x /usr/bin/chromium ] || fail "chromium: installed, but /usr/bin/chromium is missing"
    say "chromium: /usr/bin/chromium (installed)"
else
    say "chromium: /usr/bin/chromium is missing (browser tests will not run): apt-get install chromium"
fi
