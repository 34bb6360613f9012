"""ASGI middleware around every HTTP request: its id, its span, one structured log line, and a
body-size cap.

Both are pure ASGI (no BaseHTTPMiddleware), so they add no task or buffering per request.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.errors import Refusal
from app.logs import REQUEST_ID, REQUEST_LINES
from app.spans import start_request_span

tracer = trace.get_tracer("app.web")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode()
# A request id a client may choose: short printable ASCII, so that it fits a log line and a
# header as it came (anything else is replaced, never echoed).
_CLIENT_REQUEST_ID = re.compile(r"[!-~]{1,128}")

# The key in ``scope["state"]`` where handlers leave facts for the request's log line.
LOG_FIELDS = "log_fields"


def log_fields(scope: Scope) -> dict[str, Any]:
    """The facts for this request's log line; handlers add to it (a detached dict outside
    :class:`RequestLog`, as in tests that call an app without it)."""
    fields: dict[str, Any] = scope.get("state", {}).get(LOG_FIELDS, {})
    return fields


class RequestLog:
    """Observe each HTTP request: its id (``X-Request-ID``, the client's when it is short
    printable text, else made here; returned on the response and in every log line of the
    request), its OpenTelemetry span (a child of the caller's, when the request carries a W3C
    ``traceparent``), and one JSON line at its end: method, path, status, duration, plus
    whatever the handler put in ``request.state.log_fields`` (the GraphQL operation and its
    error codes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope["headers"])
        request_id_header = (_REQUEST_ID_NAME, request_id.encode())
        fields: dict[str, Any] = {}
        scope.setdefault("state", {})[LOG_FIELDS] = fields
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        route = _route(scope["path"])
        request_id_set = REQUEST_ID.set(request_id)
        try:
            with start_request_span(
                tracer,
                f"{scope['method']} {route}",
                scope["headers"],
                attributes={
                    "http.request.method": scope["method"],
                    "url.path": scope["path"],
                    "http.route": route,
                    "http.request.id": request_id,
                },
            ) as span:
                try:
                    await self.app(scope, receive, send_and_note_status)
                finally:
                    seconds = time.perf_counter() - started
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)
                    metrics.http_request(route, status, seconds)
                    REQUEST_LINES.write(
                        {
                            "event": "http_request",
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "durationMs": round(seconds * 1000, 2),
                            **fields,
                        },
                        request_id,
                        span,
                    )
        finally:
            REQUEST_ID.reset(request_id_set)


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The id of a request that came with ``headers`` (ASGI's, names in lower case): its
    ``X-Request-ID`` when that is one (a gateway's or a frontend's, so that its logs and ours
    name the request alike), else a new one."""
    for name, value in headers:
        if name == _REQUEST_ID_NAME:
            sent = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(sent):
                return sent
            break
    # Unique, not secret: this process's random prefix and a count (a uuid4 per request was
    # 2.6 % of a cached answer's CPU, for the random bytes it asks the kernel for), in hex by
    # bytes.hex (formatting with "016x" took twice as long).
    return _ID_PREFIX + next(_ID_COUNT).to_bytes(8).hex()


_ID_PREFIX = secrets.token_hex(8)
_ID_COUNT = itertools.count()


ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})


def _route(path: str) -> str:
    """A bounded label for a path: the service's routes, else "other"."""
    if path in ROUTES:
        return path
    return "/graphiql" if path.startswith("/graphiql/") else "other"


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 before they are read into memory.

    A body whose size the request declares (``Content-Length``, and no ``Transfer-Encoding``)
    is judged by that alone: HTTP/1.1's framing, which uvicorn's parsers keep, ends it there,
    so its parts need no counting (nor a ``receive`` wrapped around every one). A chunked body
    is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.too_large = Refusal(413, f"Request body exceeds {max_bytes} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope["headers"])
        if declared is not None:
            if declared > self.max_bytes:
                await self.too_large(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted_receive, send)
        except _BodyTooLarge:
            await self.too_large(scope, receive, send)


def _declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """The body size ``headers`` declare, when that is the body's framing."""
    declared = None
    for name, value in headers:
        if name == b"content-length" and declared is None:
            declared = value
        elif name == b"transfer-encoding":
            return None
    return int(declared) if declared is not None and declared.isdigit() else None


class _BodyTooLarge(Exception):
    pass
