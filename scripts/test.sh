#!/usr/bin/env bash
# THE test command: set everything up, run the lint gate (scripts/lint.sh: ruff check,
# ruff format --check, mypy), start PostgreSQL, run the whole test suite.
#   bash scripts/test.sh [pytest args...]
# Under CI (CI set) PostgreSQL is required: it is installed and started, and the
# postgres-marked tests fail rather than skip without it. Locally they skip if
# PostgreSQL cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'test.sh: %s\n' "$*" >&2; }

bash scripts/setup.sh

# Lint, format and types first: any finding fails the run before a test starts.
if ! bash scripts/lint.sh; then
    log "the lint gate failed (ruff check / ruff format --check / mypy, named above): no tests run"
    exit 1
fi

started_pg=0
stop_pg() { if [[ $started_pg == 1 ]]; then bash scripts/postgres.sh stop || true; fi; }
trap stop_pg EXIT

pg_up=0
if bash scripts/postgres.sh status 2>/dev/null; then
    bash scripts/postgres.sh >/dev/null && pg_up=1
elif bash scripts/postgres.sh >/dev/null; then
    started_pg=1
    pg_up=1
elif [[ -n "${CI:-}" ]]; then
    log "CI: PostgreSQL could not be installed or started"
    exit 1
else
    log "PostgreSQL unavailable: the postgres tests will be skipped"
fi
if [[ $pg_up == 1 ]]; then
    # shellcheck disable=SC1091
    source .ci/pg.env
fi

export MELTANO_BIN="$PWD/.venv-meltano/bin/meltano"
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false

rc=0
.venv/bin/python -m pytest "$@" || rc=$?
if [[ $rc == 5 ]]; then
    log "pytest collected no tests: that is a failure"
    exit 1
fi
exit "$rc"
