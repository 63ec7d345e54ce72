"""Dataset configuration and simulator behaviour options."""

from __future__ import annotations

from dataclasses import dataclass, field

from .timeutil import SubscriptionClock

DEFAULT_APP_ID = -323232


@dataclass
class DatasetConfig:
    seed: int = 7
    visitors: int = 300  # identified visitors
    accounts: int = 40
    anonymous_visitors: int = 20
    apps: int = 2
    pages: int = 30
    features: int = 40
    guides: int = 10
    track_types: int = 8
    reports: int = 3
    event_days: int = 3
    event_rows_per_day: int = 500  # atoms per day for each of pageEvents/featureEvents/trackEvents
    guide_events_per_day: int = 200
    poll_events_per_day: int = 50
    start_ms: int | None = None  # first event day; default 2026-03-06 local midnight in `timezone`
    timezone: str = "America/New_York"
    lastupdated_tie_group: int = 50
    parent_accounts: bool = True

    @property
    def first_day_ms(self) -> int:
        """`start_ms` as resolved by `__post_init__` (never None once constructed)."""
        assert self.start_ms is not None
        return self.start_ms

    def __post_init__(self) -> None:
        clock = SubscriptionClock(self.timezone)
        if self.start_ms is None:
            self.start_ms = clock.date_ms(2026, 3, 6)
        else:
            self.start_ms = clock.day_floor(int(self.start_ms))


@dataclass
class SimOptions:
    """Behaviours the research marks uncertain ([I]); all configurable."""

    track_accepts_integration_key_silently: bool = False  # True: 200 + drop instead of 403
    coerce_wrong_types: bool = False  # metadata writes: coerce instead of an `errors` entry
    rate_limit_retry_after: bool = False  # send Retry-After with rate-limit 429s
    read_only_can_aggregate: bool = True
    unauthorized_status: int = 403  # 401 is the Postman table's alternative
    put_creates_custom_fields: bool = True  # single-value PUT to an unknown custom field creates it
    metadata_write_time_limit_s: float = 300.0  # longer (real + simulated) -> 408
    metadata_write_seconds_per_record: float = 0.0  # simulated cost per record
    track_drop_after_days: int = 7
    track_empty_body: bool = True  # False: answer "{}"
    time_series_last_rounds_up: bool = True  # `last` mid-period includes that period
    stream_chunk_rows: int = 64
    bulk_delete_completes: bool = True  # False: ids only marked Do Not Process, job "queued"
    bulk_delete_min_interval_s: float = (
        0.0  # > 0: a bulk delete sooner than this after the last gets 429
    )
    # Write answers no public source pins down (issue 12); the defaults are the documented ones.
    metadata_missing_items: str = (
        "id"  # "id" | "id_object" ({"visitorId": id}) | "id_key" ({"id": id})
    )
    metadata_error_items: str = (
        "text"  # "text" (names the id) | "text_no_id" | "field_message" | "id_object"
    )
    metadata_answer: str = (
        "json"  # 2xx body of a bulk write: json | html | empty | list | no_counts | bad_counts
    )
    bulk_delete_answer: str = "json"  # 2xx body of a bulk delete: json | html | empty | list
    time_values: str = "any"  # "iso_only": a `time` field refuses numbers (an `errors` entry)
    # How reads return a written `time` value: "ms" (epoch ms, as the simulator stores it) or
    # "iso" (an ISO 8601 string, "2026-01-02T03:04:05.678Z"): no source says which Pendo does.
    # Pendo's own `auto` groups stay epoch ms either way (its filters compare them with numbers).
    time_values_read: str = "ms"
    track_min_interval_per_visitor_s: float = 0.0  # > 0: closer events of one visitor dropped, 200
    # How Pendo refuses an aggregation that covers too much (`window_limit` faults); no source
    # gives the real status or text.
    aggregation_refusal_status: int = 400
    aggregation_refusal_text: str = "Query exceeded memory limit"
    token_verify_status: int = 200  # 404/405: a host without GET /api/v1/token/verify
    parent_account_schema_status: int = 200  # 403/404: parentAccount schema refused
    # Late-arriving events: an hour's rows are served only this many hours after it ends.
    event_delay_hours: float = 0.0
    # A `timeSeries` inside the visitors/accounts source: "honour" (bound on
    # metadata.auto.lastupdated), "ignore", or "reject" (400).
    entity_time_series: str = "honour"
    base64_path_ids: bool = True  # False: `x-pendo-base64-encoded-params` is ignored
    # Latency model (off by default, all zero): see LATENCY_PROFILES and README "Latency".
    latency_request_s: float = 0.0  # every API request, before anything else
    latency_per_row_s: float = 0.0  # aggregation: per result row, paid as the body streams
    latency_per_day_s: float = 0.0  # aggregation of an event source: per day of timeSeries range
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        choices = {
            "metadata_missing_items": ("id", "id_object", "id_key"),
            "metadata_error_items": ("text", "text_no_id", "field_message", "id_object"),
            "metadata_answer": ("json", "html", "empty", "list", "no_counts", "bad_counts"),
            "bulk_delete_answer": ("json", "html", "empty", "list"),
            "time_values": ("any", "iso_only"),
            "time_values_read": ("ms", "iso"),
            "entity_time_series": ("honour", "ignore", "reject"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")


LATENCY_FIELDS = ("latency_request_s", "latency_per_row_s", "latency_per_day_s")

# ASSUMPTIONS, not Pendo's measurements: Pendo publishes no latency figures. "large" stands for
# a subscription whose one-day event aggregation takes a few seconds (singer-io users report
# aggregations of a day running into their 300 s timeout on the largest subscriptions; these
# are far below that): 1.5 s per request, 2 s per day of range, 20 us per row returned.
LATENCY_PROFILES: dict[str, dict[str, float]] = {
    "off": {"latency_request_s": 0.0, "latency_per_row_s": 0.0, "latency_per_day_s": 0.0},
    "large": {"latency_request_s": 1.5, "latency_per_row_s": 20e-6, "latency_per_day_s": 2.0},
}


def latency_profile(name: str, scale: float = 1.0) -> dict[str, float]:
    """The named profile with every cost multiplied by `scale` (benchmarks shrink time)."""
    try:
        profile = LATENCY_PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown latency profile {name!r}: {sorted(LATENCY_PROFILES)}") from None
    return {k: v * scale for k, v in profile.items()}
