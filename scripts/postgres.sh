#!/usr/bin/env bash
# A private PostgreSQL server for the tests, on 127.0.0.1 and a free port.
#
#   bash scripts/postgres.sh [start]   install (Debian packages) if missing, init, start;
#                                      writes .ci/pg.env (mode 0600) and prints the line
#                                      that sources it (never the password itself)
#   bash scripts/postgres.sh stop      stop the server (the data directory stays)
#   bash scripts/postgres.sh status
#
# Use it with:  eval "$(bash scripts/postgres.sh)"   or   source .ci/pg.env
# Idempotent: a running server is reused. Root cannot run postgres, so as root the
# server runs as the `postgres` user from Debian's package.
# Env: PG_DATA_DIR (default: a fresh `mktemp -d` directory, remembered in .ci/pg.dir so the
# server is reused), PGPORT to pin a port. Nothing is created at a predictable /tmp path.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT="$(pwd -P)"
DIR_FILE=.ci/pg.dir
DATA="${PG_DATA_DIR:-}"
if [[ -z "$DATA" && -f "$DIR_FILE" ]]; then
    DATA="$(cat "$DIR_FILE")"
    # Only a directory this script made (its random name, owned by us or postgres) is reused.
    if [[ ! -d "$DATA" || -L "$DATA" || "$DATA" != /tmp/pendo-singer-pg.* ]] \
        || ! [[ "$(stat -c %U "$DATA")" =~ ^($(id -un)|postgres)$ ]]; then
        DATA=""
    fi
fi
ENV_FILE=.ci/pg.env
PG_USER=pendo
PG_PASSWORD=pendo-test-pw
PG_DB=pendo

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

find_bindir() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return; fi
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
    if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
        pg_config --bindir; return
    fi
    return 1
}

install_postgres() {
    log "PostgreSQL not found: installing Debian's postgresql package"
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { log "not root and no sudo: install postgresql yourself"; exit 1; }
        sudo=(sudo -n)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq </dev/null
    # The package would create and start a system cluster on 5432; we don't use it.
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql </dev/null >&2
}

# Run a command as the server's owner: `postgres` when we are root, else ourselves.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_env() {
    mkdir -p "$(dirname "$ENV_FILE")"
    (umask 077; : >"$ENV_FILE")
    chmod 600 "$ENV_FILE"
    cat >"$ENV_FILE" <<EOF
export PGHOST=127.0.0.1
export PGPORT=$1
export PGUSER=$PG_USER
export PGPASSWORD=$PG_PASSWORD
export PGDATABASE=$PG_DB
export PG_DSN=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$1/$PG_DB
EOF
    printf '. %q\n' "$ROOT/$ENV_FILE"
}

running_port() {
    # Port of the running server of $DATA, from postmaster.pid (4th line), if it is up.
    local bindir="$1"
    as_owner "$bindir/pg_ctl" -D "$DATA" status >/dev/null 2>&1 || return 1
    sed -n 4p "$DATA/postmaster.pid"
}

cmd_start() {
    local bindir port
    bindir="$(find_bindir)" || { install_postgres; bindir="$(find_bindir)"; }
    if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    if [[ -z "$DATA" ]]; then
        DATA="$(mktemp -d /tmp/pendo-singer-pg.XXXXXXXX)"
        mkdir -p "$(dirname "$DIR_FILE")"
        printf '%s\n' "$DATA" >"$DIR_FILE"
    fi

    if port="$(running_port "$bindir")"; then
        log "already running on port $port ($DATA)"
        write_env "$port"
        return
    fi

    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        log "initdb $DATA"
        mkdir -p "$DATA"
        if [[ -n "$(ls -A "$DATA")" ]]; then
            if [[ -n "${PG_DATA_DIR:-}" ]]; then
                log "$DATA is not empty and holds no cluster: choose another PG_DATA_DIR"; exit 1
            fi
            DATA="$(mktemp -d /tmp/pendo-singer-pg.XXXXXXXX)"  # a failed init: start afresh
            printf '%s\n' "$DATA" >"$DIR_FILE"
        fi
        pwfile="$(mktemp /tmp/pendo-singer-pgpw.XXXXXXXX)"
        trap 'rm -f "${pwfile:-}"' EXIT
        printf '%s\n' "$PG_PASSWORD" >"$pwfile"
        if [[ "$(id -u)" == 0 ]]; then chown postgres: "$DATA" "$pwfile"; fi
        chmod 700 "$DATA"
        as_owner "$bindir/initdb" -D "$DATA" -U "$PG_USER" --pwfile="$pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
        rm -f "$pwfile"
    fi

    port="${PGPORT:-$(free_port)}"
    log "starting $("$bindir/postgres" --version) on 127.0.0.1:$port"
    # The socket goes in the data directory: /var/run/postgresql may not exist or be ours.
    as_owner "$bindir/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $DATA -c fsync=off -c full_page_writes=off" \
        start >/dev/null || { tail -n 30 "$DATA/server.log" >&2; exit 1; }

    if ! PGPASSWORD="$PG_PASSWORD" "$bindir/psql" -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres \
            -Atqc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
        PGPASSWORD="$PG_PASSWORD" "$bindir/psql" -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres \
            -qc "CREATE DATABASE $PG_DB" >&2
    fi
    write_env "$port"
}

cmd_stop() {
    local bindir
    bindir="$(find_bindir)" || { log "no PostgreSQL installed"; return 0; }
    if running_port "$bindir" >/dev/null; then
        as_owner "$bindir/pg_ctl" -D "$DATA" -m fast -w stop >&2
    else
        log "not running"
    fi
}

cmd_status() {
    local bindir port
    bindir="$(find_bindir)" || { log "no PostgreSQL installed"; exit 3; }
    if port="$(running_port "$bindir")"; then
        log "running on 127.0.0.1:$port ($DATA)"
    else
        log "not running ($DATA)"; exit 3
    fi
}

case "${1:-start}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) log "usage: $0 [start|stop|status]"; exit 2 ;;
esac
