"""Aggregation requests: envelope validation, sources, timeSeries, operators (lazy generators)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .dataset import Dataset
from .events import AGG_SOURCES, EVENT_SOURCES
from .expressions import (
    EvalContext,
    ExpressionError,
    compile_expr,
    compile_predicate,
    path_bounds_exact,
    path_getter,
    sort_key,
    split_path,
)
from .metatable import sort_rows
from .writes import metadata_as_read

ENTITY_SOURCES = {
    "pages": "pages",
    "features": "features",
    "guides": "guides",
    "trackTypes": "trackTypes",
}
ENTITY_FILTER_KEYS = {"pageId", "featureId", "trackTypeId", "guideId", "guideStepId", "pollId"}
IGNORED_PARAMS = {"eventClass", "blacklist", "identified", "appId", "timeSeries", "blacklistRules"}


class PipelineError(ValueError):
    """Malformed aggregation request -> 400 with a short text body."""


@dataclass
class Query:
    start_time: int
    rows: Iterator[dict]
    window_hours: float | None  # timeSeries span, None when the source has no timeSeries
    source: str


def parse_envelope(body: Any) -> list:
    if not isinstance(body, dict):
        raise PipelineError("request body must be a JSON object")
    req = body.get("request")
    if req is None and isinstance(body.get("requests"), list):
        if len(body["requests"]) != 1:
            raise PipelineError("exactly one element expected in requests")
        req = body["requests"][0]
    if not isinstance(req, dict):
        raise PipelineError("missing request")
    resp = body.get("response")
    if resp is not None and not isinstance(resp, dict):
        raise PipelineError("response must be an object")
    if isinstance(resp, dict) and resp.get("mimeType", "application/json") != "application/json":
        raise PipelineError("unsupported mimeType")
    pipeline = req.get("pipeline")
    if not isinstance(pipeline, list) or not pipeline:
        raise PipelineError("request.pipeline must be a non-empty list")
    for step in pipeline:
        if not isinstance(step, dict) or len(step) != 1:
            raise PipelineError("each pipeline step must be an object with one operator")
    if "source" not in pipeline[0]:
        raise PipelineError("first pipeline step must be a source")
    return pipeline


_EXPAND = re.compile(r'^\s*expandAppIds\(\s*(?:"([^"]*)"|`([^`]*)`)\s*\)\s*$')


def parse_app_ids(value: Any, ds: Dataset) -> set | None:
    """None -> all apps."""
    if value is None:
        return {ds.default_app}
    if isinstance(value, bool):
        raise PipelineError("bad appId")
    if isinstance(value, (int, float)):
        return {int(value)}
    if isinstance(value, list):
        out = set()
        for v in value:
            got = parse_app_ids(v, ds)
            if got is None:
                return None
            out |= got
        return out
    if isinstance(value, str):
        m = _EXPAND.match(value)
        if m:
            arg = m.group(1) if m.group(1) is not None else m.group(2)
            if arg.strip() == "*":
                return None
            return parse_app_ids([a.strip() for a in arg.split(",") if a.strip()], ds)
        try:
            return {int(value.strip())}
        except ValueError:
            raise PipelineError(f"bad appId {value!r}") from None
    raise PipelineError("bad appId")


class Runner:
    def __init__(self, ds: Dataset, options=None):
        self.ds = ds
        self.options = options
        self.ctx = EvalContext(now_ms=ds.now_ms, date_fn=ds.clock.date_ms, add_fn=ds.clock.date_add)

    # ------------------------------------------------------------------ time
    def time_value(self, v: Any) -> int:
        if isinstance(v, bool) or v is None:
            raise PipelineError("bad timeSeries value")
        if isinstance(v, (int, float)):
            return int(v)
        if isinstance(v, str):
            s = v.strip()
            if re.fullmatch(r"-?\d+", s):
                return int(s)
            try:
                r = compile_expr(s, self.ctx)({})
            except ExpressionError as exc:
                raise PipelineError(f"bad timeSeries expression: {exc}") from None
            if isinstance(r, bool) or not isinstance(r, (int, float)):
                raise PipelineError("timeSeries expression is not a number")
            return int(r)
        raise PipelineError("bad timeSeries value")

    def time_range(self, ts: Any) -> tuple[int, int, str]:
        if not isinstance(ts, dict):
            raise PipelineError("timeSeries must be an object")
        period = ts.get("period")
        if period not in ("dayRange", "hourRange"):
            raise PipelineError(f"unsupported timeSeries period {period!r}")
        p = "day" if period == "dayRange" else "hour"
        clock = self.ds.clock
        if "first" not in ts:
            raise PipelineError("timeSeries.first is required")
        first = clock.floor(self.time_value(ts["first"]), p)
        if ts.get("count") is not None:
            count = ts["count"]
            if isinstance(count, str) and re.fullmatch(r"-?\d+", count.strip()):
                count = int(count)
            if isinstance(count, bool) or not isinstance(count, int) or count == 0:
                raise PipelineError("timeSeries.count must be a non-zero integer")
            if count > 0:
                return first, clock.add(first, count, p), p
            return clock.add(first, count, p), first, p
        if ts.get("last") is not None:
            last = self.time_value(ts["last"])
            rounds_up = getattr(self.options, "time_series_last_rounds_up", True)
            end = clock.ceil(last, p) if rounds_up else clock.floor(last, p)
            if end < first:
                raise PipelineError("timeSeries.last is before first")
            return first, end, p
        raise PipelineError("timeSeries needs count or last")

    # ------------------------------------------------------------------ run
    def run(self, body: Any) -> Query:
        pipeline = parse_envelope(body)
        src = pipeline[0]["source"]
        if not isinstance(src, dict):
            raise PipelineError("source must be an object")
        names = [k for k in src if k != "timeSeries"]
        if len(names) != 1:
            raise PipelineError("source must name exactly one row source")
        name = names[0]
        params = src[name]
        if params is not None and not isinstance(params, dict):
            raise PipelineError(f"bad parameters for source {name}")
        params = params or {}
        ops = pipeline[1:]
        window = None
        start_time = self.ds.now_ms
        skip: set[int] = set()
        if name in ("visitors", "accounts"):
            rows, skip = self._meta_source(name, params, ops)
            ts = params.get("timeSeries", src.get("timeSeries"))
            if ts is not None:
                rows = self._entity_time_series(name, ts, rows)
        elif name in ENTITY_SOURCES:
            apps = parse_app_ids(params.get("appId"), self.ds)
            lst = self.ds.entity_list(ENTITY_SOURCES[name])
            rows = iter([e for e in lst if apps is None or e["appId"] in apps])
        elif name == "apps":
            # Pendo documents no app list; its UI reads this source (pendo-api.md, additions).
            rows = iter(list(self.ds.app_rows))
        elif name == "pollsSeenEver":
            gid, pid = params.get("guideId"), params.get("pollId")
            if (gid is not None and not isinstance(gid, str)) or (
                pid is not None and not isinstance(pid, str)
            ):
                raise PipelineError("pollsSeenEver guideId/pollId must be strings")
            rows = iter(self.ds.polls_seen_ever(gid, pid))
        elif name in EVENT_SOURCES:
            ts = src.get("timeSeries", params.get("timeSeries"))
            if ts is None:
                raise PipelineError(f"source {name} requires a timeSeries")
            start, end, p = self.time_range(ts)
            window = (end - start) / 3_600_000
            start_time = start
            apps = parse_app_ids(params.get("appId"), self.ds)
            ef = {k: v for k, v in params.items() if k in ENTITY_FILTER_KEYS}
            unknown = [k for k in params if k not in ENTITY_FILTER_KEYS and k not in IGNORED_PARAMS]
            if unknown:
                raise PipelineError(f"unknown parameter {unknown[0]} for source {name}")
            from .events import source_rows

            delay_ms = int(getattr(self.options, "event_delay_hours", 0) * 3_600_000)
            rows = source_rows(
                self.ds, name, start, end, p, apps, ef or None, self.ds.now_ms, delay_ms
            )
        else:
            raise PipelineError(f"unknown source {name!r}")
        for i, step in enumerate(ops):
            ((op, arg),) = step.items()
            if i in skip:
                continue
            rows = self._apply(op, arg, rows)
        return Query(start_time, rows, window, name)

    def _entity_time_series(self, name: str, ts: Any, rows: Iterator[dict]) -> Iterator[dict]:
        """A timeSeries on a visitors/accounts source bounds `metadata.auto.lastupdated`
        (`entity_time_series`: honour, ignore, or reject with 400)."""
        mode = getattr(self.options, "entity_time_series", "honour")
        if mode == "reject":
            raise PipelineError(f"timeSeries is not supported for source {name}")
        start, end, _ = self.time_range(ts)
        if mode == "ignore":
            return rows

        def within(row: dict) -> bool:
            value = ((row.get("metadata") or {}).get("auto") or {}).get("lastupdated")
            return isinstance(value, (int, float)) and start <= value < end

        return filter(within, rows)

    def _meta_source(self, name: str, params: dict, ops: list):
        """Push identified/filter/sort into the presorted table scan where that is exact.

        Returns (rows, indices of ops that became redundant)."""
        table = self.ds.visitor_table if name == "visitors" else self.ds.account_table
        identified_only = name == "visitors" and params.get("identified") is True
        order = None
        skip: set[int] = set()
        prefix: list[tuple[int, str, Any]] = []
        for i, step in enumerate(ops):
            ((op, arg),) = step.items()
            if op in ("identified", "filter"):
                prefix.append((i, op, arg))
                continue
            if op == "sort":
                keys = [arg] if isinstance(arg, str) else arg
                if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
                    order = table.order_for_sort(keys)
                    if order is not None:
                        skip.add(i)
            break
        for i, op, arg in prefix:
            if op == "identified" and arg == "visitorId" and name == "visitors":
                identified_only = True
                skip.add(i)
        bounds = None
        if order is not None:
            path = ["metadata", "auto", "lastupdated"] if order == "lu" else [table.id_field]
            lo, lo_i, hi, hi_i = None, True, None, True
            for i, op, arg in prefix:
                if op != "filter" or not isinstance(arg, str):
                    continue
                b = path_bounds_exact(arg, path, self.ctx)
                if b[0] is not None and lo is None:
                    lo, lo_i = b[0], b[1]
                if b[2] is not None and hi is None:
                    hi, hi_i = b[2], b[3]
                # the scan range alone guarantees this filter (nulls sort first, so a lower bound
                # on lastupdated is needed to exclude them)
                if b[4] and (order == "id" or b[0] is not None) and (b[0], b[2]) == (lo, hi):
                    skip.add(i)
            bounds = (lo, lo_i, hi, hi_i)
        rows = table.iterate(order, bounds, identified_only=identified_only)
        mode = getattr(self.options, "time_values_read", "ms")
        if mode != "ms":
            # Written `time` values as reads return them (`time_values_read`); filters and
            # sorts after the scan see them so too, as they would values stored as written.
            groups = self.ds.schemas.get("visitor" if name == "visitors" else "account")

            def as_read(row: dict) -> dict:
                row["metadata"] = metadata_as_read(row["metadata"], groups, mode)
                return row

            rows = map(as_read, rows)
        return rows, skip

    # ------------------------------------------------------------------ operators
    def _apply(self, op: str, arg: Any, rows: Iterator[dict]) -> Iterator[dict]:
        fn = getattr(self, "_op_" + op, None)
        if fn is None:
            raise PipelineError(f"unknown pipeline operator {op!r}")
        return fn(arg, rows)

    def _op_identified(self, arg, rows):
        if arg not in ("visitorId", "!visitorId", "accountId", "!accountId"):
            raise PipelineError(f"bad identified field {arg!r}")
        neg = arg.startswith("!")
        field = arg.lstrip("!")

        def ok(r):
            v = r.get(field)
            return isinstance(v, str) and v != "" and not v.startswith("_PENDO_T_")

        return (r for r in rows if ok(r) != neg)

    def _op_filter(self, arg, rows):
        if not isinstance(arg, str):
            raise PipelineError("filter must be an expression string")
        try:
            pred = compile_predicate(arg, self.ctx)
        except ExpressionError as exc:
            raise PipelineError(f"bad filter: {exc}") from None
        return filter(pred, rows)

    def _compile_map(self, arg, what):
        if not isinstance(arg, dict) or not arg:
            raise PipelineError(f"{what} must be a non-empty object")
        out = []
        for k, v in arg.items():
            if not isinstance(v, str):
                raise PipelineError(f"{what}.{k} must be an expression string")
            try:
                out.append((k, compile_expr(v, self.ctx)))
            except ExpressionError as exc:
                raise PipelineError(f"bad {what} expression for {k}: {exc}") from None
        return out

    def _op_select(self, arg, rows):
        fields = self._compile_map(arg, "select")
        return ({k: f(r) for k, f in fields} for r in rows)

    def _op_eval(self, arg, rows):
        fields = self._compile_map(arg, "eval")

        def ev(r):
            n = dict(r)
            for k, f in fields:
                n[k] = f(r)
            return n

        return (ev(r) for r in rows)

    def _op_sort(self, arg, rows):
        keys = [arg] if isinstance(arg, str) else arg
        if (
            not isinstance(keys, list)
            or not keys
            or not all(isinstance(k, str) and k.lstrip("-") for k in keys)
        ):
            raise PipelineError("sort must be a list of field names")
        try:
            getters = [(path_getter(k.lstrip("-")), k.startswith("-")) for k in keys]
        except ExpressionError as exc:
            raise PipelineError(f"bad sort field: {exc}") from None

        def gen():
            yield from sort_rows(list(rows), getters)

        return gen()

    def _op_limit(self, arg, rows):
        if isinstance(arg, bool) or not isinstance(arg, int) or arg < 0:
            raise PipelineError("limit must be a non-negative integer")
        return itertools.islice(rows, arg)

    def _op_count(self, arg, rows):
        if arg is not None:
            raise PipelineError("count takes null")

        def gen():
            n = 0
            for _ in rows:
                n += 1
            yield {"count": n}

        return gen()

    def _aggregators(self, fields) -> list[tuple[str, str, Callable | None]]:
        items: list = []
        if isinstance(fields, dict):
            items = list(fields.items())
        elif isinstance(fields, list):
            for f in fields:
                if not isinstance(f, dict) or len(f) != 1:
                    raise PipelineError("bad aggregation field")
                items.extend(f.items())
        else:
            raise PipelineError("bad aggregation fields")
        out = []
        for name, spec in items:
            if not isinstance(spec, dict) or len(spec) != 1:
                raise PipelineError(f"bad aggregator for {name}")
            ((fn, path),) = spec.items()
            if fn not in ("sum", "count", "min", "max", "first", "last"):
                raise PipelineError(f"unknown aggregator {fn!r}")
            getter = None
            if path is not None:
                if not isinstance(path, str):
                    raise PipelineError(f"bad aggregator field for {name}")
                getter = path_getter(path)
            out.append((name, fn, getter))
        return out

    @staticmethod
    def _acc_init(aggs):
        return [0 if fn in ("sum", "count") else None for _, fn, _ in aggs]

    @staticmethod
    def _acc_add(state, aggs, r):
        for i, (_, fn, get) in enumerate(aggs):
            v = get(r) if get is not None else None
            if fn == "count":
                if get is None or v is not None:
                    state[i] += 1
            elif fn == "sum":
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    state[i] += v
            elif fn == "min":
                if v is not None and (state[i] is None or sort_key(v) < sort_key(state[i])):
                    state[i] = v
            elif fn == "max":
                if v is not None and (state[i] is None or sort_key(v) > sort_key(state[i])):
                    state[i] = v
            elif fn == "first":
                if state[i] is None:
                    state[i] = v
            else:
                state[i] = v

    def _op_group(self, arg, rows):
        if not isinstance(arg, dict):
            raise PipelineError("group must be an object")
        keys = arg.get("group")
        if isinstance(keys, str):
            keys = [keys]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise PipelineError("group.group must be a list of fields")
        aggs = self._aggregators(arg.get("fields", {}))
        getters = [path_getter(k) for k in keys]

        def gen():
            groups: dict = {}
            for r in rows:
                kv = tuple(g(r) for g in getters)
                hk = repr(kv)
                ent = groups.get(hk)
                if ent is None:
                    ent = groups[hk] = (kv, self._acc_init(aggs))
                self._acc_add(ent[1], aggs, r)
            for kv, state in groups.values():
                out = {k.split(".")[-1]: v for k, v in zip(keys, kv, strict=True)}
                for (name, _, _), v in zip(aggs, state, strict=True):
                    out[name] = v
                yield out

        return gen()

    def _op_reduce(self, arg, rows):
        aggs = self._aggregators(arg)

        def gen():
            state = self._acc_init(aggs)
            for r in rows:
                self._acc_add(state, aggs, r)
            yield {name: v for (name, _, _), v in zip(aggs, state, strict=True)}

        return gen()

    def _op_unwind(self, arg, rows):
        if not isinstance(arg, dict) or not isinstance(arg.get("field"), str):
            raise PipelineError("unwind needs a field")
        field = arg["field"]
        keep = bool(arg.get("keepEmpty"))

        def gen():
            for r in rows:
                v = r.get(field)
                if isinstance(v, list) and v:
                    for item in v:
                        n = dict(r)
                        n[field] = item
                        yield n
                elif keep:
                    yield r

        return gen()


def run_aggregation(ds: Dataset, body: Any, options=None) -> Query:
    return Runner(ds, options).run(body)


__all__ = [
    "PipelineError",
    "Query",
    "run_aggregation",
    "parse_app_ids",
    "AGG_SOURCES",
    "split_path",
]
