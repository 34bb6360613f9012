"""The calls the service makes, with the caches its options ask for in front of them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Literal

from app.cache.breaker import CircuitBreaker
from app.cache.cached_sagemaker import CachedSageMaker
from app.cache.policy import CachePolicy
from app.cache.responses import ResponseCache
from app.cache.stores import MemoryStore, Store
from app.sagemaker import SageMakerCalls

log = logging.getLogger("app.cache")

CacheBackend = Literal["memory", "redis", "off"]

# Failures of Redis in a row (errors that came fast, such as a refused connection) after which
# it is bypassed; one call past its time box is enough.
FAILURES_TO_BYPASS = 3


@dataclass(frozen=True)
class CacheOptions:
    """Where SageMaker's answers are kept across requests, and for how long."""

    backend: CacheBackend
    # The Redis of the "redis" backend.
    redis_url: str | None
    # Most bytes the in-process stores hold: answers and responses, and persisted queries.
    max_bytes: int
    persisted_max_bytes: int
    # Largest answer or response kept, as kept (in memory, or encoded in Redis).
    max_entry_bytes: int
    policy: CachePolicy
    # How long a replica waits for another's fetch of the same answer before it asks itself.
    lock_seconds: float
    # Seconds a request waits for each Redis call; twice that unanswered, and Redis is stalled.
    redis_timeout: float
    # Seconds Redis is bypassed after it failed or stalled, before one call probes it again.
    redis_cooldown: float


@dataclass(frozen=True)
class Caches:
    """SageMaker's calls (through the record cache, if on), the response cache (if on), and
    the store persisted queries are kept in (Redis, shared by replicas, when the cache is
    there; a store of their own in this process otherwise, so that they never push answers
    out, nor answers them)."""

    calls: SageMakerCalls
    responses: ResponseCache | None
    persisted: Store
    # Whether the shared store is being bypassed (None: the store is this process's).
    breaker: CircuitBreaker | None = None


async def build_caches(
    options: CacheOptions,
    sagemaker: SageMakerCalls,
    namespace: str,
    schema_version: str,
    stack: AsyncExitStack,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Caches:
    """``sagemaker`` behind the configured caches (closed with ``stack``); ``sagemaker`` alone
    when the cache is off. Whole responses are kept per ``schema_version``; ``clock`` is the
    wall clock freshness is judged by, ``monotonic`` the one Redis's cool-downs are timed by."""
    store: Store
    persisted: Store
    breaker = None
    if options.backend == "redis":
        # Imported here: only a service on Redis loads its client library.
        from app.cache.redis_store import RedisStore

        assert options.redis_url is not None
        breaker = CircuitBreaker(
            RedisStore.name, FAILURES_TO_BYPASS, options.redis_cooldown, monotonic
        )
        redis = RedisStore(
            options.redis_url, options.redis_timeout, breaker, options.max_entry_bytes, clock
        )
        stack.push_async_callback(redis.close)
        store = persisted = redis
    else:
        persisted = MemoryStore(options.persisted_max_bytes, options.max_entry_bytes, clock)
        if options.backend == "off":
            return Caches(sagemaker, None, persisted)
        store = MemoryStore(options.max_bytes, options.max_entry_bytes, clock)
    cached = CachedSageMaker(
        sagemaker, store, options.policy, namespace, options.lock_seconds, clock
    )
    log.info(f"Cache: {store.name}, namespace {namespace}")
    responses = ResponseCache(
        store, namespace, schema_version, max_seconds=options.policy.settled, clock=clock
    )
    return Caches(cached, responses, persisted, breaker)
