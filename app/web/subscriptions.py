"""Subscriptions at ``/graphql`` over WebSocket, in the graphql-transport-ws protocol (the one
of the ``graphql-ws`` library and of Apollo's and urql's clients).

Strawberry's ASGI view speaks the protocol; this subclass gives it the service's context, the
CORS allow-list as the origins whose pages may connect (a browser page elsewhere is refused at
the handshake; clients that send no Origin, which are not browsers, are let in), a bound on
subscriptions per connection, and, when authentication is on, the credential a client sends in
its ``connection_init`` payload (``{"X-API-Key": ...}`` or ``{"Authorization": "Bearer ..."}``;
a browser cannot set headers on a WebSocket).

A WebSocket is held to what an HTTP request is held to, and more, since it lives longer:

* each operation gets a context of its own (``SubgraphSchema.stream``): its own loaders and
  deadline, never the connection's;
* a result larger than HTTP's response limit is sent as one RESPONSE_TOO_LARGE error;
* a message that is not the protocol's (not an object, a ``subscribe`` without a string query,
  variables that are not an object) closes the socket with 4400, as the protocol says, and its
  JSON is read as strictly as a request body;
* a connection that runs no operation for ``idle_timeout`` seconds is closed (1000): a socket
  that only waits holds a connection slot, and a thousand of them would take every slot;
* a connection runs at most ANSWERS_AT_ONCE of its queries at once: each holds its answer
  until the client reads it;
* with trusted documents, a subscribe runs only a listed document (its exact text, or the
  text and the id that lists it): anything else gets one DOCUMENT_NOT_TRUSTED error, unparsed;
* a JWT-authenticated session is closed (4403) when its token expires;
* a process holds at most ``max_connections`` WebSockets: beyond, the handshake is answered 503,
  so that sockets can never take the slots HTTP requests and the health probes need.

Subscriptions are observed: a gauge of those running and a counter of the events sent
(``app.metrics``), and one log line when each starts and one when it ends, with its operation
name, duration and events; every line of a connection carries its request id (the handshake's
``X-Request-ID``, or one made for it), as an HTTP request's lines do.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from starlette.websockets import WebSocketDisconnected as ClosedBeforeSend
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from app import metrics
from app.errors import ErrorCode, Refusal, extension
from app.logs import REQUEST_ID
from app.schema import SubgraphSchema
from app.schema.context import RequestContext
from app.web.graphql_endpoint import decode_json, response_too_large
from app.web.middleware import request_id_of
from app.web.persisted_queries import DocumentNotTrusted, PersistedQueryRefused
from app.web.services import RequestContexts, services_of

if TYPE_CHECKING:
    from app.web.auth import Credentials

log = logging.getLogger("app.subscriptions")


@dataclass(frozen=True)
class SubscriptionOptions:
    # Origins whose browser pages may connect (the CORS allow-list).
    allowed_origins: tuple[str, ...]
    max_per_connection: int
    # Seconds a client has to send connection_init.
    init_timeout: float
    # Seconds a connection may run no operation before it is closed.
    idle_timeout: float
    # Most WebSockets a process holds at once.
    max_connections: int
    # Largest result message; a larger one is replaced by one RESPONSE_TOO_LARGE error.
    max_response_bytes: int


# Queries and mutations of one connection that run at once (GuardedTransportWS.run_operation).
ANSWERS_AT_ONCE = 2

# What each message type of graphql-transport-ws may carry beside "type": its members, and
# the JSON types each may have (None: the member may be absent or null).
_OBJECT_OR_NULL = (dict, type(None))
_STRING_OR_NULL = (str, type(None))
_MESSAGE_MEMBERS: dict[str, dict[str, tuple[type, ...]]] = {
    "connection_init": {"payload": _OBJECT_OR_NULL},
    "ping": {"payload": _OBJECT_OR_NULL},
    "pong": {"payload": _OBJECT_OR_NULL},
    "subscribe": {"id": (str,), "payload": (dict,)},
    "complete": {"id": (str,)},
}
_SUBSCRIBE_PAYLOAD: dict[str, tuple[type, ...]] = {
    "query": (str,),
    "variables": _OBJECT_OR_NULL,
    "operationName": _STRING_OR_NULL,
    "extensions": _OBJECT_OR_NULL,
    "documentId": _STRING_OR_NULL,
}


def protocol_problem(message: object) -> str | None:
    """Why ``message`` is not a graphql-transport-ws message a client may send; None if it is."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "A message must be a JSON object with a string `type`."
    members = _MESSAGE_MEMBERS.get(message["type"])
    if members is None:
        return f"Unknown message type: {message['type'][:64]}"
    problem = _members_problem(message, members, message["type"])
    if problem is None and message["type"] == "subscribe":
        problem = _members_problem(message["payload"], _SUBSCRIBE_PAYLOAD, "subscribe payload")
    return problem


