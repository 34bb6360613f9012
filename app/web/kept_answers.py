"""The response cache's fast path: a request answered before is sent the bytes kept for it,
before anything GraphQL-shaped is built for it.

A frontend asks the same query with the same variables again and again. Such a request needs
no router, no parsing of its JSON, no context, loaders, extensions or encoding: only the key of
what it sent (``app.cache.responses``), one lookup, and the kept bytes with the headers a fresh
answer would have had (its media type, ``Cache-Control``, ``Vary``, ``ETag`` and ``304``), its
log line's facts and its metrics. :class:`KeptAnswers` is that path, as the innermost
middleware: the request log, CORS, the body cap and authentication have judged the request
before it, and Starlette's routing and ``/graphql`` come after it only for a miss.

A miss goes on to ``/graphql`` with the body read here replayed to it, and a :class:`Keeper` in
the request's state: the endpoint alone knows whether its answer may be kept (data and no
error, no persisted query registered), and hands it over before sending it, so that the next
identical request finds it whichever replica it reaches. Never looked up or kept: a request for
a federated trace (its answer is per request), a POST that is not JSON (refused by the
endpoint), a GET without a query string (GraphiQL's page, or a refusal).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.cache.responses import KeptResponse, ResponseCache
from app.errors import Refusal
from app.ledger import Ledger
from app.web.http_caching import HttpCaching, not_modified
from app.web.media_types import GRAPHQL_RESPONSE, JSON, declares_json, encode, negotiate
from app.web.middleware import log_fields
from app.web.services import FEDERATED_TRACE_HEADER, Services, wants_federated_trace

# The key in ``scope["state"]`` of a missed request's :class:`Keeper`.
KEEPER = "keeper"

# The request headers a kept answer depends on.
_TRACE = FEDERATED_TRACE_HEADER.encode()
_READ = frozenset({b"content-type", b"accept", b"if-none-match", _TRACE})


@dataclass(frozen=True)
class Keeper:
    """Where the answer to a missed request is kept, should the endpoint find it may be."""

    responses: ResponseCache
    key: str

    async def keep(self, body: bytes, operation: str | None, fresh_for: float) -> None:
        await self.responses.put(self.key, body, operation, fresh_for)


def keeper_of(scope: Scope) -> Keeper | None:
    """The keeper of this request's answer; None when it must not be kept (or nothing keeps
    answers)."""
    keeper: Keeper | None = scope.get("state", {}).get(KEEPER)
    return keeper


class KeptAnswers:
    """Answer requests to ``path`` from the response cache when it holds their answer, with
    ``caching``'s headers, and with the hit's cost in ``extensions`` when ``cost_extension``."""

    def __init__(self, app: ASGIApp, path: str, caching: HttpCaching, cost_extension: bool):
        self.app = app
        self.path = path
        self.caching = caching
        self.cost_extension = cost_extension
        # A POST's answer is kept by no HTTP cache: its headers are the same for every answer
        # but for its length, so they are made once for each media type (making them for each
        # answer was 9,000 of a kept answer's 287,000 instructions under callgrind).
        self.post_headers = {
            media_type: _raw(caching.headers("POST", 200, b"", True, 0, False), media_type)
            for media_type in (JSON, GRAPHQL_RESPONSE)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state", {})
        services: Services | None = state.get("services")
        if scope["type"] != "http" or scope["path"] != self.path or services is None:
            await self.app(scope, receive, send)
            return
        responses = services.responses
        method = scope["method"]
        headers = {name: value for name, value in scope["headers"] if name in _READ}
        traced = wants_federated_trace(headers.get(_TRACE, b"").decode("latin-1"))
        if responses is None or traced:
            await self.app(scope, receive, send)
            return
        if method == "POST" and declares_json(headers.get(b"content-type", b"").decode("latin-1")):
            messages = await _request_messages(receive)
            body = b"".join(message.get("body", b"") for message in messages)
            key = responses.key("POST", body)
        elif method in ("GET", "HEAD") and scope["query_string"]:
            messages = []
            key = responses.key("GET", scope["query_string"])
        else:
            await self.app(scope, receive, send)
            return
        kept = await responses.get(key)
        if kept is not None:
            try:
                media_type = negotiate(headers.get(b"accept", b"").decode("latin-1"))
            except Refusal:
                pass  # The endpoint refuses it, as it would a fresh one.
            else:
                await self._send(scope, send, kept, media_type, headers.get(b"if-none-match"))
                return
        state[KEEPER] = Keeper(responses, key)
        await self.app(scope, _replaying(messages, receive) if messages else receive, send)

    async def _send(
        self,
        scope: Scope,
        send: Send,
        kept: KeptResponse,
        media_type: str,
        if_none_match: bytes | None,
    ) -> None:
        fields = log_fields(scope)
        fields["operationName"] = kept.operation
        fields["responseCache"] = "hit"
        metrics.graphql_request(kept.operation, "ok")
        body = kept.body
        if self.cost_extension:
            ledger = Ledger(response_cache_hit=True)
            ledger.used_answer(kept.fresh_for)
            # The kept body is {"data": ...}: its extensions go before its last brace.
            body = body[:-1] + b',"extensions":' + encode({"cost": ledger.as_extension()}) + b"}"
        method = scope["method"]
        if method == "POST":
            tag, raw = None, list(self.post_headers[media_type])
        else:
            authenticated = "principal" in scope["state"]
            caching = self.caching.headers(method, 200, body, True, kept.fresh_for, authenticated)
            tag, raw = caching.get("etag"), _raw(caching, media_type)
        if (
            tag is not None
            and if_none_match is not None
            and not_modified(if_none_match.decode("latin-1"), tag)
        ):
            status, body = 304, b""
        else:
            status = 200
            raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def _raw(headers: dict[str, str], media_type: str) -> list[tuple[bytes, bytes]]:
    """``headers`` and the ``media_type``, as ASGI's raw headers."""
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    raw.append((b"content-type", media_type.encode()))
    return raw


async def _request_messages(receive: Receive) -> list[Message]:
    """The messages of a request's body, up to its last part (or the client's disconnect)."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives ``messages`` again, then what ``receive`` gives."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
