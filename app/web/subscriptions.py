"""Subscriptions at ``/graphql`` over WebSocket, in the graphql-transport-ws protocol (the one
of the ``graphql-ws`` library and of Apollo's and urql's clients).

Strawberry's ASGI view speaks the protocol; this subclass gives it the service's context, the
CORS allow-list as the origins whose pages may connect (a browser page elsewhere is refused at
the handshake; clients that send no Origin, which are not browsers, are let in), a bound on
subscriptions per connection, and, when authentication is on, the credential a client sends in
its ``connection_init`` payload (``{"X-API-Key": ...}`` or ``{"Authorization": "Bearer ..."}``;
a browser cannot set headers on a WebSocket).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from app.errors import ErrorCode
from app.schema import SubgraphSchema
from app.schema.context import RequestContext
from app.web.services import RequestContexts

if TYPE_CHECKING:
    from app.web.auth import Credentials

NO_PAYLOAD = UnsetType()


@dataclass(frozen=True)
class SubscriptionOptions:
    # Origins whose browser pages may connect (the CORS allow-list).
    allowed_origins: tuple[str, ...]
    max_per_connection: int
    # Seconds a client has to send connection_init.
    init_timeout: float


class SubscriptionSocket(GraphQL[RequestContext, None]):
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
            max_subscriptions_per_connection=options.max_per_connection,
            connection_init_wait_timeout=timedelta(seconds=options.init_timeout),
        )
        self._contexts = contexts
        self._credentials = credentials

    async def get_context(  # type: ignore[override]
        self, request: WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        return self._contexts(request)

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:
        """Accept the connection (an acknowledgement without payload), or, when authentication
        is on and ``connection_init`` carries no valid credential, close it (4403)."""
        if self._credentials is not None:
            params = context.connection_params or {}
            sent = {name.lower(): str(value) for name, value in params.items()}
            if self._credentials.identify(Headers(sent)) is None:
                raise ConnectionRejectionError({"code": ErrorCode.UNAUTHENTICATED.value})
        return NO_PAYLOAD
