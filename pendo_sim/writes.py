"""Metadata writes (bulk and single value) and /data/track validation."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from .config import SimOptions
from .dataset import Dataset
from .store import Store

ID_KEY = {"visitor": "visitorId", "account": "accountId", "parentAccount": "accountId"}
PROP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


class WriteError(Exception):
    def __init__(self, status: int, message: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_type(ftype: str, v: Any, coerce: bool, iso_only_time: bool = False) -> tuple[bool, Any]:
    """(ok, stored value) for a value written to a field of schema Type `ftype`."""
    if v is None or ftype == "":
        return True, v
    if ftype == "time" and iso_only_time and not isinstance(v, str):
        return False, v
    if ftype == "string":
        if isinstance(v, str):
            return True, v
        if coerce and isinstance(v, (int, float, bool)):
            return True, str(v).lower() if isinstance(v, bool) else str(v)
    elif ftype == "boolean":
        if isinstance(v, bool):
            return True, v
        if coerce and isinstance(v, str) and v.lower() in ("true", "false"):
            return True, v.lower() == "true"
    elif ftype == "integer":
        if _is_int(v):
            return True, v
        if coerce:
            try:
                f = float(v)
                if f == int(f):
                    return True, int(f)
            except (TypeError, ValueError):
                pass
    elif ftype == "float":
        if _is_int(v) or isinstance(v, float):
            return True, v
        if coerce and isinstance(v, str):
            try:
                return True, float(v)
            except ValueError:
                pass
    elif ftype == "time":
        if _is_int(v):
            return True, v
        if isinstance(v, str):
            try:
                return True, int(
                    datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000
                )
            except ValueError:
                pass
            if coerce and v.strip().lstrip("-").isdigit():
                return True, int(v)
    elif ftype == "list":
        if isinstance(v, list):
            return True, v
        if coerce:
            return True, [v]
    else:
        return True, v
    return False, v


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def ms_to_iso(ms: int) -> str:
    """Epoch ms as ISO 8601 UTC with milliseconds and `Z`: "2026-01-02T03:04:05.678Z"."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_time(desc: Any) -> tuple[bool, bool]:
    """(a `time` field, a list of `time`) for a schema descriptor."""
    if not isinstance(desc, dict):
        return False, False
    ftype = str(desc.get("Type") or "").lower()
    if ftype == "time":
        return True, False
    element = str(desc.get("ElementType") or "").lower()
    return False, ftype == "list" and element == "time"


def _read_time(v: Any) -> Any:
    return ms_to_iso(v) if _is_int(v) else v


def metadata_as_read(metadata: dict, groups: dict | None, mode: str) -> dict:
    """`metadata` as a read returns it under `time_values_read`: with "iso", the epoch-ms
    values of `time` fields (and lists of them) outside the `auto` groups become ISO 8601
    strings. Changed groups are copied; the rest is returned as is."""
    if mode != "iso" or not groups:
        return metadata
    out = dict(metadata)
    for group, values in metadata.items():
        if group == "auto" or group.startswith("auto__") or not isinstance(values, dict):
            continue
        fields = groups.get(group) or {}
        changed = None
        for name, v in values.items():
            single, listed = _is_time(fields.get(name))
            if single and _is_int(v):
                new: Any = _read_time(v)
            elif listed and isinstance(v, list):
                new = [_read_time(x) for x in v]
            else:
                continue
            if changed is None:
                changed = dict(values)
            changed[name] = new
        if changed is not None:
            out[group] = changed
    return out


def _type_name(v: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "list",
        dict: "object",
    }.get(type(v), type(v).__name__)


