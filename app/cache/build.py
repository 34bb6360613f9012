"""The calls the service makes, with the caches its settings ask for in front of them."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass

from app.cache.cached_sagemaker import CachedSageMaker
from app.cache.policy import CachePolicy
from app.cache.responses import ResponseCache
from app.cache.stores import MemoryStore, Store
from app.sagemaker import SageMaker, SageMakerCalls
from app.settings import Settings

log = logging.getLogger("app.cache")


# Persisted queries kept in-process when there is no cache store to keep them in.
PERSISTED_QUERIES_WITHOUT_CACHE = 1000


@dataclass(frozen=True)
class Caches:
    """SageMaker's calls (through the record cache, if on), the response cache (if on), and
    the store the cache uses, where other things may be kept too."""

    calls: SageMakerCalls
    responses: ResponseCache | None
    store: Store


async def build_caches(
    settings: Settings, sagemaker: SageMaker, namespace: str, stack: AsyncExitStack
) -> Caches:
    """``sagemaker`` behind the configured caches (closed with ``stack``); ``sagemaker`` alone
    when the cache is off."""
    if settings.cache == "off":
        return Caches(sagemaker, None, MemoryStore(PERSISTED_QUERIES_WITHOUT_CACHE))
    store: Store
    if settings.cache == "redis":
        from app.cache.redis_store import RedisStore

        assert settings.redis_url is not None
        redis = RedisStore(settings.redis_url)
        stack.push_async_callback(redis.close)
        store = redis
    else:
        store = MemoryStore(settings.cache_max_entries)
    policy = CachePolicy(
        settled=settings.cache_ttl,
        changing=settings.cache_changing_ttl,
        lists=settings.cache_list_ttl,
        not_found=settings.cache_not_found_ttl,
        stale=settings.cache_stale_seconds,
    )
    cached = CachedSageMaker(
        sagemaker,
        store,
        policy,
        namespace,
        # A replica waits at most this long for another's fetch before it asks itself.
        lock_seconds=settings.read_timeout,
    )
    log.info(f"Cache: {store.name}, namespace {namespace}")
    return Caches(cached, ResponseCache(store, namespace, max_seconds=settings.cache_ttl), store)
