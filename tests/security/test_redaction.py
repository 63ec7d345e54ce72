"""The redactor masks every form a secret is quoted in, walks chained exceptions and never
raises into a caller; the client wraps every requests error in its own, redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from pendo_http import PendoClient, PendoFatalError, Redactor, RetryPolicy, install_log_redaction
from pendo_sim import Simulator

SECRET = "sk-9Tq2 Lm/x+y=z&é\n"


def all_forms(secret: str) -> list[str]:
    return [
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        quote_plus(secret),
        repr(secret.encode())[2:-1],
    ]


@pytest.mark.parametrize("form", all_forms(SECRET))
def test_every_quoted_form_is_masked(form: str) -> None:
    text = f"before {form} after"
    assert Redactor([SECRET])(text) == "before *** after"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    install_log_redaction(Redactor([SECRET]))
    logger = logging.getLogger("tests.security.redaction")
    logger.propagate = True
    try:
        yield logger, stream
    finally:
        root.removeHandler(handler)


def test_chained_exceptions_are_redacted(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        try:
            raise KeyError(SECRET)
        except KeyError as inner:
            raise ValueError("wrapper without the secret") from inner
    except ValueError:
        logger.exception("it failed")
    output = stream.getvalue()
    assert "it failed" in output and "wrapper without the secret" in output
    assert "***" in output
    assert not any(form in output for form in all_forms(SECRET))


def test_a_log_call_with_bad_arguments_is_logged_not_raised(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logging.getLogger("some.library").warning("%s and %s", "only one")  # must not raise
    logger.warning("%d", "not a number")
    output = stream.getvalue()
    assert output.count("arguments do not match its format") == 2


def test_requests_errors_become_redacted_pendo_errors(sim: Simulator) -> None:
    client = PendoClient(base_url=sim.url, integration_key=SECRET, retry=RetryPolicy(max_tries=1))
    with pytest.raises(PendoFatalError) as caught:
        client.get_json("/api/v1/token/verify", what="key check")
    text = str(caught.value)
    assert "InvalidHeader" in text or "Error" in text
    assert not any(form in text for form in all_forms(SECRET))
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
