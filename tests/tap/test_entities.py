"""Entity streams against a real simulator over loopback."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator

import pytest

from pendo_sim import DatasetConfig, Fault, Simulator
from tests.helpers.tap import run_tap, sync_in_process, tap_config


def _truth(sim: Simulator, name: str) -> list[dict]:
    """Ground-truth rows of an entity list, every app: `sim.dataset.pages()` etc."""
    return list(getattr(sim.dataset, name)())


def _lastupdated(row: dict) -> int | None:
    return ((row.get("metadata") or {}).get("auto") or {}).get("lastupdated")


@pytest.fixture(scope="module")
def ties_sim() -> Iterator[Simulator]:
    """Many rows share each lastupdated; ids with quotes, backslashes, unicode."""
    with Simulator(
        DatasetConfig(
            seed=11, visitors=300, accounts=40, anonymous_visitors=25, lastupdated_tie_group=50
        )
    ) as simulator:
        yield simulator


# -- visitors and accounts --------------------------------------------------------------------


def test_visitors_keyset_paging_with_ties_and_awkward_ids(ties_sim: Simulator) -> None:
    config = {**tap_config(ties_sim, max_retries=5, request_timeout=10), "page_size": 7}
    run = sync_in_process(config, ["visitors"])
    ids = [r["visitorId"] for r in run.records["visitors"]]
    truth = {r["visitorId"] for r in ties_sim.dataset.visitors(identified_only=True)}
    duplicates = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert not duplicates
    assert set(ids) == truth
    assert len(ids) == len(truth)
    assert {'quote"visitor', "back\\slash\\visitor", "用户", 'both\\"mixed'} <= set(ids)
    for record in run.records["visitors"]:
        assert record["lastupdated"] == _lastupdated(record)
    # The keyset never rescans: every aggregation asks for at most page_size rows.
    aggregations = [e for e in ties_sim.request_log if "/aggregation" in e[1]]
    assert len(aggregations) <= len(truth) // 7 + 6


def test_accounts_full_and_incremental(ties_sim: Simulator) -> None:
    config = {**tap_config(ties_sim, max_retries=5, request_timeout=10), "page_size": 5}
    first = sync_in_process(config, ["accounts"])
    ids = [r["accountId"] for r in first.records["accounts"]]
    truth = {r["accountId"] for r in ties_sim.dataset.accounts()}
    assert len(ids) == len(set(ids)) == len(truth)
    assert set(ids) == truth
    assert 'Acme "Quoted" Corp' in ids

    changed = ['Acme "Quoted" Corp', "account-7"]
    ties_sim.dataset.touch_accounts(
        changed, now_ms=_max_lastupdated(first.records["accounts"]) + 60_000
    )
    second = sync_in_process(config, ["accounts"], state=first.state)
    assert sorted(r["accountId"] for r in second.records["accounts"]) == sorted(changed)


def _max_lastupdated(rows: list[dict]) -> int:
    return max(r["lastupdated"] for r in rows if r["lastupdated"] is not None)


def test_anonymous_visitors_excluded_by_default_and_included_on_request(sim: Simulator) -> None:
    config = tap_config(sim, max_retries=5, request_timeout=10)
    default = {r["visitorId"] for r in sync_in_process(config, ["visitors"]).records["visitors"]}
    assert not any(v.startswith("_PENDO_T_") for v in default)
    assert default == {r["visitorId"] for r in sim.dataset.visitors(identified_only=True)}

    everyone = sync_in_process(
        {**config, "include_anonymous_visitors": True}, ["visitors"]
    ).records["visitors"]
    ids = [r["visitorId"] for r in everyone]
    assert len(ids) == len(set(ids))
    assert set(ids) == {r["visitorId"] for r in sim.dataset.visitors(identified_only=False)}
    assert any(v.startswith("_PENDO_T_") for v in ids)


def test_second_run_emits_only_changes(sim: Simulator) -> None:
    config = {**tap_config(sim, max_retries=5, request_timeout=10), "page_size": 40}
    streams = ["visitors", "accounts", "pages"]
    first = sync_in_process(config, streams)
    nulls = [r for r in first.records["visitors"] if r["lastupdated"] is None]
    assert nulls, "the simulator has visitors without lastupdated: a full run emits them"

    later = (
        max(
            _max_lastupdated(first.records["visitors"]),
            max(p["lastUpdatedAt"] for p in first.records["pages"]),
        )
        + 60_000
    )
    visitor_ids = [r["visitorId"] for r in first.records["visitors"][:3]]
    account_ids = [r["accountId"] for r in first.records["accounts"][-2:]]
    page_ids = [p["id"] for p in first.records["pages"][:2]]
    sim.dataset.touch_visitors(visitor_ids, now_ms=later)
    sim.dataset.touch_accounts(account_ids, now_ms=later)
    sim.dataset.touch_pages(page_ids, now_ms=later)

    second = sync_in_process(config, streams, state=first.state)
    assert sorted(r["visitorId"] for r in second.records["visitors"]) == sorted(visitor_ids)
    assert sorted(r["accountId"] for r in second.records["accounts"]) == sorted(account_ids)
    assert sorted(r["id"] for r in second.records["pages"]) == sorted(page_ids)

    third = sync_in_process(config, streams, state=second.state)
    assert not any(third.records.values()), (
        "nothing changed: nothing re-emitted (not even null rows)"
    )


def test_rows_without_lastupdated_on_first_run_with_start_date(sim: Simulator) -> None:
    """start_date limits rows that have a lastupdated; rows without one are emitted on a run
    without a bookmark (whatever start_date says) and never on an incremental run."""
    truth = {r["visitorId"]: _lastupdated(r) for r in sim.dataset.visitors(identified_only=True)}
    account_truth = {r["accountId"]: _lastupdated(r) for r in sim.dataset.accounts()}
    nulls = {v for v, lu in truth.items() if lu is None}
    account_nulls = {a for a, lu in account_truth.items() if lu is None}
    assert nulls, "the simulator has visitors without lastupdated"
    known = sorted(lu for lu in truth.values() if lu is not None)
    cut = known[len(known) // 2]
    start_date = dt.datetime.fromtimestamp(cut / 1000, tz=dt.timezone.utc).isoformat()
    config = {
        **tap_config(sim, max_retries=5, request_timeout=10),
        "start_date": start_date,
        "page_size": 40,
    }

    first = sync_in_process(config, ["visitors", "accounts"])
    ids = [r["visitorId"] for r in first.records["visitors"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == nulls | {v for v, lu in truth.items() if lu is not None and lu >= cut}
    assert set(ids) != set(truth), "start_date excluded older visitors"
    accounts = {r["accountId"] for r in first.records["accounts"]}
    assert accounts == account_nulls | {
        a for a, lu in account_truth.items() if lu is not None and lu >= cut
    }

    second = sync_in_process(config, ["visitors", "accounts"], state=first.state)
    assert not any(second.records.values()), "nothing changed: null rows are not re-emitted"


def test_dropped_connection_mid_body_resumes_without_duplicates(sim: Simulator) -> None:
    config = {**tap_config(sim, max_retries=5, request_timeout=10), "page_size": 1000}
    sim.faults.add(Fault(path="/api/v1/aggregation", kind="drop", after_bytes=20_000, times=2))
    run = sync_in_process(config, ["visitors"])
    ids = [r["visitorId"] for r in run.records["visitors"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {r["visitorId"] for r in sim.dataset.visitors(identified_only=True)}
    aggregations = [e for e in sim.request_log if "/aggregation" in e[1]]
    assert len(aggregations) >= 3  # the broken bodies were re-requested from the last key


def test_server_error_is_retried(sim: Simulator) -> None:
    sim.faults.add(Fault(path="/api/v1/page", kind="status", status=503, times=2))
    run = sync_in_process(tap_config(sim, max_retries=5, request_timeout=10), ["pages"])
    assert len(run.records["pages"]) == len(_truth(sim, "pages"))


# -- GET lists, reports, metadata ---------------------------------------------------------------


def test_get_lists_cover_every_app_untruncated(sim: Simulator) -> None:
    run = sync_in_process(
        tap_config(sim, max_retries=5, request_timeout=10),
        ["pages", "features", "guides", "track_types", "reports"],
    )
    truth = {
        "pages": _truth(sim, "pages"),
        "features": _truth(sim, "features"),
        "guides": _truth(sim, "guides"),
        "track_types": _truth(sim, "track_types"),
        "reports": _truth(sim, "reports"),
    }
    for name, rows in truth.items():
        got = [r["id"] for r in run.records[name]]
        assert len(got) == len(set(got)), name
        assert set(got) == {r["id"] for r in rows}, name
    assert len({r["appId"] for r in run.records["pages"]}) > 1


def test_app_ids_filter(sim: Simulator) -> None:
    app = _truth(sim, "pages")[0]["appId"]
    run = sync_in_process(
        {**tap_config(sim, max_retries=5, request_timeout=10), "app_ids": [str(app)]},
        ["pages", "features", "accounts"],
    )
    assert run.records["pages"]
    assert {r["appId"] for r in run.records["pages"]} == {app}
    assert {r["appId"] for r in run.records["features"]} <= {app}
    assert {r["id"] for r in run.records["pages"]} == {
        p["id"] for p in _truth(sim, "pages") if p["appId"] == app
    }


def test_metadata_fields_and_typed_catalog(sim: Simulator) -> None:
    config = tap_config(sim, max_retries=5, request_timeout=10)
    run = sync_in_process(config, ["metadata_fields"])
    rows = run.records["metadata_fields"]
    keys = [(r["kind"], r["group"], r["field"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert {"visitor", "account"} <= {r["kind"] for r in rows}
    assert all("Type" in r for r in rows)

    from tap_pendo.tap import TapPendo

    catalog = TapPendo(config=config).catalog_dict
    by_name = {entry["stream"]: entry["schema"] for entry in catalog["streams"]}
    visitor_md = by_name["visitors"]["properties"]["metadata"]["properties"]
    account_md = by_name["accounts"]["properties"]["metadata"]["properties"]
    expected = {
        "string": "string",
        "time": "integer",
        "boolean": "boolean",
        "integer": "integer",
        "float": "number",
    }
    # Typed from the simulator's own schemas (what Pendo says), not from the tap's rows.
    checked = 0
    for kind, md in (("visitor", visitor_md), ("account", account_md)):
        for group, fields in sim.dataset.schemas[kind].items():
            for name, descriptor in fields.items():
                if descriptor.get("Type") not in expected:
                    continue
                declared = md[group]["properties"][name]["type"][0]
                assert declared == expected[descriptor["Type"]], (kind, group, name)
                checked += 1
    assert checked > 5
    assert by_name["visitors"]["properties"]["lastupdated"]["type"] == ["integer", "null"]


# -- failing clearly ----------------------------------------------------------------------------


def test_wrong_key_fails_fast_with_clear_message(sim: Simulator, tmp_path) -> None:
    secret = "wrong-key-Zq8x7-do-not-print"
    config = {**tap_config(sim, max_retries=5, request_timeout=10), "integration_key": secret}
    result = run_tap(tmp_path, config, timeout=60)
    # Fast = no retry loop: no request went to Pendo twice (counted, not timed).
    requests = [path for _, path, _ in sim.request_log]
    assert requests and len(requests) == len(set(requests)), requests
    assert result.rc != 0
    output = result.stdout + result.stderr
    assert "integration_key" in output
    assert "region" in output
    assert secret not in output
    assert "Traceback" not in output


def test_deselected_property_is_removed(sim: Simulator) -> None:
    """The lean record path still honours a catalog that deselects a property."""
    from tap_pendo.tap import TapPendo

    config = tap_config(sim, max_retries=5, request_timeout=10)
    catalog = TapPendo(config=config).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["stream"] == "visitors"
            elif entry["stream"] == "visitors" and item["breadcrumb"] == ["properties", "metadata"]:
                item["metadata"]["selected"] = False
    run = sync_in_process(config, ["visitors"], catalog=catalog)
    assert run.records["visitors"]
    assert all("metadata" not in r and "visitorId" in r for r in run.records["visitors"])


def test_no_parent_accounts_discovers_and_syncs() -> None:
    """A subscription without parent accounts answers 404 for its schema: not an error."""
    with Simulator(
        DatasetConfig(seed=5, visitors=40, accounts=10, anonymous_visitors=0, parent_accounts=False)
    ) as simulator:
        run = sync_in_process(
            tap_config(simulator, max_retries=5, request_timeout=10), ["metadata_fields"]
        )
        kinds = {r["kind"] for r in run.records["metadata_fields"]}
        assert "visitor" in kinds and "account" in kinds
        assert "parentAccount" not in kinds


def test_legacy_key_setting_name(sim: Simulator) -> None:
    config = tap_config(sim, max_retries=5, request_timeout=10)
    config["x_pendo_integration_key"] = config.pop("integration_key")
    run = sync_in_process(config, ["reports"])
    assert len(run.records["reports"]) == len(_truth(sim, "reports"))


def test_persistent_server_error_ends_with_one_clear_line(sim: Simulator) -> None:
    sim.faults.add(Fault(path="/api/v1/aggregation", kind="status", status=500, times=50))
    config = {**tap_config(sim, max_retries=5, request_timeout=10), "max_retries": 2}
    with pytest.raises(SystemExit) as exit_info:
        sync_in_process(config, ["visitors"])
    message = str(exit_info.value.code)
    assert message.startswith("tap-pendo: visitors: Pendo answered HTTP 500")
    assert "\n" not in message
    assert sim.integration_key not in message
