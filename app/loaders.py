"""Per-request DataLoaders: one SageMaker call per unique key, run concurrently.

A GraphQL query can ask for the same thing many times (``imageVersions`` with repeated refs, a
page of versions each asking for its ``image``, a gateway's entity representations). Resolvers
therefore never call the gateway themselves: they ``load`` a key, and the loader collects every
key asked for in the same tick of the event loop into one batch, drops duplicates, and issues the
calls for the batch at once. The gateway's thread pool bounds how many run in parallel.

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
    ImageSummary,
    ImageVersionDescription,
    ImageVersionRef,
    ImageVersionSummary,
    ListRequest,
    Page,
    SageMakerGateway,
)

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class ConcurrentLoader(DataLoader[K, V]):
    """A DataLoader whose batch runs :meth:`load_one` for each unique key at once.

    Subclasses say how to load one key; this class owns the batching contract: duplicates are
    dropped, the calls run concurrently (bounded by the gateway's pool), and every key gets its
    own value or its own exception, in the order the keys came.
    """

    def __init__(self, gateway: SageMakerGateway) -> None:
        super().__init__()
        self.gateway = gateway

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


class ImageVersionLoader(ConcurrentLoader[ImageVersionRef, ImageVersionDescription]):
    """DescribeImageVersion by :class:`ImageVersionRef`.

    A version found by alias or as the latest also answers for its pinned key (image, version):
    a later load of that key in the same request costs no call.
    """

    async def load_one(self, key: ImageVersionRef) -> ImageVersionDescription:
        return await self.gateway.describe_image_version(key)

    def loaded(self, key: ImageVersionRef, value: ImageVersionDescription) -> None:
        if key.version is None:
            self.prime(key.pinned(value.version), value)


class ImageLoader(ConcurrentLoader[str, ImageDescription]):
    """DescribeImage by image name."""

    async def load_one(self, key: str) -> ImageDescription:
        return await self.gateway.describe_image(key)


class AliasesLoader(ConcurrentLoader[tuple[str, int], list[str]]):
    """ListAliases (every page) by (image name, version)."""

    async def load_one(self, key: tuple[str, int]) -> list[str]:
        return await self.gateway.list_aliases(*key)


class ImagePageLoader(ConcurrentLoader[ListRequest, Page[ImageSummary]]):
    """ListImages by request: fields asking for the same page share one call."""

    async def load_one(self, key: ListRequest) -> Page[ImageSummary]:
        return await self.gateway.list_images(key)


class ImageVersionPageLoader(ConcurrentLoader[ListRequest, Page[ImageVersionSummary]]):
    """ListImageVersions by request: fields asking for the same page share one call."""

    async def load_one(self, key: ListRequest) -> Page[ImageVersionSummary]:
        return await self.gateway.list_image_versions(key)


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

    def __init__(self, gateway: SageMakerGateway) -> None:
        self.image_version = ImageVersionLoader(gateway)
        self.image = ImageLoader(gateway)
        self.aliases = AliasesLoader(gateway)
        self.image_page = ImagePageLoader(gateway)
        self.image_version_page = ImageVersionPageLoader(gateway)
