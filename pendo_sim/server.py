"""HTTP layer: routing, auth, rate limiting, fault injection, streamed responses."""

from __future__ import annotations

import base64
import random
import re
import socket
import struct
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from .faults import Fault
from .hashing import seed_for
from .pipeline import PipelineError, parse_app_ids, run_aggregation
from .writes import WriteError, accept_track, metadata_as_read, validate_track

if TYPE_CHECKING:
    from .simulator import Simulator, _Server

_SEG = r"([^/]+)"
ROUTES: list[tuple[str, re.Pattern, str, str]] = [
    (m, re.compile("^" + p + "$"), tmpl, name)
    for m, p, tmpl, name in [
        ("GET", r"/api/v1/token/verify", "/api/v1/token/verify", "verify"),
        (
            "GET",
            r"/api/v1/"
            r"(page|feature|guide|tracktype|report|segment)",
            "/api/v1/{entity}",
            "list",
        ),
        ("GET", r"/api/v1/metadata/schema/" + _SEG, "/api/v1/metadata/schema/{kind}", "schema"),
        (
            "GET",
            r"/api/v1/visitor/" + _SEG + r"/history",
            "/api/v1/visitor/{id}/history",
            "history",
        ),
        ("GET", r"/api/v1/(visitor|account)/" + _SEG, "/api/v1/{kind}/{id}", "entity"),
        ("POST", r"/api/v1/aggregation", "/api/v1/aggregation", "aggregation"),
        (
            "POST",
            r"/api/v1/metadata/" + _SEG + "/" + _SEG + r"/value",
            "/api/v1/metadata/{kind}/{group}/value",
            "bulk",
        ),
        (
            "PUT",
            r"/api/v1/metadata/" + _SEG + "/" + _SEG + r"/value/" + _SEG + "/" + _SEG,
            "/api/v1/metadata/{kind}/{group}/value/{id}/{field}",
            "put_value",
        ),
        (
            "GET",
            r"/api/v1/metadata/" + _SEG + "/" + _SEG + r"/value/" + _SEG + "/" + _SEG,
            "/api/v1/metadata/{kind}/{group}/value/{id}/{field}",
            "get_value",
        ),
        (
            "POST",
            r"/api/v1/bulkdelete/(visitor|account)",
            "/api/v1/bulkdelete/{kind}",
            "bulkdelete",
        ),
        ("GET", r"/api/v1/bulkdelete(?:/" + _SEG + ")?", "/api/v1/bulkdelete", "bulkdelete_status"),
        ("POST", r"/data/track", "/data/track", "track"),
    ]
]
ENTITY_LISTS = {
    "page": "pages",
    "feature": "features",
    "guide": "guides",
    "tracktype": "trackTypes",
    "report": "reports",
    "segment": "segments",
}
WRITE_ROUTES = {"bulk", "put_value", "bulkdelete"}


class HttpError(Exception):
    def __init__(self, status: int, body: bytes | str = b"", content_type: str = "text/plain"):
        super().__init__(status)
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type = content_type


