"""The GraphQL service under test: the real app, its lifespan and boto3 client, talking over HTTP
to the shared local SageMaker endpoint."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.assembly.build import create_app
from app.assembly.settings import Settings
from app.local_sagemaker.server import BackgroundEndpoint
from app.sagemaker.targets import Target
from tests.conftest import with_lifespan

# Two attempts keep the retry tests quick; the retry itself is what matters. No cache across
# requests: most tests count the calls one request makes (tests/service/test_cache.py turns it on).
TEST_SETTINGS = Settings(backend="local", max_attempts=2, readiness_cache_seconds=60, cache="off")
# Where a service on the local endpoint goes by default: its home region, and the account its
# STS reports for the service's stand-in credentials.
LOCAL_TARGET = Target.of("us-east-1", "123456789012")


class GraphQLClient:
    """A frontend's view of the service: POST a query, get the JSON answer."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def query(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@asynccontextmanager
async def serving(
    settings: Settings,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncIterator[tuple[Starlette, GraphQLClient]]:
    """The app (judging freshness by ``clock``, timing the cache's cool-downs by ``monotonic``)
    with its lifespan running, and a client over the ASGI transport."""
    app = create_app(settings, clock, monotonic)
    async with with_lifespan(app) as running:
        transport = httpx.ASGITransport(app=running)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
            yield app, GraphQLClient(http)


@pytest.fixture
async def service(endpoint: BackgroundEndpoint) -> AsyncIterator[GraphQLClient]:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    async with serving(settings) as (_, client):
        yield client


def errors_by_path(body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(error["path"]): error for error in body.get("errors", [])}
