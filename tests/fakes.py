"""Stand-ins for the unit tests: a clock a test moves, SageMaker's calls answered from a table,
and a transport in the style of httpx's ``MockTransport`` (a handler answers each request).

Integration tests use the real parts (boto3 over HTTP to the local endpoint, Redis); these serve
tests of one room's logic, where the clock and the answers must be the test's to decide.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar

from app.ledger import Ledger
from app.sagemaker import ImageVersionDescription
from app.sagemaker.operations import Key, Operation

K = TypeVar("K", bound=Key)
V = TypeVar("V")


class FakeClock:
    """Seconds that pass only when a test says so: call it for now, :meth:`advance` to move."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class TickingClock:
    """Seconds that pass by ``step`` at every reading: a waiter polling an endpoint on this clock
    sees its transitions end after a few polls, with nothing sleeping."""

    def __init__(self, step: float, now: float = 1_000_000.0) -> None:
        self.step = step
        self.now = now

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class SkippingClock:
    """Real time, plus what a test skips: a transition the test does not watch ends at once,
    one it watches takes its real time."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.time() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


Answer = Callable[[Hashable], object]


class FakeSageMaker:
    """SageMaker's calls (``SageMakerCalls``) answered by ``answers[operation name](key)``: a
    value is returned, an exception raised. Counts the calls per operation and sets
    :attr:`arrived` as each comes; while :attr:`gate` is cleared, every call waits for it (to
    hold calls in flight)."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.calls: Counter[str] = Counter()
        # Set by every call as it arrives: what a test waits for to know a call is in flight.
        self.arrived = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()
        self.reachable: Exception | None = None

    async def call(self, operation: Operation[K, V], key: K, ledger: Ledger) -> V:
        self.calls[operation.name] += 1
        ledger.upstream_call(0)
        self.arrived.set()
        await self.gate.wait()
        answer = self.answers[operation.name](key)
        if isinstance(answer, Exception):
            raise answer
        assert operation.is_answer(answer), answer
        return answer

    async def check_reachable(self) -> None:
        if self.reachable is not None:
            raise self.reachable


Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class MockTransport:
    """A transport whose ``handler(operation, request)`` answers each call (or raises what
    botocore would), recording the requests it saw."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.closed = False

    async def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append((operation, dict(request)))
        return await self.handler(operation, request)

    async def aclose(self) -> None:
        self.closed = True


def in_turn(*answers: object) -> FakeSageMaker:
    """A fake whose DescribeImageVersion gives ``answers`` in turn (the last one for ever)."""
    queue = list(answers)

    def describe(key: Hashable) -> object:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return FakeSageMaker({"DescribeImageVersion": describe})


def version(
    image: str = "img", number: int = 1, status: str = "CREATED", base: str | None = None
) -> ImageVersionDescription:
    """A described version, as DescribeImageVersion would answer it."""
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return ImageVersionDescription(
        image_version_arn=f"arn:aws:sagemaker:us-east-1:123456789012:image-version/{image}/{number}",
        image_arn=f"arn:aws:sagemaker:us-east-1:123456789012:image/{image}",
        version=number,
        image_version_status=status,
        creation_time=when,
        last_modified_time=when,
        base_image=base or f"repo/{image}:{number}",
    )
