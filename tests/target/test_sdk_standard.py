"""The singer-sdk standard target tests (a curated suite), against a real simulator.

Every test stream is written as visitor metadata (`"*"` stream entry) with `create: true`
and `ignore_unknown_fields: true`, because their columns are not Pendo fields.
"""

from __future__ import annotations

import atexit
import tempfile

from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.target_tests import (
    TargetArrayData,
    TargetCamelcaseComplexSchema,
    TargetCamelcaseTest,
    TargetCliPrintsTest,
    TargetDuplicateRecords,
    TargetEncodedStringData,
    TargetNoPrimaryKeys,
    TargetOptionalAttributes,
    TargetPrimaryKeyUpdates,
    TargetRecordMissingOptionalFields,
    TargetRecordMissingRequiredProperty,
    TargetSchemaUpdates,
    TargetSpecialCharsInAttributes,
)

from pendo_sim import DatasetConfig, Simulator
from target_pendo.target import TargetPendo

_SIM = Simulator(DatasetConfig(seed=7)).start()
atexit.register(_SIM.stop)
_DEAD = tempfile.NamedTemporaryFile(prefix="target-pendo-std-", suffix=".jsonl", delete=False).name

CONFIG = {
    "integration_key": _SIM.integration_key,
    "api_url": _SIM.url,
    "dead_letter_path": _DEAD,
    "retry_backoff_seconds": 0.01,
    "streams": {"*": {"object": "visitor", "create": True, "ignore_unknown_fields": True}},
}

curated = SingerTestSuite(
    kind="target",
    tests=[
        TargetArrayData,
        TargetCamelcaseComplexSchema,
        TargetCamelcaseTest,
        TargetCliPrintsTest,
        TargetDuplicateRecords,
        TargetEncodedStringData,
        TargetNoPrimaryKeys,
        TargetOptionalAttributes,
        TargetPrimaryKeyUpdates,
        TargetRecordMissingOptionalFields,
        TargetRecordMissingRequiredProperty,
        TargetSchemaUpdates,
        TargetSpecialCharsInAttributes,
        # Left out, with the reason:
        # - TargetInvalidSchemaTest, TargetRecordBeforeSchemaTest, TargetRecordMissingKeyProperty:
        #   they expect the run to raise; target-pendo dead-letters the bad line and goes on
        #   (exit status 1 at the end). Covered by test_metadata.py::test_counts_add_up_and_exit_status.
        # - TargetMultipleStateMessages: it expects one particular SDK draining cadence; this
        #   target emits a STATE as soon as every record before it is confirmed, and never twice.
        #   Covered by test_track_and_state.py::test_state_is_emitted_only_after_its_records_are_confirmed.
        # - TargetSchemaNoProperties: its streams have no id column at all, which a metadata
        #   stream cannot write (the target stops at the SCHEMA with a message saying so).
    ],
)

TestTargetPendoStandard = get_target_test_class(
    TargetPendo,
    config=CONFIG,
    include_target_tests=False,
    custom_suites=[curated],
)
