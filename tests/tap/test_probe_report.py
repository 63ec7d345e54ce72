"""pendo_http.probe: the shared connection-check report (shapes, rendering, masking)."""

from __future__ import annotations

from pendo_http.probe import ProbeReport, shape_of
from pendo_http.redaction import Redactor


def test_shape_of_describes_structure_not_values() -> None:
    assert (
        shape_of({"valid": True, "writeAccess": False}) == "object{valid: bool, writeAccess: bool}"
    )
    assert shape_of([{"id": "p1", "name": "secret page"}]) == "array[1] of object{id, name}"
    assert shape_of([]) == "array[0]"
    assert shape_of(None) == "empty body"
    wide = {f"k{i}": i for i in range(10)}
    assert shape_of(wide).endswith(", +2 more}")


def test_render_masks_secrets_and_counts_failures() -> None:
    report = ProbeReport("check", redact=Redactor(["sekrit-key-123"]))
    report.info("API", "https://user:sekrit-key-123@example.test")
    report.add("GET /api/v1/token/verify", 200, "object{valid: bool}")
    report.add("GET /api/v1/page", 500, failed=True, surprise="Pendo said sekrit-key-123")
    text = report.render()
    assert "sekrit-key-123" not in text
    assert "FAIL GET /api/v1/page" in text
    assert "surprise: Pendo said ***" in text
    assert text.rstrip().endswith("2 calls, 1 failed, 0 surprises: connection check FAILED")
    assert not report.ok
