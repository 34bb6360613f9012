"""ASGI middleware around every HTTP request: a body-size cap and one structured log line.

Both are pure ASGI (no BaseHTTPMiddleware), so they add no task or buffering per request.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.errors import Refusal

log = logging.getLogger("app.requests")

# The key in ``scope["state"]`` where handlers leave facts for the request's log line.
LOG_FIELDS = "log_fields"


def log_fields(scope: Scope) -> dict[str, Any]:
    """The facts for this request's log line; handlers add to it (a detached dict outside
    :class:`RequestLog`, as in tests that call an app without it)."""
    fields: dict[str, Any] = scope.get("state", {}).get(LOG_FIELDS, {})
    return fields


class RequestLog:
    """Log one JSON line per HTTP request: method, path, status, duration, plus whatever the
    handler put in ``request.state.log_fields`` (the GraphQL operation and its error codes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        fields: dict[str, Any] = {}
        scope.setdefault("state", {})[LOG_FIELDS] = fields
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            seconds = time.perf_counter() - started
            metrics.HTTP_SECONDS.labels(_route(scope["path"]), f"{status // 100}xx").observe(
                seconds
            )
            log.info(
                {
                    "event": "http_request",
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "durationMs": round(seconds * 1000, 2),
                    **fields,
                }
            )


ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})


def _route(path: str) -> str:
    """A bounded label for a path: the service's routes, else "other"."""
    if path in ROUTES:
        return path
    return "/graphiql" if path.startswith("/graphiql/") else "other"


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.too_large = Refusal(413, f"Request body exceeds {max_bytes} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self.too_large(scope, receive, send)
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


class _BodyTooLarge(Exception):
    pass
