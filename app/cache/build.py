"""The calls the service makes, with the caches its options ask for in front of them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Literal

from app.cache.cached_sagemaker import CachedSageMaker
from app.cache.policy import CachePolicy
from app.cache.responses import ResponseCache
from app.cache.stores import MemoryStore, Store
from app.sagemaker import SageMakerCalls

log = logging.getLogger("app.cache")

CacheBackend = Literal["memory", "redis", "off"]

# Persisted queries kept in-process when there is no cache store to keep them in.
PERSISTED_QUERIES_WITHOUT_CACHE = 1000


@dataclass(frozen=True)
class CacheOptions:
    """Where SageMaker's answers are kept across requests, and for how long."""

    backend: CacheBackend
    # The Redis of the "redis" backend.
    redis_url: str | None
    # Most answers the in-process store keeps.
    max_entries: int
    policy: CachePolicy
    # How long a replica waits for another's fetch of the same answer before it asks itself.
    lock_seconds: float


@dataclass(frozen=True)
class Caches:
    """SageMaker's calls (through the record cache, if on), the response cache (if on), and
    the store the cache uses, where other things may be kept too."""

    calls: SageMakerCalls
    responses: ResponseCache | None
    store: Store


async def build_caches(
    options: CacheOptions,
    sagemaker: SageMakerCalls,
    namespace: str,
    schema_version: str,
    stack: AsyncExitStack,
    clock: Callable[[], float] = time.time,
) -> Caches:
    """``sagemaker`` behind the configured caches (closed with ``stack``); ``sagemaker`` alone
    when the cache is off. Whole responses are kept per ``schema_version``; ``clock`` is the
    wall clock freshness is judged by."""
    if options.backend == "off":
        return Caches(sagemaker, None, MemoryStore(PERSISTED_QUERIES_WITHOUT_CACHE))
    store: Store
    if options.backend == "redis":
        # Imported here: only a service on Redis loads its client library.
        from app.cache.redis_store import RedisStore

        assert options.redis_url is not None
        redis = RedisStore(options.redis_url, clock)
        stack.push_async_callback(redis.close)
        store = redis
    else:
        store = MemoryStore(options.max_entries, clock)
    cached = CachedSageMaker(
        sagemaker, store, options.policy, namespace, options.lock_seconds, clock
    )
    log.info(f"Cache: {store.name}, namespace {namespace}")
    responses = ResponseCache(
        store, namespace, schema_version, max_seconds=options.policy.settled, clock=clock
    )
    return Caches(cached, responses, store)
