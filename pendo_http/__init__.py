"""What tap-pendo and target-pendo share about talking to Pendo.

Regions and hosts, authentication, the retry policy, error classification and
secret redaction live here once, so the two plugins cannot drift apart.
"""

from pendo_http.client import PendoClient, RetryPolicy
from pendo_http.errors import (
    PendoAuthError,
    PendoError,
    PendoFatalError,
    PendoQueryTooLarge,
    PendoRedirectError,
    PendoRetriableError,
    PendoTimeout,
    PendoTLSError,
    PendoUnreachableError,
)
from pendo_http.redaction import Redactor, install_log_redaction, url_secrets
from pendo_http.regions import REGIONS, resolve_api_base, resolve_track_url
from pendo_http.secret_format import secret_problems

__all__ = [
    "REGIONS",
    "PendoAuthError",
    "PendoClient",
    "PendoError",
    "PendoFatalError",
    "PendoQueryTooLarge",
    "PendoRedirectError",
    "PendoRetriableError",
    "PendoTLSError",
    "PendoTimeout",
    "PendoUnreachableError",
    "Redactor",
    "RetryPolicy",
    "install_log_redaction",
    "resolve_api_base",
    "resolve_track_url",
    "secret_problems",
    "url_secrets",
]
