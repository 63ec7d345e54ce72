"""Keep secrets out of logs, error messages and files."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

from typing_extensions import override

MASK = "***"


def _forms(secret: str) -> set[str]:
    """A secret as written and as other texts quote it: inside a URL (percent-encoded, either
    case of hex), in a repr (what requests' InvalidHeader and tracebacks show), in JSON.
    """
    url_forms = {quote(secret, safe=""), quote_plus(secret), quote(secret)}
    url_forms |= {form.lower() for form in url_forms if "%" in form}
    quoted = {
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        repr(secret.encode("utf-8", "surrogatepass"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return {secret, *url_forms, *quoted} - {""}


def url_secrets(url: str | None) -> list[str]:
    """Credentials a configured URL carries: user info and query values."""
    if not url:
        return []
    parts = urlsplit(url)
    userinfo = [v for v in (parts.username, parts.password) if v]
    query = [pair.partition("=")[2] for pair in parts.query.split("&") if "=" in pair]
    return [*userinfo, *map(unquote, userinfo), *query, *map(unquote_plus, query)]


class Redactor:
    """Replaces every known secret value (also URL-encoded) in a text with a mask."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        self._added: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < 4 or secret in self._added:
            return
        self._added.add(secret)
        # A new list, not an in-place sort: another thread may be masking with the old one.
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(set(self._secrets) | _forms(secret), key=len, reverse=True)

    def __call__(self, text: object) -> str:
        # Usually a str; a log call's argument can be anything, hence object and the check.
        if not isinstance(text, str):
            text = _safe_str(text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def exception_chain(exc: BaseException | None) -> list[BaseException]:
    """`exc` and every exception it was raised from or while handling, each once."""
    chain: list[BaseException] = []
    while exc is not None and not any(exc is seen for seen in chain):
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__} whose str() fails>"


class _RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and in its exception chain. Never raises: a log
    call whose arguments do not match its format is logged as such.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact(record)
        except Exception:
            record.msg, record.args = "<log record dropped: it could not be redacted>", None
            record.exc_info, record.exc_text = None, None
        return True

    def _redact(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception as error:
            message = (
                f"<log call whose arguments do not match its format ({type(error).__name__}): "
                f"msg={_safe_str(record.msg)!r}, {len(record.args or ())} argument(s)>"
            )
            record.msg, record.args = message, None
        cleaned = self.redactor(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text and self.redactor(record.exc_text) != record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.exc_info and record.exc_info[1] is not None:
            chain = exception_chain(record.exc_info[1])
            texts = [f"{type(e).__name__}: {_safe_str(e)}" for e in chain]
            if any(self.redactor(text) != text for text in texts):
                # The traceback would print each text as is: keep the redacted texts only.
                record.exc_info = None
                record.exc_text = None
                shown = " <- ".join(self.redactor(text) for text in texts)
                record.msg, record.args = f"{cleaned} [{shown}]", None


def install_log_redaction(redactor: Redactor) -> None:
    """Attach the redactor to the root logger's handlers and to every logger's records.

    A filter on each handler catches records from any library (urllib3 debug lines
    carry URLs and headers), not only our own loggers.
    """
    log_filter = _RedactingFilter(redactor)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, _RedactingFilter) for f in handler.filters):
            handler.addFilter(log_filter)
    old_factory = logging.getLogRecordFactory()
    if getattr(old_factory, "_pendo_redacting", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = old_factory(*args, **kwargs)
        log_filter.filter(record)
        return record

    factory._pendo_redacting = True  # type: ignore[attr-defined]  # a marker on a function
    logging.setLogRecordFactory(factory)