class MetadataWriter:
    def __init__(self, ds: Dataset, store: Store, options: SimOptions):
        self.ds, self.store, self.options = ds, store, options

    def _table(self, kind: str):
        return self.ds.visitor_table if kind == "visitor" else self.ds.account_table

    def _parent_ids(self) -> set[str]:
        out = {a.split("::", 1)[0] for a in self.ds.account_ids if "::" in a}
        return out | set(self.store.parent_accounts)

    def bulk(self, kind: str, group: str, body: Any, create: bool) -> dict:
        t0 = time.monotonic()
        if kind not in self.ds.schemas:
            raise WriteError(404)
        if group not in ("agent", "custom"):
            raise WriteError(400, f"unsupported metadata group {group!r}")
        if not isinstance(body, list):
            raise WriteError(400, "body must be a JSON array")
        simulated = len(body) * self.options.metadata_write_seconds_per_record
        if simulated > self.options.metadata_write_time_limit_s:
            raise WriteError(408)
        fields = self.ds.schemas[kind][group]
        id_key = ID_KEY[kind]
        missing: list[Any] = []
        errors: list[Any] = []
        opts = self.options
        iso_only = opts.time_values == "iso_only"

        def error(id_: Any, field: str | None, text: str) -> Any:
            shape = opts.metadata_error_items
            if shape == "text_no_id":
                return f"field {field!r}: {text}" if field else text
            if shape == "field_message":
                return {"field": field or id_key, "message": text}
            if shape == "id_object":
                return {id_key: id_, "message": text}
            return f"{kind} {id_!r}: field {field!r} {text}" if field else f"{kind} {id_!r}: {text}"

        def missing_item(id_: str) -> Any:
            shape = opts.metadata_missing_items
            if shape == "id_object":
                return {id_key: id_}
            if shape == "id_key":
                return {"id": id_}
            return id_

        updated = 0
        now = self.ds.now_ms
        for item in body:
            if not isinstance(item, dict):
                raise WriteError(400, "array items must be objects")
            id_ = item.get(id_key)
            if id_ is None and kind == "visitor":
                id_ = item.get("id")
            values = item.get("values")
            if not isinstance(id_, str) or id_ == "":
                errors.append(
                    f"missing {id_key} in record {item!r:.100}"
                    if opts.metadata_error_items == "text"
                    else error(None, None, f"missing {id_key}")
                )
                continue
            if not isinstance(values, dict):
                errors.append(error(id_, None, "values must be an object"))
                continue
            clean: dict = {}
            bad = None
            for name, v in values.items():
                fname = str(name).lower()
                desc = fields.get(fname)
                if desc is None:
                    bad = error(id_, name, f"is not a known {group} field")
                    break
                ok, stored = check_type(
                    desc.get("Type", ""), v, self.options.coerce_wrong_types, iso_only
                )
                if not ok:
                    bad = error(id_, name, f"expects {desc.get('Type')}, got {_type_name(v)}")
                    break
                clean[fname] = stored
            if bad is not None:
                errors.append(bad)
                continue
            if kind == "parentAccount":
                with self.store.lock:
                    if id_ not in self._parent_ids() and not create:
                        missing.append(missing_item(id_))
                        continue
                    self.store.parent_accounts.setdefault(id_, {}).setdefault(group, {}).update(
                        clean
                    )
                    self.store.parent_accounts[id_].setdefault("auto", {})["lastupdated"] = now
            else:
                table = self._table(kind)
                j = table.index_of(id_)
                if j is None:
                    if not create:
                        missing.append(missing_item(id_))
                        continue
                    j = table.add(id_, now)
                table.set_values(j, group, clean, now)
            with self.store.lock:
                self.store.metadata_writes.append(
                    {"kind": kind, "group": group, "id": id_, "values": clean}
                )
            updated += 1
        elapsed = time.monotonic() - t0 + simulated
        if elapsed > self.options.metadata_write_time_limit_s:
            raise WriteError(408)
        failed = len(missing) + len(errors)
        return {
            "total": updated + failed,
            "updated": updated,
            "failed": failed,
            "missing": missing,
            "errors": errors,
            "kind": kind,
            "group": group,
        }

    # ------------------------------------------------------------------ single value
    def _lookup(self, kind: str, group: str, id_: str, field: str, creating: bool):
        if kind not in self.ds.schemas:
            raise WriteError(404)
        if kind == "parentAccount":
            if id_ not in self._parent_ids():
                raise WriteError(404)
            return None, None
        table = self._table(kind)
        j = table.index_of(id_)
        if j is None:
            raise WriteError(404)
        return table, j

    def put_value(self, kind: str, group: str, id_: str, field: str, value: Any) -> None:
        table, j = self._lookup(kind, group, id_, field, True)
        schema = self.ds.schemas[kind]
        fname = field.lower()
        desc = schema.get(group, {}).get(fname)
        if desc is None:
            if group == "custom" and self.options.put_creates_custom_fields:
                from .entities import _desc

                desc = schema.setdefault("custom", {})[fname] = _desc("string", field)
            else:
                raise WriteError(400, f"unknown field {group}.{field}")
        ok, stored = check_type(desc.get("Type", ""), value, self.options.coerce_wrong_types)
        if not ok:
            raise WriteError(
                400, f"field {field!r} expects {desc.get('Type')}, got {_type_name(value)}"
            )
        now = self.ds.now_ms
        if table is None:
            with self.store.lock:
                self.store.parent_accounts.setdefault(id_, {}).setdefault(group, {})[fname] = stored
        else:
            table.set_values(j, group, {fname: stored}, now)
        with self.store.lock:
            self.store.metadata_writes.append(
                {"kind": kind, "group": group, "id": id_, "values": {fname: stored}}
            )

    def get_value(self, kind: str, group: str, id_: str, field: str) -> Any:
        table, j = self._lookup(kind, group, id_, field, False)
        md = self.store.current(kind, id_) if table is None else table.row(j)["metadata"]
        md = metadata_as_read(md, self.ds.schemas.get(kind), self.options.time_values_read)
        g = md.get(group, {})
        fname = field.lower()
        if fname not in g:
            raise WriteError(404)
        return g[fname]


