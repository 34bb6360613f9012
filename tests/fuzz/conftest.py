"""The service under fuzz: the real app with its lifespan, driven from synchronous hypothesis
tests through an event loop of its own, against the shared local SageMaker endpoint.

Hypothesis's ``@given`` runs many examples inside one test call, so the app is started once
per module (a function-scoped async fixture would be shared silently across examples, which
hypothesis warns about) and each example sends its request with ``FuzzService.send``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from app.assembly.build import create_app
from app.local_sagemaker.faults import FaultPlan
from app.local_sagemaker.server import BackgroundEndpoint
from tests.conftest import with_lifespan
from tests.service.conftest import TEST_SETTINGS

# A request that takes longer than this fails its example instead of stalling CI.
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the service sent back, and how long it took."""

    status: int
    headers: httpx.Headers
    content: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        body = self.text if len(self.text) <= 2000 else self.text[:2000] + "..."
        return f"<Answer {self.status} {self.headers.get('content-type')!r} {body!r}>"


class FuzzService:
    """The app started once, on a loop this object owns; ``send`` is synchronous."""

    def __init__(self, endpoint: BackgroundEndpoint) -> None:
        self._loop = asyncio.new_event_loop()
        self._stack = AsyncExitStack()
        settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
        app = create_app(settings)

        async def start() -> None:
            running = await self._stack.enter_async_context(with_lifespan(app))
            # raise_app_exceptions=False: an exception that escapes the app becomes the 500 a
            # real server would send, so the property sees it as a response, not a crash here.
            transport = httpx.ASGITransport(app=running, raise_app_exceptions=False)
            self._http = httpx.AsyncClient(transport=transport, base_url="http://service")
            await self._stack.enter_async_context(self._http)

        self._loop.run_until_complete(start())

    def send(self, method: str, url: str | httpx.URL, **kwargs: Any) -> Answer:
        """One request; a hang past :data:`REQUEST_TIMEOUT_SECONDS` fails with TimeoutError."""
        started = time.monotonic()
        request = self._http.request(method, url, **kwargs)
        response = self._loop.run_until_complete(
            asyncio.wait_for(request, timeout=REQUEST_TIMEOUT_SECONDS)
        )
        seconds = time.monotonic() - started
        return Answer(response.status_code, response.headers, response.content, seconds)

    def close(self) -> None:
        try:
            self._loop.run_until_complete(self._stack.aclose())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
        finally:
            self._loop.close()


@pytest.fixture(scope="module")
def fuzz_service(shared_endpoint: BackgroundEndpoint) -> Iterator[FuzzService]:
    shared_endpoint.endpoint.faults.configure(FaultPlan())
    service = FuzzService(shared_endpoint)
    try:
        yield service
    finally:
        service.close()