class Abort(Exception):
    """The connection was deliberately dropped (fault) or the client went away."""


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def stream_results(
    start_time: int, rows: Iterator[dict], chunk_rows: int, row_cost_s: float = 0.0
) -> Iterator[bytes]:
    yield b'{"startTime":' + str(int(start_time)).encode() + b',"results":['
    first = True
    batch: list = []
    append = batch.append
    for r in rows:
        append(r)
        if len(batch) >= chunk_rows:
            if row_cost_s:
                time.sleep(row_cost_s * len(batch))
            data = orjson.dumps(batch)[1:-1]
            yield data if first else b"," + data
            first = False
            batch.clear()
    if batch:
        if row_cost_s:
            time.sleep(row_cost_s * len(batch))
        data = orjson.dumps(batch)[1:-1]
        yield data if first else b"," + data
    yield b"]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pendo-sim/0.1"
    # TCP_NODELAY: headers and body are separate writes; with Nagle the last one waits for
    # the client's delayed ACK, about 40 ms added to every request
    disable_nagle_algorithm = True

    @property
    def sim(self) -> Simulator:
        # Always our _Server (Simulator.start); typeshed types it as any BaseServer.
        return cast("_Server", self.server).sim

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self, method: str) -> None:
        self._status = 0
        self._fault: Fault | None = None
        parts = urlsplit(self.path)
        path = parts.path
        self._query = parse_qs(parts.query, keep_blank_values=True)
        sim = self.sim
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        if path.startswith("/_sim/"):
            from .control import handle_control

            try:
                try:
                    status, payload = handle_control(sim, method, path, self._query, body)
                    self._send(status, dumps(payload), "application/json")
                except HttpError as exc:
                    self._send(exc.status, exc.body, exc.content_type)
                except (Abort, BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                except Exception as exc:
                    self._internal_error(exc)
            except (Abort, OSError):
                self.close_connection = True
            return
        template = path
        route = None
        groups: tuple = ()
        for m, rx, tmpl, name in ROUTES:
            mt = rx.match(path)
            if mt:
                template = tmpl
                if m == method:
                    route, groups = name, mt.groups()
                    break
        sim._arrived()
        try:
            try:
                self._dispatch(method, path, template, route, groups, body)
            except HttpError as exc:
                self._send(exc.status, exc.body, exc.content_type)
        except Abort:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:
            try:
                self._internal_error(exc)
            except (Abort, OSError):
                self.close_connection = True
        finally:
            sim._finished()
            sim._record(method, self.path, template, self._status, self._fault)

    def _dispatch(self, method, path, template, route, groups, body) -> None:
        sim = self.sim
        if sim.options.latency_request_s:
            time.sleep(sim.options.latency_request_s)
        ok, wait = sim.rate_limiter.allow(method + " " + template)
        if not ok:
            headers = {}
            if sim.options.rate_limit_retry_after:
                headers["Retry-After"] = str(max(1, int(wait + 0.999)))
            sim._count("rate_limited")
            raise_status(429, headers=headers, handler=self)
            return
        fault = sim.faults.take(method, path)
        if fault is not None:
            self._fault = fault
            if fault.kind == "status":
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                self._send(fault.status, fault.body.encode(), "text/plain", headers)
                return
            if fault.kind == "invalid_json":
                self._send(
                    200,
                    fault.body.encode() or b'{"startTime": 1, "results": [{"a": ',
                    "application/json",
                )
                return
            if fault.kind == "slow":
                time.sleep(fault.delay_s)
                self._fault = None
        if route is None:
            raise HttpError(404 if template == path else 405, b"")
        key = self.headers.get("x-pendo-integration-key")
        if route == "track":
            return self._track(key, body)
        access = sim.key_access(key)
        if access is None:
            raise HttpError(sim.options.unauthorized_status, b"")
        if route in WRITE_ROUTES and access != "rw":
            raise HttpError(403, b"")
        if route == "aggregation" and access != "rw" and not sim.options.read_only_can_aggregate:
            raise HttpError(403, b"")
        getattr(self, "_r_" + route)(groups, body, access)

    def _internal_error(self, exc: Exception) -> None:
        import traceback

        traceback.print_exc()
        if self._status:  # headers already sent
            self._abort()
        self._send(500, f"simulator error: {type(exc).__name__}: {exc}".encode(), "text/plain")

    def _send(
        self,
        status: int,
        body: bytes | Iterable[bytes],
        content_type: str = "application/json",
        headers: dict | None = None,
    ) -> None:
        self._status = status
        fault = self._fault
        cut = (
            fault.after_bytes if fault is not None and fault.kind in ("drop", "truncate") else None
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type if body else "text/plain")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if not isinstance(body, (bytes, bytearray)):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._send_chunked(body, cut, fault)
            return
        data = bytes(body)
        if cut is not None and fault is not None and fault.kind == "truncate":
            data = data[:cut]
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if cut is not None and fault is not None and fault.kind == "drop":
            self.wfile.write(data[:cut])
            self._abort()
        self.wfile.write(data)
        self.sim._add_bytes(len(data))

    def _send_chunked(self, chunks: Iterable[bytes], cut: int | None, fault: Fault | None) -> None:
        sent = 0
        buf = bytearray()
        w = self.wfile.write

        def flush_chunk(data: bytes) -> None:
            if data:
                w(b"%x\r\n" % len(data) + data + b"\r\n")

        try:
            for piece in chunks:
                if cut is not None and sent + len(buf) + len(piece) >= cut:
                    buf += piece[: cut - sent - len(buf)]
                    flush_chunk(bytes(buf))
                    sent += len(buf)
                    if fault is not None and fault.kind == "drop":
                        self._abort()
                    w(b"0\r\n\r\n")
                    self.sim._add_bytes(sent)
                    return
                buf += piece
                if len(buf) >= 65536:
                    flush_chunk(bytes(buf))
                    sent += len(buf)
                    buf.clear()
            flush_chunk(bytes(buf))
            sent += len(buf)
            w(b"0\r\n\r\n")
            self.sim._add_bytes(sent)
        except (BrokenPipeError, ConnectionResetError, OSError):
            raise Abort() from None
        except Exception:
            # an error mid-stream: the status line is gone, so drop the connection
            self._abort()

    def _abort(self) -> None:
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True
        raise Abort()

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, dumps(obj), "application/json")

    def _qs(self, name: str) -> str | None:
        v = self._query.get(name)
        return v[0] if v else None

    def _path_id(self, raw: str) -> str:
        s = unquote(raw)
        header = (self.headers.get("x-pendo-base64-encoded-params") or "").strip().lower()
        if header == "true" and self.sim.options.base64_path_ids:
            try:
                pad = "=" * (-len(s) % 4)
                s = base64.b64decode((s + pad).replace("-", "+").replace("_", "/")).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise HttpError(400, "bad base64 id") from None
        return s

    # ------------------------------------------------------------------ routes
    def _r_verify(self, groups, body, access) -> None:
        status = self.sim.options.token_verify_status
        if status != 200:
            raise HttpError(status, b"")
        self._json({"valid": True, "writeAccess": access == "rw"})

    def _r_list(self, groups, body, access) -> None:
        ds = self.sim.dataset
        items = ds.entity_list(ENTITY_LISTS[groups[0]])
        ids = self._qs("id")
        if ids is not None:
            want = {i for i in ids.split(",") if i}
            self._json([e for e in items if e["id"] in want])
            return
        if groups[0] in ("report", "segment"):
            self._json(list(items))
            return
        expand = self._qs("expand")
        app = self._qs("appId")
        if expand == "*":
            apps = None
        elif app is not None:
            try:
                apps = parse_app_ids([a for a in app.split(",") if a], ds)
            except PipelineError as exc:
                raise HttpError(400, str(exc)) from None
        else:
            apps = {ds.default_app}
        self._json([e for e in items if apps is None or e["appId"] in apps])

    def _r_schema(self, groups, body, access) -> None:
        kind = unquote(groups[0])
        status = self.sim.options.parent_account_schema_status
        if kind == "parentAccount" and status != 200:
            raise HttpError(status, b"")
        schema = self.sim.dataset.schemas.get(kind)
        if schema is None:
            raise HttpError(404, b"")
        self._json(schema)

    def _r_entity(self, groups, body, access) -> None:
        kind, raw = groups
        id_ = self._path_id(raw)
        ds = self.sim.dataset
        table = ds.visitor_table if kind == "visitor" else ds.account_table
        j = table.index_of(id_)
        if j is None or j in table.deleted:
            raise HttpError(404, b"")
        metadata = metadata_as_read(
            table.row(j)["metadata"], ds.schemas.get(kind), self.sim.options.time_values_read
        )
        if kind == "visitor":
            auto = metadata.get("auto", {})
            self._json({"id": id_, "accountIds": auto.get("accountids", []), "metadata": metadata})
        else:
            self._json({"id": id_, "metadata": metadata})

    def _r_history(self, groups, body, access) -> None:
        ds = self.sim.dataset
        id_ = self._path_id(groups[0])
        j = ds.visitor_table.index_of(id_)
        if j is None:
            raise HttpError(404, b"")
        st = self._qs("starttime")
        try:
            start = int(st) if st is not None else None
        except ValueError:
            start = None
        if start is None:
            raise HttpError(400, "starttime (epoch ms) is required")
        self._json(visitor_history(ds, id_, start))

    def _r_aggregation(self, groups, body, access) -> None:
        sim = self.sim
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise HttpError(400, "invalid JSON") from None
        sim.aggregation_log.append(req)
        try:
            q = run_aggregation(sim.dataset, req, sim.options)
        except PipelineError as exc:
            raise HttpError(400, str(exc)) from None
        sim._count_source(q.source)
        wf = sim.faults.take("POST", "/api/v1/aggregation", q.window_hours, kinds=("window_limit",))
        if wf is not None:
            self._fault = wf
            if wf.status in (None, 400, 500):
                # The fault's defaults: Pendo's refusal as the options model it.
                raise HttpError(
                    sim.options.aggregation_refusal_status,
                    wf.body or sim.options.aggregation_refusal_text,
                )
            raise HttpError(wf.status, wf.body.encode())
        options = sim.options
        if options.latency_per_day_s and q.window_hours:
            time.sleep(options.latency_per_day_s * q.window_hours / 24)
        self._send(
            200,
            stream_results(
                q.start_time, q.rows, options.stream_chunk_rows, options.latency_per_row_s
            ),
        )

    def _r_bulk(self, groups, body, access) -> None:
        kind, group = unquote(groups[0]), unquote(groups[1])
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise HttpError(400, "malformed JSON") from None
        create = (self._qs("create") or "").lower() == "true"
        try:
            with self.sim.write_lock:
                result = self.sim.writer.bulk(kind, group, data, create)
        except WriteError as exc:
            raise HttpError(exc.status, exc.message) from None
        self._odd_answer(self.sim.options.metadata_answer, result)

    def _r_put_value(self, groups, body, access) -> None:
        kind, group = unquote(groups[0]), unquote(groups[1])
        id_, field = self._path_id(groups[2]), unquote(groups[3])
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise HttpError(400, "malformed JSON") from None
        try:
            with self.sim.write_lock:
                self.sim.writer.put_value(kind, group, id_, field, value)
        except WriteError as exc:
            raise HttpError(exc.status, exc.message) from None
        self._send(200, b"")

    def _r_get_value(self, groups, body, access) -> None:
        kind, group = unquote(groups[0]), unquote(groups[1])
        id_, field = self._path_id(groups[2]), unquote(groups[3])
        try:
            self._json(self.sim.writer.get_value(kind, group, id_, field))
        except WriteError as exc:
            raise HttpError(exc.status, exc.message) from None

    def _r_bulkdelete(self, groups, body, access) -> None:
        kind = groups[0]
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise HttpError(400, "malformed JSON") from None
        key = "visitors" if kind == "visitor" else "accounts"
        ids = data.get(key) if isinstance(data, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise HttpError(400, f'expected {{"{key}": [ids]}}')
        if len(ids) > 500:
            raise HttpError(400, "at most 500 ids per request")
        if self.sim.bulk_delete_too_soon():
            self.sim._count("rate_limited")
            raise HttpError(429, "bulk delete: at most one call a second")
        self._odd_answer(
            self.sim.options.bulk_delete_answer, {"id": self.sim.bulk_delete(kind, ids)}
        )

    def _odd_answer(self, shape: str, result: dict) -> None:
        """A write that was done, answered 200 with `result` or a body that confirms nothing."""
        if shape == "html":
            self._send(200, b"<html><body>OK</body></html>", "text/html")
        elif shape == "empty":
            self._send(200, b"")
        elif shape == "list":
            self._json([])
        elif shape == "no_counts":
            self._json({k: v for k, v in result.items() if k not in ("total", "updated", "failed")})
        elif shape == "bad_counts":
            self._json({**result, "total": result["total"] + 1})
        else:
            self._json(result)

    def _r_bulkdelete_status(self, groups, body, access) -> None:
        jobs = self.sim.bulk_delete_jobs
        if groups[0] is None:
            self._json(list(jobs.values()))
        elif groups[0] in jobs:
            self._json(jobs[groups[0]])
        else:
            raise HttpError(404, b"")

    def _track(self, key: str | None, body: bytes) -> None:
        sim = self.sim
        if key != sim.track_secret:
            if (
                key is not None
                and sim.key_access(key) is not None
                and sim.options.track_accepts_integration_key_silently
            ):
                with sim.store.lock:
                    sim.store.rejected_track_events.append({"raw": body.decode("utf-8", "replace")})
                self._send(200, b"" if sim.options.track_empty_body else b"{}")
                return
            raise HttpError(403, b"")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise HttpError(400, "malformed JSON") from None
        err = validate_track(data)
        if err:
            raise HttpError(400, err)
        if sim.track_too_soon(data["visitorId"]):
            with sim.store.lock:
                sim.store.throttled_track_events.append(data)
            self._send(200, b"" if sim.options.track_empty_body else b"{}")
            return
        accept_track(sim.store, data, sim.dataset.now_ms, sim.options.track_drop_after_days)
        self._send(200, b"" if sim.options.track_empty_body else b"{}")


def raise_status(status: int, headers: dict, handler: Handler) -> None:
    handler._send(status, b"", "text/plain", headers)


def visitor_history(ds, vid: str, start: int) -> list[dict]:
    """Deterministic activity for the 24 h from `start` (never after now)."""
    day = ds.clock.day_floor(start)
    rng = random.Random(seed_for(ds.cfg.seed, "history", vid, day))
    items = []
    t = start + rng.randrange(0, 3_600_000)
    end = min(start + 86_400_000, ds.now_ms)
    pages, features, guides = ds.page_rows, ds.feature_rows, ds.guide_rows
    for _ in range(rng.randrange(0, 9)):
        if t >= end:
            break
        kind = rng.choice(["page", "page", "feature", "guide", "untagged"])
        dur = rng.randrange(1000, 600_000)
        item = {
            "type": kind,
            "ts": t,
            "lastTs": t + dur,
            "duration": dur,
            "parsedUserAgent": {"name": "Chrome", "version": "122.0", "os": "Mac OS X"},
            "appId": ds.default_app,
        }
        if kind == "page" and pages:
            p = pages[rng.randrange(len(pages))]
            uri = (p["rules"] or [{}])[0].get("designerHint")
            item.update(pageId=p["id"], uri=uri, appId=p["appId"])
        elif kind == "feature" and features:
            f = features[rng.randrange(len(features))]
            item.update(featureId=f["id"], appId=f["appId"])
        elif kind == "guide" and guides:
            g = guides[rng.randrange(len(guides))]
            item.update(guideId=g["id"], guideStepId=g["steps"][0]["id"], appId=g["appId"])
        else:
            item["untaggedUrl"] = f"https://app.example.com/untagged/{rng.randrange(100)}"
        items.append(item)
        t += dur + rng.randrange(1000, 3_600_000)
    return items
