"""The ASGI app: routes, middleware, and the lifespan that owns the SageMaker client.

``create_app(settings)`` builds an app; the module-level ``app`` is one built from the
environment, so ``uvicorn app.main:app`` works as well as ``python -m app serve``.

Routes: ``/graphql`` (POST and GET; GraphiQL for a browser, its bundles under ``/graphiql/``),
``/healthz``, ``/readyz``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from app import graphiql
from app.errors import ErrorCode, error_document
from app.health import Readiness, healthz
from app.loaders import Loaders
from app.middleware import BodyLimit, RequestLog, log_fields
from app.sagemaker import SageMaker, build_client
from app.schema import schema
from app.schema.context import RequestContext
from app.settings import Settings

log = logging.getLogger("app")

MAX_BODY_BYTES = 256 * 1024


class Services:
    """What the lifespan starts and requests use. Empty until the app has started."""

    sagemaker: SageMaker
    readiness: Readiness


class GraphQLEndpoint(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with this service's context and refusals."""

    def __init__(self, services: Services) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self._services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # As strawberry's own, but a refused request gets a GraphQL-shaped JSON body with a
        # code instead of plain text, so clients can handle every failure the same way.
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as refusal:
            document = error_document(refusal.reason, ErrorCode.BAD_REQUEST)
            response = JSONResponse(document, status_code=refusal.status_code)
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        if graphiql.installed():
            return HTMLResponse(graphiql.page())
        return await super().render_graphql_ide(request)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "Request body is not valid UTF-8.") from None

    async def get_context(self, request: Request, response: Response) -> RequestContext:  # type: ignore[override]
        # Fresh loaders per request: their cache is this request's memo, never another user's.
        return RequestContext(
            loaders=Loaders(self._services.sagemaker), log_fields=log_fields(request.scope)
        )


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
        client = await asyncio.to_thread(build_client, settings, endpoint_url)
        services.sagemaker = SageMaker(client, settings.pool_size)
        stack.callback(services.sagemaker.close)
        services.readiness = Readiness(services.sagemaker, settings.readiness_cache_seconds)
        yield


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    services = Services()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with run_services(settings, services):
            log.info(
                f"GraphQL (and GraphiQL in a browser) at http://{settings.host}:{settings.port}/graphql"
            )
            yield

    async def readyz(request: Request) -> Response:
        return await services.readiness.endpoint(request)

    middleware: list[Any] = [
        Middleware(RequestLog),
        Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES),
    ]
    return Starlette(
        routes=[
            Route("/graphql", GraphQLEndpoint(services), methods=["GET", "POST"]),
            Route(f"{graphiql.ASSETS_PATH}/{{name}}", graphiql.asset, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )


app = create_app()
