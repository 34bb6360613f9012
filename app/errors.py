"""The service's error vocabulary: codes, whether a retry can help, and the two shapes an error
takes on the wire. It imports nothing of ours, so any room may use it.

A client (or a federated gateway, which otherwise reports DOWNSTREAM_SERVICE_ERROR) needs
``extensions.code`` to decide what to do, and ``extensions.retryable`` to know whether the same
request may succeed later. Both come from the code alone, so they are built in one place
(:func:`extension`): the GraphQL presenter, the resolvers and every refusal use it.

A request refused before GraphQL runs (a body too large, no credential, a request that is not
GraphQL) is a :class:`Refusal`: one exception that is also the ASGI response sent for it, with
the same headers whichever room refuses.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    THROTTLED = "THROTTLED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_ACCESS_DENIED = "UPSTREAM_ACCESS_DENIED"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    DOCUMENT_NOT_TRUSTED = "DOCUMENT_NOT_TRUSTED"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    TOO_MANY_ERRORS = "TOO_MANY_ERRORS"
    RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later: the trouble passes (a throttle, an outage,
        a slow answer, a full service) or the client holds the fix (a persisted query's text)."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        ErrorCode.THROTTLED,
        ErrorCode.UPSTREAM_UNAVAILABLE,
        ErrorCode.DEADLINE_EXCEEDED,
        ErrorCode.PERSISTED_QUERY_NOT_FOUND,
        ErrorCode.TOO_MANY_SUBSCRIPTIONS,
    }
)


class CodedError(Exception):
    """An error that knows the code a client sees for it. Rooms below the schema raise these
    (the AWS package's domain errors, the watch's limit) and never build an extension."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_SERVER_ERROR


def code_for(error: BaseException) -> ErrorCode:
    """The code a client sees for ``error``: its own, or INTERNAL_SERVER_ERROR (a bug)."""
    return error.code if isinstance(error, CodedError) else ErrorCode.INTERNAL_SERVER_ERROR


def extension(code: ErrorCode, **facts: Any) -> dict[str, Any]:
    """A GraphQL error's ``extensions``: the code, whether a retry can help, and the facts a
    client needs to act (what it asked for, AWS's request id, a limit)."""
    return {"code": code.value, "retryable": code.retryable, **facts}


Send = Callable[[dict[str, Any]], Awaitable[None]]


class Refusal(Exception):
    """A request refused before GraphQL, and the response that says so: a GraphQL-shaped JSON
    body with one coded error, never stored by a cache.

    Raise it where the request is read; send it with ``await refusal(scope, receive, send)``
    (it is an ASGI app).
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: ErrorCode = ErrorCode.BAD_REQUEST,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        document = {"errors": [{"message": self.message, "extensions": extension(self.code)}]}
        return json.dumps(document, separators=(",", ":")).encode()

    def raw_headers(self, body: bytes) -> list[tuple[bytes, bytes]]:
        headers = {
            "content-type": "application/json",
            "content-length": str(len(body)),
            "cache-control": "no-store",
            **{name.lower(): value for name, value in self.headers.items()},
        }
        return [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]

    async def __call__(self, scope: Any, receive: Any, send: Send) -> None:
        # A WebSocket handshake is refused with the same response, through ASGI's denial
        # response extension.
        prefix = "websocket." if scope["type"] == "websocket" else ""
        body = self.body()
        start = {"type": f"{prefix}http.response.start", "status": self.status}
        await send({**start, "headers": self.raw_headers(body)})
        await send({"type": f"{prefix}http.response.body", "body": body})
