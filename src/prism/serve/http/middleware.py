"""EdgeMiddleware: request ids, the body-size limit (before parsing), security and rate headers, access log,
metering, and the 500 for an unexpected error (so that it, too, carries the request id and the headers).

Each request gets a meter tally (`prism.ops.meter.count` adds to it from any layer); when it
ends, the edge writes one JSON access line (request id, method, route, status, latency, key,
project) and hands a `RequestRecord` to `observe` (metrics, meter, quotas).

A pure ASGI middleware (no BaseHTTPMiddleware overhead). It reads the body itself, up to
the limit, before any route sees it: a declared Content-Length over the limit is refused
without reading, a chunked body is refused as soon as it passes the limit.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prism.ops.meter import NONE, RequestRecord, begin_request, end_request
from prism.serve.http.auth import PERMISSION_KEY
from prism.serve.http.errors import envelope
from prism.serve.http.logs import request_id_var

log = logging.getLogger("prism.http.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

Observer = Callable[[RequestRecord], None]
# What a successful request of a route with this action counts, beside one request.
COUNTED_BY_NEED = {"search": "searches", "context": "context_packs", "index.write": "index_writes", "ask": "asks"}


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, hsts: bool = False,
                 observe: Observer | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.hsts = hsts
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        tally, tally_token = begin_request()
        status = 500
        started = False

        async def send_wrapped(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                extra = [(b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
                if self.hsts:
                    extra.append(HSTS)
                rate = scope["state"].get("ratelimit")
                if isinstance(rate, dict):
                    extra.extend((k.lower().encode(), str(v).encode()) for k, v in rate.items())
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        try:
            body_receive = await self._read_body(headers, receive, send_wrapped, request_id)
            if body_receive is not None:
                await self.app(scope, body_receive, send_wrapped)
        except Exception as exc:
            # Answered here, inside the request's context: the 500 carries the request id and the
            # headers, the log line the same id, and the connection stays usable. Re-raising would
            # make the server close it (without `Connection: close`, so a pooled client fails).
            log.error("unexpected error on %s %s", scope["method"], scope.get("path", ""), exc_info=exc)
            if started:
                raise  # half a response is on the wire: only closing the connection can end it
            await _reject(send_wrapped, 500, "internal_error",
                          "The server hit an unexpected error; it has been logged.", request_id, close=False)
        finally:
            seconds = time.perf_counter() - start
            record = _record(scope, status, seconds, request_id, tally)
            fields = {"method": record.method, "route": record.route, "status": status if started else "aborted",
                      "latency_ms": round(seconds * 1000, 2), "key_id": record.key, "project": record.project}
            log.info("%s %s %s %.1fms", record.method, record.route, fields["status"], seconds * 1000,
                     extra={"fields": fields})
            if self.observe is not None:
                try:
                    self.observe(record)
                except Exception:  # metering must never fail the answer (it has been sent)
                    log.exception("metering the request failed")
            end_request(tally_token)
            request_id_var.reset(token)

    async def _read_body(self, headers: dict[str, str], receive: Receive, send: Send,
                         request_id: str) -> Receive | None:
        """A receive that replays the (size-checked) body, or None after answering 400/413 itself."""
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _reject(send, 400, "bad_request", "Content-Length is not a number.", request_id)
                return None
            if int(declared) > self.max_body_bytes:
                await _reject(send, 413, "payload_too_large",
                              f"The request body is over the {self.max_body_bytes}-byte limit.", request_id,
                              {"limit_bytes": self.max_body_bytes})
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _reject(send, 413, "payload_too_large",
                              f"The request body is over the {self.max_body_bytes}-byte limit.", request_id,
                              {"limit_bytes": self.max_body_bytes})
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


def _record(scope: Scope, status: int, seconds: float, request_id: str, tally: Counter[str]) -> RequestRecord:
    route = scope.get("route")
    path = getattr(route, "path", None) or "unmatched"
    need = (getattr(route, "openapi_extra", None) or {}).get(PERMISSION_KEY)
    tally["requests"] += 1
    if status >= 500:
        tally["errors"] += 1
    if status < 400 and need in COUNTED_BY_NEED:
        tally[COUNTED_BY_NEED[need]] += 1
    project = (scope.get("path_params") or {}).get("project")
    principal = scope["state"].get("principal")
    return RequestRecord(scope["method"], path, status, seconds, request_id,
                         key=getattr(principal, "usage_id", NONE),
                         project=project if isinstance(project, str) and route is not None else NONE,
                         need=need if isinstance(need, str) else None, tally=dict(tally))


async def _reject(send: Send, status: int, code: str, message: str, request_id: str,
                  details: dict[str, Any] | None = None, *, close: bool = True) -> None:
    """Answer with the error envelope; `close` when the request body was left unread."""
    payload = json.dumps(envelope(code, message, details, request_id)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
