#!/usr/bin/env bash
# The lint gate: ruff check, ruff format --check and mypy over the whole tree (rules and the
# files mypy checks are in pyproject.toml). scripts/test.sh runs it before pytest; it also
# runs alone (after scripts/setup.sh):   bash scripts/lint.sh
# Every tool runs even when an earlier one fails; the exit status is 1 if any of them found
# something, and the last line names the tools that did.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf 'lint: %s\n' "$*" >&2; }

failed=()
run() {
    local name=$1
    shift
    log "$name: $*"
    if ! "$@"; then
        failed+=("$name")
        log "$name FAILED"
    fi
}

run "ruff check" .venv/bin/ruff check .
run "ruff format" .venv/bin/ruff format --check .
run "mypy" .venv/bin/mypy

if ((${#failed[@]})); then
    log "findings from: $(IFS=,; echo "${failed[*]}" | sed 's/,/, /g') (fix them, or see pyproject.toml for the rules)"
    exit 1
fi
log "ruff check, ruff format and mypy: clean"