def validate_track(body: Any) -> str | None:
    """Error text for an invalid /data/track payload, else None."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if body.get("type") != "track":
        return 'type must be "track"'
    for k in ("event", "visitorId"):
        if not isinstance(body.get(k), str) or not body[k]:
            return f"{k} is required"
    ts = body.get("timestamp")
    if not _is_int(ts):
        return "timestamp must be an integer (ms)"
    if "context" not in body or not isinstance(body["context"], dict):
        return "context is required"
    if (
        "accountId" in body
        and body["accountId"] is not None
        and not isinstance(body["accountId"], str)
    ):
        return "accountId must be a string"
    if (
        "properties" in body
        and body["properties"] is not None
        and not isinstance(body["properties"], dict)
    ):
        return "properties must be an object"
    return None


def valid_property_name(name: str) -> bool:
    if not PROP_NAME.match(name):
        return False
    return not (name.startswith("__") and name.endswith("__") and len(name) >= 4)


def accept_track(store: Store, body: dict, now_ms: int, drop_days: int) -> None:
    props = body.get("properties") or {}
    hidden = {k: v for k, v in props.items() if not valid_property_name(k)}
    event = dict(body)
    if hidden:
        event["properties"] = {k: v for k, v in props.items() if k not in hidden}
    try:
        too_large = len(json.dumps(event.get("properties") or {}, separators=(",", ":"))) > 512
    except (TypeError, ValueError):
        too_large = True
    with store.lock:
        if too_large:  # Pendo shows "event properties JSON too large" instead of the values
            store.oversized_track_properties.append(event)
        if hidden:
            store.hidden_track_properties.append(
                {
                    "event": body.get("event"),
                    "visitorId": body.get("visitorId"),
                    "properties": hidden,
                }
            )
        if body["timestamp"] < now_ms - drop_days * 86_400_000:
            store.dropped_track_events.append(event)
        else:
            store.track_events.append(event)
