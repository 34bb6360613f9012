"""The ASGI app: the service's routes and middleware, over the services its lifespan starts.

Routes: ``/graphql`` (POST and GET; GraphiQL for a browser, its bundles under ``/graphiql/``;
subscriptions over WebSocket), ``/healthz``, ``/readyz``, ``/metrics`` (with a metrics token,
for its bearer only; else behind authentication when it is on, as ``/graphql`` is, and open
when it is off; the probes stay open).

The app is built with a way to start its services (``start``, the assembly's) and nothing else
of the world: what ``start`` yields becomes the lifespan state every request reads
(``app.web.services``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from app import graphiql, metrics
from app.errors import ErrorCode, Refusal
from app.schema import SubgraphSchema
from app.web.graphql_endpoint import EndpointOptions, GraphQLEndpoint
from app.web.health import healthz
from app.web.kept_answers import KeptAnswers
from app.web.middleware import BodyLimit, RequestLog
from app.web.services import RequestContexts, Services, State, services_of
from app.web.subscriptions import SubscriptionOptions, SubscriptionSocket

if TYPE_CHECKING:
    from app.web.auth import Credentials

GRAPHQL_PATH = "/graphql"
HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"
METRICS_PATH = "/metrics"
# Open with authentication on: an orchestrator probes without credentials.
PROBE_PATHS = frozenset({HEALTHZ_PATH, READYZ_PATH})


@dataclass(frozen=True)
class WebOptions:
    endpoint: EndpointOptions
    subscriptions: SubscriptionOptions
    # Seconds a request waits for SageMaker in all.
    request_timeout: float
    max_body_bytes: int
    # Origins whose browser pages may call the API.
    cors_origins: tuple[str, ...]
    # The bearer token /metrics needs instead of the API's credentials (a scraper's).
    metrics_token: str | None = None


def web_app(
    schema: SubgraphSchema,
    options: WebOptions,
    credentials: Credentials | None,
    start: Callable[[], AbstractAsyncContextManager[Services]],
) -> Starlette:
    """The app serving ``schema``, whose lifespan runs ``start()``; requests need a credential
    when ``credentials`` is given."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        async with start() as services, metrics.counting_waiting():
            yield {"services": services}

    contexts = RequestContexts(schema.limits, options.request_timeout)
    graphql = GraphQLEndpoint(schema, contexts, options.endpoint)
    subscriptions = SubscriptionSocket(schema, contexts, options.subscriptions, credentials)
    return Starlette(
        routes=[
            Route(GRAPHQL_PATH, graphql),
            WebSocketRoute(GRAPHQL_PATH, subscriptions),
            Route(f"{graphiql.ASSETS_PATH}/{{name}}", graphiql.asset, methods=["GET"]),
            Route(HEALTHZ_PATH, healthz, methods=["GET"]),
            Route(READYZ_PATH, _readyz, methods=["GET"]),
            Route(METRICS_PATH, MetricsExposition(options.metrics_token), methods=["GET"]),
        ],
        middleware=_middleware(options, credentials),
        lifespan=lifespan,
    )


async def _readyz(request: Request) -> Response:
    return await services_of(request).readiness.endpoint(request)


class MetricsExposition:
    """``/metrics``, for the bearer of ``token`` only when there is one. Compared as SHA-256
    digests, so that neither the token's length nor how much of it matched shows in the time
    an answer takes."""

    def __init__(self, token: str | None) -> None:
        self.wanted = hashlib.sha256(token.encode()).digest() if token is not None else None
        self.refusal = Refusal(
            401,
            "/metrics needs the metrics token: Authorization: Bearer <token>.",
            ErrorCode.UNAUTHENTICATED,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.wanted is not None and not self._bearer(Headers(scope=scope)):
            await self.refusal(scope, receive, send)
            return
        body, media_type = metrics.exposition()
        await Response(body, media_type=media_type)(scope, receive, send)

    def _bearer(self, headers: Headers) -> bool:
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        digest = hashlib.sha256(presented.strip().encode()).digest()
        return scheme.lower() == "bearer" and hmac.compare_digest(digest, self.wanted or b"")


def _middleware(options: WebOptions, credentials: Credentials | None) -> list[Middleware]:
    """Outermost first: every request is logged; a browser's preflight is answered before
    anything asks it for a body or a credential; bodies are capped before they are read; and
    once all of them have judged a request, an answer the response cache holds is sent before
    routing (``app.web.kept_answers``)."""
    middleware = [Middleware(RequestLog)]
    if options.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(options.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Content-Type", "Authorization", "X-API-Key"],
                max_age=600,
            )
        )
    middleware.append(Middleware(BodyLimit, max_bytes=options.max_body_bytes))
    if credentials is not None:
        # Imported here: JWT support (PyJWT, cryptography) costs about 8 MB a process, which a
        # service without authentication does not pay.
        from app.web.auth import Authentication

        middleware.append(
            Middleware(
                Authentication,
                credentials=credentials,
                page_path=GRAPHQL_PATH,
                # With its own token, /metrics is its bearer's (a scraper's), not an API user's.
                open_paths=PROBE_PATHS | {METRICS_PATH} if options.metrics_token else PROBE_PATHS,
                open_prefix=f"{graphiql.ASSETS_PATH}/",
            )
        )
    middleware.append(
        Middleware(
            KeptAnswers,
            path=GRAPHQL_PATH,
            caching=options.endpoint.http_caching(),
            cost_extension=options.endpoint.cost_extension,
        )
    )
    return middleware
