"""SageMaker's calls through the cache: the same ``call`` as :class:`app.sagemaker.SageMaker`.

A call looks its key up in the store. A fresh answer is returned as is. A stale one (past
freshness, within the policy's ``stale`` seconds) is returned too, while one background refresh
fetches the next. On a miss, one fetch per key runs at a time in this process (every concurrent
caller awaits the same task) and, with Redis, across replicas (a short lock per key: the holder
fetches, the others poll the store for its answer). The fetch runs detached from its first
caller, so a caller that gives up (its request's deadline) does not waste the answer for the
others: it is still stored.

"Not found" is an answer and is kept briefly; any other failure is not kept, and reaches every
caller that waited for it.

What the store gives back is checked before it is served, since Redis is shared with other
writers: the answer must be one the operation gives (its record type, or "not found"), and its
freshness is capped by this service's policy for its class, counted from when it was written,
whatever fresh-until its writer stored (a replica with a longer TTL, or a corrupt entry, never
makes this one serve an answer older than its own TTL, plus its stale seconds). Capping keeps a
sound entry usable within that bound; an entry written "in the future" cannot be bounded so,
and is a miss.

Each lookup is an OpenTelemetry span that says how the cache answered (``cache.result``: hit,
stale or miss; ``cache.coalesced`` when it waited on another caller's fetch); a fetch it starts
is its child, so SageMaker's call shows under the lookup that caused it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar

from opentelemetry import trace

from app import metrics
from app.cache.policy import CachePolicy
from app.cache.stores import KEY_PREFIX, Entry, Store
from app.ledger import Ledger
from app.sagemaker import NotFound, SageMakerCalls
from app.sagemaker.operations import Key, Operation
from app.spans import start_span

K = TypeVar("K", bound=Key)
V = TypeVar("V")

tracer = trace.get_tracer("app.cache")

# How often a replica waiting on another's fetch looks for its answer.
POLL_SECONDS = 0.02


class CachedSageMaker:
    def __init__(
        self,
        sagemaker: SageMakerCalls,
        store: Store,
        policy: CachePolicy,
        namespace: str,
        lock_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sagemaker = sagemaker
        self.store = store
        self.policy = policy
        self.namespace = namespace
        self.lock_seconds = lock_seconds
        self.clock = clock
        self._fetching: dict[str, asyncio.Task[object]] = {}

    async def call(self, operation: Operation[K, V], key: K, ledger: Ledger) -> V:
        with start_span(
            tracer,
            f"cache {operation.name}",
            attributes={"sagemaker.operation": operation.name, "cache.store": self.store.name},
        ) as span:
            return await self._lookup(operation, key, ledger, span)

    async def _lookup(
        self, operation: Operation[K, V], key: K, ledger: Ledger, span: trace.Span
    ) -> V:
        cache_key = self._cache_key(operation, key)
        entry = await self.store.get(cache_key)
        now = self.clock()
        kept = self._servable(entry, operation, key, now)
        if kept is not None and now < kept[1] + self.policy.stale:
            answer, fresh_until = kept
            result = "hit" if now < fresh_until else "stale"
            span.set_attribute("cache.result", result)
            metrics.CACHE_LOOKUPS.labels(self.store.name, result).inc()
            ledger.cache_hit()
            ledger.used_answer(fresh_until - now)
            if result == "stale":
                self._fetch(operation, cache_key, key, ledger)
            return _answer(answer, key)
        span.set_attribute("cache.result", "miss")
        metrics.CACHE_LOOKUPS.labels(self.store.name, "miss").inc()
        if cache_key in self._fetching:
            span.set_attribute("cache.coalesced", True)
            self._coalesced(ledger)
        fetched = await asyncio.shield(self._fetch(operation, cache_key, key, ledger))
        if not _usable(fetched, operation):
            raise TypeError(f"{operation.name} answered a {type(fetched).__name__}")
        ledger.used_answer(self.policy.ttl(operation.freshness, key, fetched))
        return _answer(fetched, key)

    async def check_reachable(self) -> None:
        await self.sagemaker.check_reachable()

    def _coalesced(self, ledger: Ledger) -> None:
        metrics.CACHE_COALESCED.labels(self.store.name).inc()
        ledger.coalesced_wait()

    def _fetch(
        self, operation: Operation[K, V], cache_key: str, key: K, ledger: Ledger
    ) -> asyncio.Task[object]:
        """The one fetch of ``cache_key`` in this process, started unless already running.
        Its upstream calls count in the ledger of the request that started it."""
        running = self._fetching.get(cache_key)
        if running is not None:
            return running
        task = asyncio.ensure_future(self._fetch_and_store(operation, cache_key, key, ledger))
        self._fetching[cache_key] = task

        def finished(done: asyncio.Task[object]) -> None:
            self._fetching.pop(cache_key, None)
            if not done.cancelled():
                done.exception()  # retrieved here too, should every caller have given up

        task.add_done_callback(finished)
        return task

    async def _fetch_and_store(
        self, operation: Operation[K, V], cache_key: str, key: K, ledger: Ledger
    ) -> object:
        token = await self._lock_or_answer(operation, cache_key, key)
        if isinstance(token, _Answered):
            self._coalesced(ledger)
            return token.answer
        try:
            answer: V | NotFound
            try:
                answer = await self.sagemaker.call(operation, key, ledger)
            except NotFound as not_found:
                answer = not_found
            fresh_for = self.policy.ttl(operation.freshness, key, answer)
            if fresh_for > 0:
                await self.store.put(cache_key, answer, fresh_for, self.policy.stale)
            return answer
        finally:
            await self.store.unlock(cache_key, token)

    async def _lock_or_answer(
        self, operation: Operation[K, V], cache_key: str, key: K
    ) -> str | _Answered:
        """This replica's lock on ``cache_key``, or the answer another replica stored while
        this one waited for its lock."""
        while True:
            token = await self.store.lock(cache_key, self.lock_seconds)
            entry = await self.store.get(cache_key)
            now = self.clock()
            kept = self._servable(entry, operation, key, now)
            if kept is not None and now < kept[1]:
                if token is not None:
                    await self.store.unlock(cache_key, token)
                return _Answered(kept[0])
            if token is not None:
                return token
            await asyncio.sleep(POLL_SECONDS)

    def _servable(
        self, entry: Entry | None, operation: Operation[K, V], key: K, now: float
    ) -> tuple[V | NotFound, float] | None:
        """A kept entry's answer and until when it is fresh: what its writer said, but never
        past this service's own TTL for its class from when it was written (another replica's
        policy may be longer, or the store's entry corrupt). None when it cannot be served: its
        answer is not one ``operation`` gives, or it claims to have been written after now (a
        writer's clock ahead of this one costs a refetch only for as long as it is ahead)."""
        if entry is None or entry.written > now:
            return None
        answer = entry.answer
        if not _usable(answer, operation):
            return None
        ttl = self.policy.ttl(operation.freshness, key, answer)
        return answer, min(entry.fresh_until, entry.written + ttl)

    def _cache_key(self, operation: Operation[K, V], key: K) -> str:
        # Everything the answer depends on: this service's backend and endpoint (the
        # namespace, which names the default target too), the key's target, the operation and
        # its arguments.
        arguments = json.dumps(key.as_request(), sort_keys=True, separators=(",", ":"), default=str)
        target = key.target or "default"
        return f"{KEY_PREFIX}:{self.namespace}:{target}:{operation.name}:{arguments}"


@dataclass(frozen=True)
class _Answered:
    answer: object


def _usable(answer: object, operation: Operation[Any, V]) -> TypeGuard[V | NotFound]:
    """Whether a kept ``answer`` is one ``operation`` gives: its record, or "not found"."""
    return isinstance(answer, NotFound) or operation.is_answer(answer)


def _answer(answer: V | NotFound, key: K) -> V:
    """A cached answer as the caller gets it: "not found" raised again, for this key."""
    if isinstance(answer, NotFound):
        raise NotFound(
            answer.message, key=key, aws_code=answer.aws_code, request_id=answer.request_id
        )
    return answer
