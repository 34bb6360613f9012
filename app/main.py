"""The ASGI app: routes, middleware, and the lifespan that owns the SageMaker client.

``create_app(settings)`` builds an app; the module-level ``app`` is one built from the
environment, so ``uvicorn app.main:app`` works as well as ``python -m app serve``.

Routes: ``/graphql`` (POST and GET; GraphiQL for a browser, its bundles under ``/graphiql/``),
``/healthz``, ``/readyz``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from app import graphiql, metrics
from app.cache.build import build_caches
from app.loaders import Loaders
from app.sagemaker import SageMaker, SageMakerCalls, build_transport
from app.sagemaker.client import namespace_of
from app.schema import build_schema
from app.schema.context import RequestContext
from app.settings import Settings
from app.watch import VersionWatch
from app.web.graphql_endpoint import GraphQLEndpoint, Stores
from app.web.health import Readiness, healthz
from app.web.middleware import BodyLimit, RequestLog, log_fields
from app.web.persisted_queries import PersistedQueries
from app.web.subscriptions import SubscriptionSocket

if TYPE_CHECKING:
    from app.web.auth import Credentials

log = logging.getLogger("app")

GRAPHQL_PATH = "/graphql"


class Services:
    """What the lifespan starts and requests use. Empty until the app has started."""

    sagemaker: SageMakerCalls
    stores: Stores
    watch: VersionWatch
    readiness: Readiness


@asynccontextmanager
async def run_services(settings: Settings, services: Services) -> AsyncIterator[None]:
    """Start the SageMaker side (the embedded local endpoint when it is the backend), and stop
    it all on the way out."""
    async with AsyncExitStack() as stack:
        endpoint_url = settings.endpoint_url
        if settings.backend == "local" and endpoint_url is None:
            # Imported only here: a service on AWS never loads the local endpoint's code.
            from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions

            options = EndpointOptions(db=settings.local_db, region=settings.region)
            embedded = await asyncio.to_thread(BackgroundEndpoint(options).start)
            stack.callback(embedded.stop)
            endpoint_url = embedded.url
            log.info(
                f"Backend: the embedded local SageMaker endpoint at {endpoint_url} with its demo "
                f"catalog ({settings.local_db}). Set SMGQL_BACKEND=aws for real SageMaker."
            )
        else:
            where = endpoint_url or f"SageMaker in {settings.region}"
            log.info(f"Backend: {settings.backend}, {where}")
        transport = await asyncio.to_thread(build_transport, settings, endpoint_url)
        shared = settings.cache == "redis"
        namespace = settings.cache_namespace or await namespace_of(settings, endpoint_url, shared)
        rate_limit = None
        if settings.rate_limit is not None:
            # Imported here: only a service with a rate limit loads the limits library.
            from app.sagemaker.rate_limit import RateLimit

            rate_limit = RateLimit(
                settings.rate_limit,
                settings.redis_url if shared else None,
                namespace,
                max_wait=settings.request_timeout,
            )
        sagemaker = SageMaker(transport, rate_limit)
        stack.push_async_callback(sagemaker.aclose)
        caches = await build_caches(settings, sagemaker, namespace, stack)
        services.sagemaker = caches.calls
        services.stores = Stores(caches.responses, PersistedQueries(caches.store))
        services.watch = VersionWatch(caches.calls, settings.max_subscriptions)
        stack.push_async_callback(services.watch.close)
        services.readiness = Readiness(
            services.sagemaker, settings.readiness_cache_seconds, settings.readiness_timeout
        )
        yield


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    services = Services()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with run_services(settings, services):
            log.info(
                f"GraphQL (and GraphiQL in a browser) at http://{settings.host}:{settings.port}"
                f"{GRAPHQL_PATH}"
            )
            yield

    def context(connection: HTTPConnection) -> RequestContext:
        # Fresh loaders per request: their cache is this request's memo, never another user's.
        return RequestContext(
            loaders=Loaders(services.sagemaker, settings.request_timeout),
            settings=settings,
            watch=services.watch,
            log_fields=log_fields(connection.scope),
        )

    async def readyz(request: Request) -> Response:
        return await services.readiness.endpoint(request)

    async def metrics_page(request: Request) -> Response:
        body, media_type = metrics.exposition()
        return Response(body, media_type=media_type)

    schema = build_schema(settings)
    graphql = GraphQLEndpoint(schema, context, lambda: services.stores, settings)
    subscriptions = SubscriptionSocket(schema, context, settings, _credentials(settings))
    return Starlette(
        routes=[
            Route(GRAPHQL_PATH, graphql),
            WebSocketRoute(GRAPHQL_PATH, subscriptions),
            Route(f"{graphiql.ASSETS_PATH}/{{name}}", graphiql.asset, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
        ],
        middleware=_middleware(settings),
        lifespan=lifespan,
    )


def _middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: every request is logged; a browser's preflight is answered before
    anything asks it for a body or a credential; bodies are capped before they are read."""
    middleware = [Middleware(RequestLog)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Content-Type", "Authorization", "X-API-Key"],
                max_age=600,
            )
        )
    middleware.append(Middleware(BodyLimit, max_bytes=settings.max_body_bytes))
    credentials = _credentials(settings)
    if credentials is not None:
        from app.web.auth import Authentication

        middleware.append(
            Middleware(Authentication, credentials=credentials, guarded_path=GRAPHQL_PATH)
        )
    return middleware


def _credentials(settings: Settings) -> Credentials | None:
    """What authentication accepts; None when it is off."""
    if settings.api_keys_file is None and settings.jwks_file is None:
        return None
    # Imported here: JWT support (PyJWT, cryptography) costs about 8 MB a process, which a
    # service without authentication does not pay.
    from app.web.auth import Credentials

    return Credentials.from_settings(settings)


app = create_app()
