"""End-to-end fixtures: Meltano, PostgreSQL and the plugin executables, all for real.

The `sim` fixture (a simulator on loopback) comes from tests/conftest.py. PostgreSQL comes
from scripts/postgres.sh (PG* variables, or .ci/pg.env): without a reachable server the
postgres tests skip locally and FAIL when the CI variable is set, so CI cannot go green by
skipping them. The same holds for the Meltano install that scripts/setup.sh makes.

The plain helpers (paths, `Postgres`, `Meltano`, `tap_env`, ...) are in tests/helpers/e2e.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.e2e import (
    MELTANO,
    PG_KEYS,
    PLUGIN_BIN,
    Meltano,
    Postgres,
    read_pg_env,
    unavailable,
)

# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_env() -> dict[str, str]:
    env = read_pg_env()
    missing = [k for k in PG_KEYS if k not in env]
    if missing:
        unavailable(f"no PostgreSQL settings ({', '.join(missing)} unset; run scripts/postgres.sh)")
    try:
        Postgres(env, "public").query("SELECT 1")
    except Exception as error:
        unavailable(f"PostgreSQL at {env['PGHOST']}:{env['PGPORT']} is not reachable: {error}")
    return env


@pytest.fixture
def pg(pg_env: dict[str, str]) -> Iterator[Postgres]:
    """A fresh schema per test, dropped afterwards."""
    db = Postgres(pg_env, f"e2e_{uuid.uuid4().hex[:10]}")
    yield db
    db.query(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE')


# -- Meltano ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def meltano_installed() -> Path:
    if not MELTANO.exists():
        unavailable(f"{MELTANO} is missing (run scripts/setup.sh)")
    for name, path in PLUGIN_BIN.items():
        if not path.exists():
            unavailable(f"{name} is not installed at {path} (run scripts/setup.sh)")
    return MELTANO


@pytest.fixture
def meltano(meltano_installed: Path, tmp_path: Path) -> Meltano:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_"))}
    env.update(
        {
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "NO_COLOR": "1",
        }
    )
    return Meltano(meltano_installed, env)
