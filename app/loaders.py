"""Per-request DataLoaders: one SageMaker call per unique key, run concurrently.

A GraphQL query can ask for the same thing many times (``imageVersions`` with repeated refs, a
page of versions each asking for its ``image``, a gateway's entity representations). Resolvers
therefore never call SageMaker themselves: they ``load`` a key, and the loader collects every
key asked for in the same tick of the event loop into one batch, drops duplicates, and issues the
calls for the batch at once. The transport's connection pool bounds how many run in parallel.

SageMaker has no batch describe, so "batching" here means deduplicated concurrent single calls:
N fields over M unique keys cost M calls in about the time of one.

Loaders live for one request only (the web room builds them with the request's context), and
note what the request cost in its ledger (``app.ledger``). Their cache is a
request's memo, never a cross-user cache: two clients never see each other's results, and a
version changed in SageMaker is seen by the next request.

The batch function returns a value or an exception per key, in the keys' order; DataLoader hands
each caller its own, so one missing image fails only the fields that asked for it.

A request has a deadline (``SMGQL_REQUEST_TIMEOUT``): a call still outstanding when it passes is
abandoned, and its key fails with DeadlineExceeded, so the request answers with what it has
instead of waiting on a slow SageMaker.

Each batch is an OpenTelemetry span (its operation, target and number of keys), the parent of
the calls it makes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader
from opentelemetry import trace

from app import metrics
from app.ledger import Ledger
from app.sagemaker import DeadlineExceeded, SageMakerCalls
from app.sagemaker.operations import Key, Operation
from app.sagemaker.targets import Target
from app.spans import start_span

K = TypeVar("K", bound=Key)
V = TypeVar("V")

tracer = trace.get_tracer("app.loaders")


class OperationLoader(DataLoader[K, V]):
    """A DataLoader of one SageMaker operation, whose batch calls it for each unique key at once.

    This class owns the batching contract: duplicates are dropped, the calls run concurrently
    (bounded by the transport's pool) until the request's deadline, and every key gets its own
    value or its own exception, in the order the keys came. An answer that also answers another
    key (a version found by alias answers for its number too) primes that key, so a later load
    of it in the same request costs no call.
    """

    def __init__(
        self,
        sagemaker: SageMakerCalls,
        operation: Operation[K, V],
        deadline: Deadline,
        ledger: Ledger,
        target: Target | None = None,
    ) -> None:
        super().__init__()
        self.sagemaker = sagemaker
        self.operation = operation
        self.deadline = deadline
        self.ledger = ledger
        # Where its keys go (None: the default target).
        self.target = target

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | Exception]:  # type: ignore[override]
        unique = list(dict.fromkeys(keys))
        metrics.BATCH_SIZE.labels(self.operation.name).observe(len(unique))
        with start_span(
            tracer,
            f"load {self.operation.name}",
            attributes={
                "sagemaker.operation": self.operation.name,
                "sagemaker.target": str(self.target or "default"),
                "loader.keys": len(unique),
                "loader.duplicates": len(keys) - len(unique),
            },
        ):
            # The calls are started inside the span, so that they are its children.
            calls = {key: self.sagemaker.call(self.operation, key, self.ledger) for key in unique}
            results = await gather_per_key(calls, self.deadline)
        found = dict(zip(unique, results, strict=True))
        for key, result in found.items():
            if not isinstance(result, Exception):
                other = self.operation.also_answers(key, result)
                if other is not None:
                    self.prime(other, result)
        return [found[key] for key in keys]


class Deadline:
    """When a request stops waiting for SageMaker: ``seconds`` from now by ``clock`` (the
    running loop's, unless a test gives its own)."""

    def __init__(self, seconds: float, clock: Callable[[], float] | None = None) -> None:
        self.seconds = seconds
        self.clock = clock or asyncio.get_running_loop().time
        self.at = self.clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - self.clock())


async def gather_per_key(
    calls: dict[K, Coroutine[Any, Any, V]], deadline: Deadline
) -> list[V | Exception]:
    """Run every key's call concurrently until the deadline; each key yields its value, its
    exception, or DeadlineExceeded if its call was still running then (it is cancelled).

    Cancellation of the batch itself (a BaseException, not an Exception) cancels every call and
    propagates.
    """
    tasks = {key: asyncio.ensure_future(call) for key, call in calls.items()}
    try:
        await asyncio.wait(tasks.values(), timeout=deadline.remaining())
    finally:
        for task in tasks.values():
            task.cancel()
    results: list[V | Exception] = []
    for key, task in tasks.items():
        # Still running at the deadline: cancelled above, but not done until the loop runs it.
        if not task.done() or task.cancelled():
            results.append(
                DeadlineExceeded(
                    f"SageMaker did not answer within the request's {deadline.seconds:g} s.",
                    key=key,
                )
            )
        elif (error := task.exception()) is not None:
            if not isinstance(error, Exception):
                raise error
            results.append(error)
        else:
            results.append(task.result())
    return results


# A loader per operation and target.
LoaderKey = tuple[Operation[Any, Any], Target | None]


class Loaders:
    """The loaders of one request, which has ``timeout`` seconds to get SageMaker's answers
    and notes what they cost in ``ledger``.

    There is a loader per operation and target (region and account): a batch holds the keys of
    one target, as its calls go to one connection pool. Each is built when a resolver first
    asks for it: most requests use one or two.
    """

    def __init__(self, sagemaker: SageMakerCalls, timeout: float, ledger: Ledger | None = None):
        self._sagemaker, self._timeout = sagemaker, timeout
        self.ledger = ledger if ledger is not None else Ledger()
        self._deadline = Deadline(timeout)
        self._loaders: dict[
            tuple[Operation[Any, Any], Target | None], OperationLoader[Any, Any]
        ] = {}

    def of(self, operation: Operation[K, V], target: Target | None = None) -> OperationLoader[K, V]:
        """This request's loader of ``operation`` in ``target``."""
        loader = self._loaders.get((operation, target))
        if loader is None:
            loader = OperationLoader(
                self._sagemaker, operation, self._deadline, self.ledger, target
            )
            self._loaders[operation, target] = loader
        return loader

    def load(self, operation: Operation[K, V], key: K) -> Awaitable[V]:
        """``operation``'s answer for ``key``, through the loader of the key's target."""
        return self.of(operation, key.target).load(key)

    def renewed(self) -> Loaders:
        """Loaders as a new request's: an empty memo, a deadline from now, a ledger of their
        own. For what lives longer than a request (a subscription's events)."""
        return Loaders(self._sagemaker, self._timeout)
