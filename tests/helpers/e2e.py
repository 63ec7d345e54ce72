"""Plain helpers for the end-to-end tests (`tests/e2e`); the fixtures are in its conftest.py.

Paths and settings (`REPO`, the `MELTANO` executable, the Meltano-installed `PLUGIN_BIN`s, the
PostgreSQL variables `PG_KEYS` and `read_pg_env()` which also reads .ci/pg.env, the simulator's
`SIM_TRACK_SECRET`, the tap's `TAP_START_DATE`/`TAP_END_DATE` window), `unavailable(reason)`
(skip locally, fail under CI), `tail(text)`, the `Postgres` schema handle, the `Meltano` runner,
the environment builders `tap_env(sim)` and `postgres_env(pg)`, and `write_json(path, data)`.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = bool(os.environ.get("CI"))
MELTANO = Path(os.environ.get("MELTANO_BIN") or REPO / ".venv-meltano" / "bin" / "meltano")
PLUGIN_BIN = {
    "target-postgres": REPO
    / ".meltano"
    / "loaders"
    / "target-postgres"
    / "venv"
    / "bin"
    / "target-postgres",
    "tap-jsonl": REPO / ".meltano" / "extractors" / "tap-jsonl" / "venv" / "bin" / "tap-jsonl",
}
PG_ENV_FILE = REPO / ".ci" / "pg.env"
PG_KEYS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
# The simulator's default track event secret (pendo_sim's documented default).
SIM_TRACK_SECRET = "track-secret-123"
# The simulator's objects were last updated from early February 2026 on, its events fall on
# three days from 2026-03-06: this window holds all of them and keeps event paging short.
TAP_START_DATE = "2026-01-01T00:00:00Z"
TAP_END_DATE = "2026-03-12T00:00:00Z"


def unavailable(reason: str) -> None:
    """Skip locally; fail under CI, where everything must be there."""
    if IN_CI:
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


# -- PostgreSQL ---------------------------------------------------------------------------------


@dataclass
class Postgres:
    env: dict[str, str]
    schema: str

    @property
    def host(self) -> str:
        return self.env["PGHOST"]

    @property
    def port(self) -> int:
        return int(self.env["PGPORT"])

    def connect(self):
        import psycopg2

        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.env["PGUSER"],
            password=self.env["PGPASSWORD"],
            dbname=self.env["PGDATABASE"],
            connect_timeout=5,
        )
        conn.autocommit = True
        return conn

    def query(self, sql: str, params: tuple | None = None) -> list[tuple]:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def tables(self) -> set[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (self.schema,),
        )
        return {r[0] for r in rows}

    def count(self, table: str, distinct: str | None = None) -> int:
        what = f'DISTINCT "{distinct}"' if distinct else "*"
        return self.query(f'SELECT count({what}) FROM "{self.schema}"."{table}"')[0][0]

    def column_types(self, table: str) -> dict[str, str]:
        rows = self.query(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            (self.schema, table),
        )
        return dict(rows)

    def target_config(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.env["PGUSER"],
            "password": self.env["PGPASSWORD"],
            "database": self.env["PGDATABASE"],
            "default_target_schema": self.schema,
            "load_method": "upsert",
        }


def read_pg_env() -> dict[str, str]:
    """The PG* settings from the environment, the missing ones from .ci/pg.env if it exists."""
    env = {k: os.environ[k] for k in PG_KEYS if os.environ.get(k)}
    if len(env) < len(PG_KEYS) and PG_ENV_FILE.exists():
        for line in PG_ENV_FILE.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line[len("export ") :].partition("=")
                if key in PG_KEYS:
                    env.setdefault(key, shlex.split(value)[0] if value else "")
    return env


# -- Meltano ------------------------------------------------------------------------------------


@dataclass
class Meltano:
    """Runs `meltano` in the repository with a private system database (state) per test."""

    bin: Path
    env: dict[str, str]

    def __call__(
        self, *args: str, timeout: float = 900, check: bool = True
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(self.bin), "--log-level=info", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"meltano {' '.join(args)} exited {proc.returncode}:\n"
                f"{tail(proc.stdout, 20)}\n{tail(proc.stderr)}",
                pytrace=False,
            )
        return proc


def tap_env(sim: Any, **extra: str) -> dict[str, str]:
    """Meltano environment variables pointing tap-pendo at the simulator."""
    return {
        "TAP_PENDO_API_URL": sim.url,
        "TAP_PENDO_INTEGRATION_KEY": sim.integration_key,
        "TAP_PENDO_START_DATE": TAP_START_DATE,
        "TAP_PENDO_END_DATE": TAP_END_DATE,
        "TAP_PENDO_MAX_RETRIES": "5",
        # No number-valued settings here: Meltano 4.4.1 turns an env value of a `decimal`
        # setting into a Decimal and then fails to JSON-encode the config.
        **extra,
    }


def postgres_env(pg: Postgres) -> dict[str, str]:
    """Meltano environment variables pointing target-postgres at the test schema."""
    config = pg.target_config()
    return {f"TARGET_POSTGRES_{k.upper()}": str(v) for k, v in config.items()}


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path
