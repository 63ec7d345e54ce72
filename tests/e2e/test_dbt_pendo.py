"""tap-pendo -> target-postgres -> transform/ (dbt) yields the 17 relations dbt_pendo reads."""

from __future__ import annotations

import collections
import datetime as dt
from typing import Any

import pytest

from tests.helpers.e2e import REPO, Meltano, Postgres, postgres_env, tap_env, unavailable

from .dbt_pendo_columns import DBT_PENDO_COLUMNS

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# PostgreSQL types that hold each dbt type dbt_pendo casts to.
ACCEPTED = {
    "string": {"text", "character varying"},
    "timestamp": {"timestamp without time zone"},
    "int": {"integer", "bigint", "smallint"},
    "float": {"double precision", "real", "numeric"},
    "boolean": {"boolean"},
}
# Columns dbt_pendo's staging tests require unique and not null (models/staging/stg_pendo.yml:
# the event keys are surrogate keys over these rows, `_fivetran_id` included) or not null.
UNIQUE = {
    "event": ["_fivetran_id"],
    "page_event": ["_fivetran_id"],
    "feature_event": ["_fivetran_id"],
    "guide_event": ["_fivetran_id"],
    "poll_event": ["_fivetran_id"],
    "group": ["id"],
    "user": ["id"],
    "poll": ["id"],
    "account_history": ["id"],
    "visitor_history": ["id"],
    "page_history": ["id"],
    "feature_history": ["id"],
    "guide_history": ["id"],
    "application_history": ["id"],
    "guide_step_history": ["guide_id", "guide_last_updated_at", "step_id"],
}
# Every stream but visitor_history (one request per visitor per day, covered elsewhere).
SELECT = '["*.*", "!visitor_history.*"]'


def utc(ms: int | None) -> dt.datetime | None:
    return None if not ms else dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)


DBT_BIN = REPO / ".meltano" / "utilities" / "dbt-postgres" / "venv" / "bin" / "dbt"


