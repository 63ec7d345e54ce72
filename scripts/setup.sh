#!/usr/bin/env bash
# Set up everything the demo and the tests need, from nothing but python3:
#   .venv/          the project itself, editable, with its test extras
#   .venv-meltano/  Meltano in a venv of its own (its pins are not ours)
#   .meltano/       one venv per Meltano plugin (`meltano install`)
# Idempotent: a stamp keyed on the inputs' hashes makes a re-run a no-op.
# Env: PYTHON (default python3), SETUP_FORCE=1 to redo everything.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
MELTANO_SPEC="meltano==4.4.1"
STAMP=.meltano/.pendo-setup-stamp
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false

log() { printf 'setup: %s\n' "$*" >&2; }

inputs_hash() {
    {
        echo "$MELTANO_SPEC"
        "$PYTHON" -c 'import sys; print(sys.version)'
        cat pyproject.toml meltano.yml scripts/setup.sh
    } | sha256sum | cut -d' ' -f1
}

"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' ||
    { log "need Python >= 3.10 as $PYTHON"; exit 1; }

want="$(inputs_hash)"
if [[ "${SETUP_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$want" &&
      -x .venv/bin/python && -x .venv-meltano/bin/meltano ]]; then
    log "up to date (rm $STAMP or SETUP_FORCE=1 to redo)"
    exit 0
fi

start=$SECONDS

if [[ ! -x .venv/bin/python ]]; then
    log "creating .venv"
    "$PYTHON" -m venv .venv
fi
log "installing the project into .venv"
.venv/bin/python -m pip install -q -e '.[test]'

if [[ ! -x .venv-meltano/bin/meltano ]]; then
    log "creating .venv-meltano"
    "$PYTHON" -m venv .venv-meltano
    .venv-meltano/bin/python -m pip install -q "$MELTANO_SPEC"
elif ! .venv-meltano/bin/python -m pip show -q meltano >/dev/null 2>&1 ||
     [[ "$(.venv-meltano/bin/meltano --version)" != *"${MELTANO_SPEC#meltano==}"* ]]; then
    .venv-meltano/bin/python -m pip install -q "$MELTANO_SPEC"
fi

log "meltano install (plugin venvs under .meltano/)"
# --clean: a changed pip_url or dependency list must not leave a stale plugin venv.
.venv-meltano/bin/meltano --log-level=warning install --clean

mkdir -p "$(dirname "$STAMP")"
echo "$want" >"$STAMP"
log "done in $((SECONDS - start))s"
