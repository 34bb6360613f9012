"""SageMaker's calls through the cache: the same methods as :class:`app.sagemaker.SageMaker`.

A call looks its key up in the store. A fresh answer is returned as is. A stale one (past
freshness, within the policy's ``stale`` seconds) is returned too, while one background refresh
fetches the next. On a miss, one fetch per key runs at a time in this process (every concurrent
caller awaits the same task) and, with Redis, across replicas (a short lock per key: the holder
fetches, the others poll the store for its answer). The fetch runs detached from its first
caller, so a caller that gives up (its request's deadline) does not waste the answer for the
others: it is still stored.

"Not found" is an answer and is kept briefly; any other failure is not kept, and reaches every
caller that waited for it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from app import metrics
from app.cache.policy import CachePolicy
from app.cache.stores import Store
from app.sagemaker import (
    ImageDescription,
    ImageKey,
    ImagesPage,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionKey,
    ImageVersionsPage,
    ImageVersionSummary,
    NotFound,
    Page,
    SageMaker,
)


class Key(Hashable, Protocol):
    """What the AWS package looks things up by: it writes its own request."""

    def as_request(self) -> dict[str, Any]: ...


# How often a replica waiting on another's fetch looks for its answer.
POLL_SECONDS = 0.02


class CachedSageMaker:
    def __init__(
        self,
        sagemaker: SageMaker,
        store: Store,
        policy: CachePolicy,
        namespace: str,
        lock_seconds: float,
    ) -> None:
        self.sagemaker = sagemaker
        self.store = store
        self.policy = policy
        self.namespace = namespace
        self.lock_seconds = lock_seconds
        self._fetching: dict[str, asyncio.Task[object]] = {}

    async def describe_image_version(self, key: ImageVersionKey) -> ImageVersionDescription:
        answer = await self._cached(
            "DescribeImageVersion", key, lambda: self.sagemaker.describe_image_version(key)
        )
        return cast(ImageVersionDescription, answer)

    async def describe_image(self, key: ImageKey) -> ImageDescription:
        answer = await self._cached(
            "DescribeImage", key, lambda: self.sagemaker.describe_image(key)
        )
        return cast(ImageDescription, answer)

    async def list_images(self, page: ImagesPage) -> Page[ImageSummary]:
        answer = await self._cached("ListImages", page, lambda: self.sagemaker.list_images(page))
        return cast(Page[ImageSummary], answer)

    async def list_image_versions(self, page: ImageVersionsPage) -> Page[ImageVersionSummary]:
        answer = await self._cached(
            "ListImageVersions", page, lambda: self.sagemaker.list_image_versions(page)
        )
        return cast(Page[ImageVersionSummary], answer)

    async def list_aliases(self, key: ImageVersionKey) -> list[str]:
        answer = await self._cached("ListAliases", key, lambda: self.sagemaker.list_aliases(key))
        return cast(list[str], answer)

    async def check_reachable(self) -> None:
        await self.sagemaker.check_reachable()

    async def _cached(
        self, operation: str, key: Key, fetch: Callable[[], Awaitable[object]]
    ) -> object:
        cache_key = self._cache_key(operation, key)
        entry = await self.store.get(cache_key)
        now = time.time()
        if entry is not None and entry.is_fresh(now):
            metrics.cache_lookup(self.store.name, "hit")
            metrics.answer_fresh_for(entry.fresh_until - now)
            return _answer(entry.answer, key)
        if entry is not None:
            metrics.cache_lookup(self.store.name, "stale")
            metrics.answer_fresh_for(0)
            self._fetch(cache_key, key, fetch)
            return _answer(entry.answer, key)
        metrics.cache_lookup(self.store.name, "miss")
        if cache_key in self._fetching:
            metrics.coalesced_wait(self.store.name)
        task = self._fetch(cache_key, key, fetch)
        answer = await asyncio.shield(task)
        metrics.answer_fresh_for(self.policy.ttl(key, answer))
        return _answer(answer, key)

    def _fetch(
        self, cache_key: str, key: Hashable, fetch: Callable[[], Awaitable[object]]
    ) -> asyncio.Task[object]:
        """The one fetch of ``cache_key`` in this process, started unless already running."""
        running = self._fetching.get(cache_key)
        if running is not None:
            return running
        task = asyncio.ensure_future(self._fetch_and_store(cache_key, key, fetch))
        self._fetching[cache_key] = task

        def finished(done: asyncio.Task[object]) -> None:
            self._fetching.pop(cache_key, None)
            if not done.cancelled():
                done.exception()  # retrieved here too, should every caller have given up

        task.add_done_callback(finished)
        return task

    async def _fetch_and_store(
        self, cache_key: str, key: Hashable, fetch: Callable[[], Awaitable[object]]
    ) -> object:
        token = await self._lock_or_answer(cache_key)
        if isinstance(token, _Answered):
            metrics.coalesced_wait(self.store.name)
            return token.answer
        try:
            try:
                answer: object = await fetch()
            except NotFound as not_found:
                answer = not_found
            fresh_for = self.policy.ttl(key, answer)
            if fresh_for > 0:
                await self.store.put(cache_key, answer, fresh_for, self.policy.stale)
            return answer
        finally:
            await self.store.unlock(cache_key, token)

    async def _lock_or_answer(self, cache_key: str) -> str | _Answered:
        """This replica's lock on ``cache_key``, or the answer another replica stored while
        this one waited for its lock."""
        while True:
            token = await self.store.lock(cache_key, self.lock_seconds)
            entry = await self.store.get(cache_key)
            if entry is not None and entry.is_fresh(time.time()):
                if token is not None:
                    await self.store.unlock(cache_key, token)
                return _Answered(entry.answer)
            if token is not None:
                return token
            await asyncio.sleep(POLL_SECONDS)

    def _cache_key(self, operation: str, key: Key) -> str:
        # Everything the answer depends on: this service's account, region and endpoint (the
        # namespace), the operation and its arguments.
        arguments = json.dumps(key.as_request(), sort_keys=True, separators=(",", ":"), default=str)
        return f"smgql:v1:{self.namespace}:{operation}:{arguments}"


@dataclass(frozen=True)
class _Answered:
    answer: object


def _answer(answer: object, key: Hashable) -> object:
    """A cached answer as the caller gets it: "not found" raised again, for this key."""
    if isinstance(answer, NotFound):
        raise NotFound(
            answer.message, key=key, aws_code=answer.aws_code, request_id=answer.request_id
        )
    return answer
