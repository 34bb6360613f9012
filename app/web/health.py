"""Liveness and readiness.

``/healthz`` says the process serves HTTP and nothing more, so an orchestrator restarts it only
when it is truly stuck. ``/readyz`` says SageMaker answers, and with what it should, so traffic
is held back while it does not; the check is one cheap call, bounded by a short timeout (a probe
that hangs is a failed probe), reused for a few seconds, and concurrent probes share it.

Redis is a cache, not a dependency: while it is bypassed (its breaker open, after it failed or
stalled) the service still answers, from SageMaker, so ``/readyz`` stays 200 and says
``"status": "degraded"`` with ``"cache": "bypassed"``: an operator sees it, an orchestrator does
not pull a replica that serves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.cache.breaker import CircuitBreaker
from app.errors import ErrorCode, code_for
from app.sagemaker import SageMakerCalls


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


class Readiness:
    def __init__(
        self,
        sagemaker: SageMakerCalls,
        cache_seconds: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
        cache: CircuitBreaker | None = None,
    ) -> None:
        self._sagemaker = sagemaker
        self._cache = cache
        self._cache_seconds = cache_seconds
        self._timeout = timeout
        self._clock = clock
        self._lock = asyncio.Lock()
        self._checked_at: float | None = None
        self._problem: str | None = None

    async def problem(self) -> str | None:
        """None when SageMaker answered the last check; else the error code that it failed with."""
        async with self._lock:
            now = self._clock()
            if self._checked_at is None or now - self._checked_at >= self._cache_seconds:
                self._problem = await self._check()
                self._checked_at = self._clock()
            return self._problem

    async def _check(self) -> str | None:
        try:
            await asyncio.wait_for(self._sagemaker.check_reachable(), self._timeout)
        except TimeoutError:
            return ErrorCode.UPSTREAM_UNAVAILABLE.value
        except Exception as error:
            return code_for(error).value
        return None

    async def endpoint(self, request: Request) -> Response:
        problem = await self.problem()
        if problem is None:
            if self._cache is not None and self._cache.bypassing:
                return JSONResponse({"status": "degraded", "cache": "bypassed"})
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable", "code": problem}, status_code=503)