def _is_subscription(query: str, operation_name: str | None, max_tokens: int) -> bool:
    """Whether ``query`` runs a subscription; False for what does not parse within the
    schema's token limit (the schema will refuse it, as any other request)."""
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return False
    operation = get_operation_ast(document, operation_name)
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


def _as_headers(params: Mapping[str, object]) -> Headers | None:
    """A connection_init payload as the headers a credential is read from; None when a name
    or value is not latin-1, as no header can be (and so no credential is)."""
    try:
        return Headers(
            raw=[
                (str(name).lower().encode("latin-1"), str(value).encode("latin-1"))
                for name, value in params.items()
            ]
        )
    except UnicodeEncodeError:
        return None


def _members_problem(
    value: Mapping[str, object], members: Mapping[str, tuple[type, ...]], what: str
) -> str | None:
    for name, types in members.items():
        if not isinstance(value.get(name), types):
            return f"The {what}'s `{name}` has the wrong type."
    return None


class GuardedTransportWS(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """Strawberry's protocol handler, with malformed messages refused, idle sockets closed and,
    when authentication is on, sessions held to their credential (see the module's docstring)."""

    view: SubscriptionSocket

    async def handle(self) -> None:
        self._answering = asyncio.Semaphore(ANSWERS_AT_ONCE)
        # When an operation last ended: one that starts and ends between two looks of the idle
        # watch still makes the socket busy then.
        self._ended_at = asyncio.get_running_loop().time()
        # Events sent so far to each running subscription, by operation id.
        self._events: dict[str, int] = {}
        self._watches = [asyncio.create_task(self._close_when_idle())]
        try:
            await super().handle()
        finally:
            for watch in self._watches:
                watch.cancel()

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """Let the session in only with a valid credential in its payload (else close it with
        4403), and close it (4403 again) when the credential expires: graphql-ws then opens a
        new one, with the fresh credential its ``connectionParams`` gives."""
        credentials = self.view.credentials
        if credentials is not None and not self.connection_init_received:
            sent = _as_headers(message.get("payload") or {})
            identity = None if sent is None else credentials.identify(sent)
            if identity is None:
                await self.websocket.close(code=4403, reason="Forbidden")
                return
            if identity.expires_at is not None:
                left = identity.expires_at - credentials.clock()
                self._watches.append(asyncio.create_task(self._close_after(left)))
        await super().handle_connection_init(message)

    async def _close_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.websocket.close(code=4403, reason="Session expired")

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """Strawberry's, with a document that is not trusted (when trusted documents are on)
        and the per-connection limit answered as coded errors (strawberry's own has no code)."""
        # Unacknowledged, strawberry's closes the socket (4401) as before.
        untrusted = self._untrusted(message) if self.connection_acknowledged else None
        if untrusted is not None:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [untrusted.formatted]}
            )
            return
        limit = self.view.options.max_per_connection
        taken = message["id"] in self.operations
        if self.connection_acknowledged and not taken and len(self.operations) >= limit:
            full = GraphQLError(
                f"This connection runs its most operations at once ({limit}); complete one or"
                " open another connection.",
                extensions=extension(ErrorCode.TOO_MANY_SUBSCRIPTIONS, maxPerConnection=limit),
            )
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [full.formatted]}
            )
            return
        await super().handle_subscribe(message)

    def _untrusted(self, message: SubscribeMessage) -> GraphQLError | None:
        """The error for a subscribe that runs no trusted document; None when it runs one, or
        when trusted documents are off. The same check as HTTP's, before anything is parsed."""
        assert isinstance(self.websocket, ASGIWebSocketAdapter)
        trusted = services_of(self.websocket.ws).persisted.trusted
        if trusted is None:
            return None
        # protocol_problem has checked these members' types; documentId is not strawberry's.
        payload = cast("dict[str, Any]", message["payload"])
        try:
            trusted.document_for(
                payload["query"], payload.get("extensions"), payload.get("documentId")
            )
        except DocumentNotTrusted as untrusted:
            return GraphQLError(
                str(untrusted), extensions=extension(ErrorCode.DOCUMENT_NOT_TRUSTED)
            )
        except PersistedQueryRefused as refused:
            return GraphQLError(str(refused), extensions=extension(ErrorCode.BAD_REQUEST))
        return None

    async def run_operation(self, operation: Operation[RequestContext, None]) -> None:
        """Run a query or mutation only while fewer than ANSWERS_AT_ONCE of this connection's
        are running: each holds its whole answer until the client has read it, so a client
        that sends twenty and reads none would otherwise hold twenty answers. A subscription
        runs at once: it holds little while it waits for events."""
        max_tokens = self.view.max_tokens
        try:
            if _is_subscription(operation.query, operation.operation_name, max_tokens):
                await self._run_subscription(operation)
                return
            async with self._answering:
                await super().run_operation(operation)
        finally:
            self._ended_at = asyncio.get_running_loop().time()

    async def _run_subscription(self, operation: Operation[RequestContext, None]) -> None:
        """Run a subscription, counted while it runs and logged when it starts and ends (its
        source settled, the client completed it, or the socket closed)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        named = {"operationName": operation.operation_name, "operationId": operation.id}
        log.info({"event": "subscription_started", **named})
        metrics.SUBSCRIPTIONS_ACTIVE.inc()
        self._events[operation.id] = 0
        try:
            await super().run_operation(operation)
        finally:
            metrics.SUBSCRIPTIONS_ACTIVE.dec()
            log.info(
                {
                    "event": "subscription_completed",
                    **named,
                    "durationMs": round((loop.time() - started) * 1000, 2),
                    "events": self._events.pop(operation.id, 0),
                }
            )

    async def send_message(self, message: Message) -> None:
        await super().send_message(message)
        # Counted once sent: an event the socket could not take reached nobody.
        operation_id = message.get("id")
        if message["type"] == "next" and operation_id in self._events:
            self._events[operation_id] += 1
            metrics.SUBSCRIPTION_EVENTS.inc()

    async def handle_task_exception(self, error: Exception) -> None:
        # An operation that answers after its socket closed (the client left, or the socket
        # was closed for a protocol error) has nobody to answer: not an error of ours.
        if not isinstance(error, WebSocketDisconnected | ClosedBeforeSend):
            await super().handle_task_exception(error)

    async def handle_message(self, message: Message) -> None:
        problem = protocol_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def _close_when_idle(self) -> None:
        loop = asyncio.get_running_loop()
        idle_timeout = self.view.options.idle_timeout
        busy_at = loop.time()
        while True:
            if self.operations:
                busy_at = loop.time()
            busy_at = max(busy_at, self._ended_at)
            idle_for = loop.time() - busy_at
            if idle_for >= idle_timeout:
                await self.websocket.close(code=1000, reason="Idle")
                return
            await asyncio.sleep(idle_timeout - idle_for)


class SubscriptionSocket(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = GuardedTransportWS

    def __init__(
        self,
        schema: SubgraphSchema,
        contexts: RequestContexts,
        options: SubscriptionOptions,
        credentials: Credentials | None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=options.allowed_origins,
            # Held by GuardedTransportWS.handle_subscribe, with a coded error.
            max_subscriptions_per_connection=None,
            connection_init_wait_timeout=timedelta(seconds=options.init_timeout),
        )
        self.options = options
        self.credentials = credentials
        self.max_tokens = schema.limits.max_tokens
        self._contexts = contexts
        self._open = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        if self._open >= self.options.max_connections:
            busy = Refusal(
                503,
                f"This server holds its most WebSocket connections "
                f"({self.options.max_connections}); try again later.",
                ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                headers={"Retry-After": "5"},
            )
            await busy(scope, receive, send)
            return
        self._open += 1
        # Every line the connection logs names it, as an HTTP request's lines do.
        request_id = REQUEST_ID.set(request_id_of(scope["headers"]))
        try:
            await super().__call__(scope, receive, send)
        finally:
            REQUEST_ID.reset(request_id)
            self._open -= 1

    def encode_json(self, data: object) -> str:
        """A message as JSON; an operation's result over the response byte limit (HTTP's) is
        sent as one RESPONSE_TOO_LARGE error instead. Strawberry's JSON is ASCII: its length is
        its size in bytes."""
        text = json.dumps(data, separators=(",", ":"))
        limit = self.options.max_response_bytes
        if len(text) <= limit or not isinstance(data, dict) or data.get("type") != "next":
            return text
        too_large = response_too_large(len(text), limit)
        payload = {"data": None, "errors": [too_large.formatted]}
        return json.dumps({"id": data["id"], "type": "next", "payload": payload})

    def decode_json(self, data: str | bytes) -> object:
        """A message's JSON, read as strictly as a request body's; what a request body would be
        refused for closes the socket (4400) as JSON that is not valid."""
        try:
            return decode_json(data, "The message")
        except Refusal as refusal:
            raise json.JSONDecodeError(refusal.message, "", 0) from None

    async def get_context(  # type: ignore[override]
        self, request: WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        return self._contexts(request)
