"""Every private singer-sdk name the plugins rely on, with the shape they rely on.

singer-sdk has no public hook for these (each use says why where it is made), so an SDK
release may rename or reshape them without notice. `@override` catches a renamed method at
type-check time; this module catches the rest (attributes, helpers, signatures) at test time,
before a silent change drops our behaviour. It is also why `pyproject.toml` pins the SDK to one
minor version. When this fails after an SDK upgrade: read the SDK's new code for the name,
adapt our use, then update the expectation here.
"""

from __future__ import annotations

import inspect
import typing as t

import pytest
from singer_sdk import Sink, Stream, Tap, Target
from singer_sdk import typing as th
from singer_sdk.helpers import _typing as sdk_typing
from singer_sdk.plugin_base import PluginBase
from singer_sdk.sinks import BatchSink

# (owner, name, the parameters after `self`, as "name" or "*name" for keyword-only)
METHODS: list[tuple[type, str, list[str]]] = [
    # tap_pendo/tap.py: legacy config values are normalised just before validation;
    # target_pendo/target.py: secrets and unknown settings are checked before it.
    (PluginBase, "_validate_config", ["*raise_errors"]),
    # tap_pendo/client.py: the per-record fast path.
    (Stream, "_generate_record_messages", ["record"]),
    # tap_pendo: bookmarks moved at window / visitor boundaries, not per record.
    (Stream, "_increment_stream_state", ["latest_record", "*context"]),
    # tap_pendo/client.py PendoStream.write_checkpoint: STATE at a page boundary.
    (Stream, "_write_state_message", []),
    # target_pendo/target.py: STATE gating.
    (Target, "_process_record_message", ["message_dict"]),
    (Target, "_process_state_message", ["message_dict"]),
    (Target, "_write_state_message", ["state"]),
    # target_pendo/sinks.py: per-record work skipped when it cannot change anything.
    (Sink, "_parse_timestamps_in_record", ["record", "schema", "treatment"]),
    (Sink, "_remove_sdc_metadata_from_record", ["record"]),
    (Sink, "_remove_sdc_metadata_from_schema", []),
]


def _parameters(function: t.Callable[..., t.Any]) -> list[str]:
    names = []
    for parameter in list(inspect.signature(function).parameters.values())[1:]:
        keyword_only = parameter.kind is inspect.Parameter.KEYWORD_ONLY
        names.append(("*" if keyword_only else "") + parameter.name)
    return names


@pytest.mark.parametrize(
    ("owner", "name", "expected"), METHODS, ids=[f"{o.__name__}.{n}" for o, n, _ in METHODS]
)
def test_private_method_exists_with_our_signature(
    owner: type, name: str, expected: list[str]
) -> None:
    method = getattr(owner, name, None)
    assert method is not None, f"singer-sdk no longer has {owner.__name__}.{name}"
    assert _parameters(method) == expected


def test_private_helpers_exist_with_our_signature() -> None:
    # target_pendo/sinks.py: which schema properties are dates, as the SDK decides it.
    assert list(inspect.signature(sdk_typing.get_datelike_property_type).parameters) == [
        "property_schema"
    ]
    assert sdk_typing.get_datelike_property_type({"type": "string", "format": "date-time"}) == (
        "date-time"
    )
    # tap_pendo/tap.py and target_pendo/target.py annotate `config` with it.
    from singer_sdk.plugin_base import _ConfigInput

    assert _ConfigInput is not None


class _Stream(Stream):
    name = "s"
    schema = th.PropertiesList(th.Property("id", th.StringType)).to_dict()

    def get_records(self, context: t.Any) -> t.Iterable[dict]:
        return []


class _Tap(Tap):
    name = "tap-private-names"
    config_jsonschema = th.PropertiesList().to_dict()

    def discover_streams(self) -> list[Stream]:
        return [_Stream(self)]


class _Sink(BatchSink):
    def process_batch(self, context: dict) -> None:
        pass


class _Target(Target):
    name = "target-private-names"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = _Sink


def test_private_stream_and_tap_attributes() -> None:
    tap = _Tap(config={}, validate_config=False)
    stream = tap.streams["s"]
    # PendoStream reaches the tap's one client through `_tap`, and stamps `_stream_version`.
    assert stream._tap is tap
    assert "_stream_version" in vars(stream)
    # TapPendo rewrites legacy values in `_config` before validating it.
    assert isinstance(tap._config, dict)


def test_private_target_attributes() -> None:
    target = _Target(config={}, validate_config=False)
    # TargetPendo gates STATE on `_latest_state` and drains every sink it holds.
    assert target._latest_state is None
    assert target._sinks_active == {}
    assert target._sinks_to_clear == []
    assert isinstance(target._config, dict)
