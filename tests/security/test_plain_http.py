"""`http://` in `api_url`/`track_url` draws a warning unless the host is loopback."""

from __future__ import annotations

import pytest

from pendo_http.url_check import plain_http_warning
from tap_pendo.tap import TapPendo
from target_pendo.target import TargetPendo


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://app.pendo.io", True),
        ("HTTP://proxy.internal:8080/pendo", True),
        ("http://10.0.0.5", True),
        ("https://app.pendo.io", False),
        ("http://127.0.0.1:8080", False),
        ("http://localhost:9000", False),
        ("http://[::1]:9000", False),
        (None, False),
    ],
)
def test_plain_http_warning(url: str | None, warned: bool) -> None:
    warning = plain_http_warning("api_url", url)
    assert (warning is not None) == warned
    if warning:
        assert "`api_url` uses http://" in warning


def test_both_plugins_warn_at_config_time(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
    # The warning comes while the config is validated, before any request (no discovery here:
    # setup_mapper=False, so the tap never tries to reach the host).
    TapPendo(
        config={
            "integration_key": "key-abcdef",
            "api_url": "http://pendo.example.test",
            "max_retries": 1,
        },
        validate_config=True,
        setup_mapper=False,
    )
    TargetPendo(
        config={
            "integration_key": "key-abcdef",
            "api_url": "https://app.pendo.io",
            "track_url": "http://track.example.test/data/track",
        },
        validate_config=True,
    )
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("`api_url` uses http:// to pendo.example.test" in m for m in messages)
    assert any("`track_url` uses http:// to track.example.test" in m for m in messages)
