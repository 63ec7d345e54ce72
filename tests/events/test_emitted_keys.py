"""EmittedKeys: the rows of a window emitted before a broken body are recognised on the re-read."""

from __future__ import annotations

from tap_pendo.events.emitted import EmittedKeys
from tap_pendo.events.row_key import RowKey

KEY = RowKey(("visitorId", "day"))


def test_keys_emitted_before_a_reread_are_recognised() -> None:
    first = [KEY({"visitorId": f"v{i}", "day": 1}) for i in range(1000)]
    later = [KEY({"visitorId": f"w{i}", "day": 1}) for i in range(10)]
    keys = EmittedKeys()
    for key in first:
        keys.add(key)
    assert first[0] not in keys, "nothing is skipped before a re-read starts"
    keys.start_reread()
    assert all(key in keys for key in first)
    assert not any(key in keys for key in later)
    for key in later:
        keys.add(key)
    assert len(keys) == 1010
    keys.start_reread()  # a second break: the rows of the first re-read are skipped too
    assert all(key in keys for key in first + later)
