"""Per-request DataLoaders: one SageMaker call per unique key, run concurrently.

A GraphQL query can ask for the same thing many times (``imageVersions`` with repeated refs, a
page of versions each asking for its ``image``, a gateway's entity representations). Resolvers
therefore never call SageMaker themselves: they ``load`` a key, and the loader collects every
key asked for in the same tick of the event loop into one batch, drops duplicates, and issues the
calls for the batch at once. The client's thread pool bounds how many run in parallel.

SageMaker has no batch describe, so "batching" here means deduplicated concurrent single calls:
N fields over M unique keys cost M calls in about the time of one.

Loaders live for one request only (they are built in the context getter). Their cache is a
request's memo, never a cross-user cache: two clients never see each other's results, and a
version changed in SageMaker is seen by the next request.

The batch function returns a value or an exception per key, in the keys' order; DataLoader hands
each caller its own, so one missing image fails only the fields that asked for it.

A request has a deadline (``SMGQL_REQUEST_TIMEOUT``): a call still outstanding when it passes is
abandoned, and its key fails with DeadlineExceeded, so the request answers with what it has
instead of waiting on a slow SageMaker.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader

from app import metrics
from app.sagemaker import (
    DeadlineExceeded,
    ImageDescription,
    ImageKey,
    ImagesPage,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionKey,
    ImageVersionsPage,
    ImageVersionSummary,
    Page,
    SageMakerCalls,
)

K = TypeVar("K")
V = TypeVar("V")


class ConcurrentLoader(DataLoader[K, V]):
    """A DataLoader whose batch runs :meth:`load_one` for each unique key at once.

    Subclasses say how to load one key; this class owns the batching contract: duplicates are
    dropped, the calls run concurrently (bounded by the client's pool), and every key gets its
    own value or its own exception, in the order the keys came.
    """

    def __init__(self, sagemaker: SageMakerCalls, deadline: Deadline) -> None:
        super().__init__()
        self.sagemaker = sagemaker
        self.deadline = deadline

    async def load_one(self, key: K) -> V:
        raise NotImplementedError

    def loaded(self, key: K, value: V) -> None:
        """Called with each value the batch found; a hook for priming related keys."""

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | Exception]:  # type: ignore[override]
        unique = list(dict.fromkeys(keys))
        metrics.BATCH_SIZE.labels(type(self).__name__).observe(len(unique))
        results = await gather_per_key({key: self.load_one(key) for key in unique}, self.deadline)
        found = dict(zip(unique, results, strict=True))
        for key, result in found.items():
            if not isinstance(result, Exception):
                self.loaded(key, result)
        return [found[key] for key in keys]


class ImageVersionLoader(ConcurrentLoader[ImageVersionKey, ImageVersionDescription]):
    """DescribeImageVersion by :class:`ImageVersionKey`.

    A version found by alias or as the latest also answers for its pinned key (image, version):
    a later load of that key in the same request costs no call.
    """

    async def load_one(self, key: ImageVersionKey) -> ImageVersionDescription:
        return await self.sagemaker.describe_image_version(key)

    def loaded(self, key: ImageVersionKey, value: ImageVersionDescription) -> None:
        if key.version is None:
            self.prime(key.pinned(value.version), value)


class ImageLoader(ConcurrentLoader[ImageKey, ImageDescription]):
    """DescribeImage by :class:`ImageKey`."""

    async def load_one(self, key: ImageKey) -> ImageDescription:
        return await self.sagemaker.describe_image(key)


class AliasesLoader(ConcurrentLoader[ImageVersionKey, list[str]]):
    """ListAliases (every page) by pinned :class:`ImageVersionKey`."""

    async def load_one(self, key: ImageVersionKey) -> list[str]:
        return await self.sagemaker.list_aliases(key)


class ImagePageLoader(ConcurrentLoader[ImagesPage, Page[ImageSummary]]):
    """ListImages by page: fields asking for the same page share one call."""

    async def load_one(self, key: ImagesPage) -> Page[ImageSummary]:
        return await self.sagemaker.list_images(key)


class ImageVersionPageLoader(ConcurrentLoader[ImageVersionsPage, Page[ImageVersionSummary]]):
    """ListImageVersions by page: fields asking for the same page share one call."""

    async def load_one(self, key: ImageVersionsPage) -> Page[ImageVersionSummary]:
        return await self.sagemaker.list_image_versions(key)


class Deadline:
    """When a request stops waiting for SageMaker: ``seconds`` from now on the running loop."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = asyncio.get_running_loop().time() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - asyncio.get_running_loop().time())


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


class Loaders:
    """The loaders of one request, which has ``timeout`` seconds to get SageMaker's answers.

    Each loader is built when a resolver first asks for it: most requests use one or two.
    """

    def __init__(self, sagemaker: SageMakerCalls, timeout: float) -> None:
        self._sagemaker, self._timeout = sagemaker, timeout
        self._deadline = Deadline(timeout)

    @functools.cached_property
    def image_version(self) -> ImageVersionLoader:
        return ImageVersionLoader(self._sagemaker, self._deadline)

    @functools.cached_property
    def image(self) -> ImageLoader:
        return ImageLoader(self._sagemaker, self._deadline)

    @functools.cached_property
    def aliases(self) -> AliasesLoader:
        return AliasesLoader(self._sagemaker, self._deadline)

    @functools.cached_property
    def image_page(self) -> ImagePageLoader:
        return ImagePageLoader(self._sagemaker, self._deadline)

    @functools.cached_property
    def image_version_page(self) -> ImageVersionPageLoader:
        return ImageVersionPageLoader(self._sagemaker, self._deadline)

    def renewed(self) -> Loaders:
        """Loaders as a new request's: an empty memo and a deadline from now. For what lives
        longer than a request (a subscription's events)."""
        return Loaders(self._sagemaker, self._timeout)