@pytest.fixture
def dbt_schema(pg: Postgres) -> Any:
    if not DBT_BIN.exists():
        unavailable(f"dbt-postgres is not installed at {DBT_BIN} (run scripts/setup.sh)")
    schema = f"{pg.schema}_fivetran"
    yield schema
    pg.query(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_meltano_run_then_dbt_gives_dbt_pendo_sources(
    sim: Any,
    pg: Postgres,
    meltano: Meltano,
    dbt_schema: str,
) -> None:
    meltano.env.update(
        {
            **tap_env(sim, TAP_PENDO__SELECT=SELECT),
            **postgres_env(pg),
            "TARGET_POSTGRES_ADD_RECORD_METADATA": "true",
            "DBT_POSTGRES_HOST": pg.host,
            "DBT_POSTGRES_PORT": str(pg.port),
            "DBT_POSTGRES_USER": pg.env["PGUSER"],
            "DBT_POSTGRES_PASSWORD": pg.env["PGPASSWORD"],
            "DBT_POSTGRES_DBNAME": pg.env["PGDATABASE"],
            "DBT_POSTGRES_SCHEMA": dbt_schema,
            "DBT_POSTGRES_SOURCE_SCHEMA": pg.schema,
        }
    )
    meltano("run", "tap-pendo", "target-postgres", "dbt-postgres:run")
    tested = meltano("invoke", "dbt-postgres:test")
    assert "PASS=28 " in tested.stdout + tested.stderr

    out = Postgres(pg.env, dbt_schema)
    assert out.tables() == set(DBT_PENDO_COLUMNS)
    for relation, columns in DBT_PENDO_COLUMNS.items():
        types = out.column_types(relation)
        for name, kind in columns.items():
            assert name in types, f"{relation}.{name} missing"
            assert types[name] in ACCEPTED[kind], f"{relation}.{name}: {types[name]} for {kind}"
        assert out.count(relation) > 0, relation

    for relation, key in UNIQUE.items():
        quoted = ", ".join(f'"{c}"' for c in key)
        nulls = " or ".join(f'"{c}" is null' for c in key)
        ((total, distinct, null_rows),) = out.query(
            f"select count(*), count(distinct ({quoted})), count(*) filter (where {nulls})"
            f' from "{dbt_schema}"."{relation}"'
        )
        assert null_rows == 0, f"{relation}: null {key}"
        assert distinct == total, f"{relation}: duplicate {key}"

    check_latest_visitors(sim, out, dbt_schema)
    check_visitors_per_account(sim, out, dbt_schema)
    check_nps_answers_per_poll(sim, out, dbt_schema)
    check_app_names_on_pages(sim, out, dbt_schema)

    # An incremental run: changed visitors get a new version in visitor_account_history, and
    # visitor_history still shows the latest visitor per id.
    changed = ["visitor-20", 'quote"visitor']
    sim.dataset.touch_visitors(changed, now_ms=sim.dataset.now_ms + 60_000)
    meltano("run", "tap-pendo", "target-postgres", "dbt-postgres:run")
    check_latest_visitors(sim, out, dbt_schema)
    versions = out.query(
        'select "visitor_id", count(distinct "visitor_last_updated_at")'
        f' from "{dbt_schema}"."visitor_account_history" group by 1 having count(*) > 1'
    )
    assert sorted(versions) == sorted((v, 2) for v in changed)


def check_latest_visitors(sim: Any, out: Postgres, schema: str) -> None:
    rows = out.query(
        'select "id", "account_id", "last_updated_at", "first_visit", "n_id"'
        f' from "{schema}"."visitor_history"'
    )
    got = {r[0]: r[1:] for r in rows}
    truth = {}
    for visitor in sim.dataset.visitors(identified_only=True):
        auto = visitor["metadata"]["auto"]
        truth[visitor["visitorId"]] = (
            auto.get("accountid"),
            utc(auto.get("lastupdated")),
            utc(auto.get("firstvisit")),
            str(auto["nid"]),
        )
    assert got == truth
    assert 'quote"visitor' in got


def check_visitors_per_account(sim: Any, out: Postgres, schema: str) -> None:
    rows = out.query(
        'select "account_id", count(distinct "visitor_id")'
        f' from "{schema}"."visitor_account_history" group by 1'
    )
    truth: collections.Counter = collections.Counter()
    for visitor in sim.dataset.visitors(identified_only=True):
        for account in set(visitor["metadata"]["auto"]["accountids"]):
            if account:
                truth[account] += 1
    assert dict(rows) == dict(truth)


def check_nps_answers_per_poll(sim: Any, out: Postgres, schema: str) -> None:
    rows = out.query(
        'select e."poll_id", e."visitor_id", e."timestamp", e."poll_response"'
        f' from "{schema}"."poll_event" e join "{schema}"."poll" p on p."id" = e."poll_id"'
        " where p.\"attribute_type\" = 'NPSRating'"
    )
    got = collections.defaultdict(set)
    for poll, visitor, moment, answer in rows:
        got[poll].add((visitor, moment, answer))
    nps = {
        p["id"]
        for g in sim.dataset.guides()
        for p in g["polls"] or []
        if (p.get("attributes") or {}).get("type") == "NPSRating"
    }
    truth = collections.defaultdict(set)
    start, end = sim.dataset.event_range()
    for event in sim.dataset.event_rows("pollEvents", start, end):
        if event["pollId"] in nps:
            answer = event["pollResponse"]
            truth[event["pollId"]].add((event["visitorId"], utc(event["browserTime"]), str(answer)))
    assert truth, "the simulator has NPS answers"
    assert dict(got) == dict(truth)


def check_app_names_on_pages(sim: Any, out: Postgres, schema: str) -> None:
    rows = out.query(
        f'select p."id", a."name" from "{schema}"."page_history" p'
        f' left join "{schema}"."application_history" a on a."id" = p."app_id"'
    )
    names = {a["id"]: a["name"] for a in sim.dataset.applications()}
    truth = {p["id"]: names[p["appId"]] for p in sim.dataset.pages()}
    assert dict(rows) == truth
    assert len(set(truth.values())) > 1
