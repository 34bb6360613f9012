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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from aiodataloader import DataLoader

from app.sagemaker import (
    ImageDescription,
    ImageKey,
    ImagesPage,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionKey,
    ImageVersionsPage,
    ImageVersionSummary,
    Page,
    SageMaker,
)

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class ConcurrentLoader(DataLoader[K, V]):
    """A DataLoader whose batch runs :meth:`load_one` for each unique key at once.

    Subclasses say how to load one key; this class owns the batching contract: duplicates are
    dropped, the calls run concurrently (bounded by the client's pool), and every key gets its
    own value or its own exception, in the order the keys came.
    """

    def __init__(self, sagemaker: SageMaker) -> None:
        super().__init__()
        self.sagemaker = sagemaker

    async def load_one(self, key: K) -> V:
        raise NotImplementedError

    def loaded(self, key: K, value: V) -> None:
        """Called with each value the batch found; a hook for priming related keys."""

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | Exception]:  # type: ignore[override]
        unique = list(dict.fromkeys(keys))
        results = await gather_per_key([self.load_one(key) for key in unique])
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


async def gather_per_key(calls: Sequence[Awaitable[T]]) -> list[T | Exception]:
    """Await every call concurrently; a call that fails yields its exception in its place.

    Cancellation (a BaseException, not an Exception) is not a per-key failure: it propagates.
    """
    results: list[T | Exception] = []
    for result in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
        results.append(result)
    return results


class Loaders:
    """The loaders of one request."""

    def __init__(self, sagemaker: SageMaker) -> None:
        self.image_version = ImageVersionLoader(sagemaker)
        self.image = ImageLoader(sagemaker)
        self.aliases = AliasesLoader(sagemaker)
        self.image_page = ImagePageLoader(sagemaker)
        self.image_version_page = ImageVersionPageLoader(sagemaker)
