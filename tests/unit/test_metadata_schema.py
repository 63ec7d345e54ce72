"""pendo_http.metadata_schema: the one read of Pendo's metadata schema both plugins use, against
the simulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pendo_http import PendoAuthError, PendoClient, PendoFatalError, RetryPolicy
from pendo_http.metadata_schema import STOPPING_ERRORS, read_metadata_schema
from pendo_sim import DatasetConfig, Fault, Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(DatasetConfig(seed=3, visitors=20, accounts=5, event_rows_per_day=0)) as s:
        yield s


def _client(sim: Simulator, key: str | None = None) -> PendoClient:
    return PendoClient(
        base_url=sim.url,
        integration_key=key or sim.integration_key,
        retry=RetryPolicy(max_tries=1),
    )


def test_field_types_of_a_group_leave_deleted_fields_out(sim: Simulator) -> None:
    custom = sim.dataset.schemas["visitor"]["custom"]
    name, descriptor = next(iter(custom.items()))
    custom["gone_field"] = {**descriptor, "Type": "string", "isDeleted": True}
    custom["untyped_field"] = {**descriptor, "Type": ""}
    schema = read_metadata_schema(_client(sim), "visitor")
    assert schema is not None
    types = schema.field_types("custom")
    assert types[name] == descriptor["Type"]
    assert types["untyped_field"] == ""
    assert "gone_field" not in types
    assert "gone_field" in schema.raw["custom"]  # the tap still lists it as Pendo sent it
    assert schema.field_types("no_such_group") == {}


@pytest.mark.parametrize("status", [403, 404])
def test_a_missing_parent_account_schema_is_none(sim: Simulator, status: int) -> None:
    sim.set_options(parent_account_schema_status=status)
    assert read_metadata_schema(_client(sim), "parentAccount") is None


def test_a_missing_visitor_schema_is_an_error(sim: Simulator) -> None:
    sim.faults.add(Fault(path=r"^/api/v1/metadata/schema/visitor$", status=404, times=None))
    with pytest.raises(PendoFatalError) as raised:
        read_metadata_schema(_client(sim), "visitor")
    assert raised.value.status == 404
    assert not isinstance(raised.value, STOPPING_ERRORS)


def test_a_refused_key_is_a_stopping_error(sim: Simulator) -> None:
    with pytest.raises(PendoAuthError) as raised:
        read_metadata_schema(_client(sim, key="wrong-key-0000"), "visitor")
    assert isinstance(raised.value, STOPPING_ERRORS)
    assert "wrong-key-0000" not in str(raised.value)


def test_an_answer_that_is_not_an_object_of_groups_is_none(sim: Simulator) -> None:
    sim.faults.add(
        Fault(
            path=r"^/api/v1/metadata/schema/account$",
            kind="invalid_json",
            body="[1, 2]",
            times=None,
        )
    )
    assert read_metadata_schema(_client(sim), "account") is None
