"""Per-request DataLoaders: one SageMaker call per unique key, run concurrently.

A GraphQL query can ask for the same image version many times (``imageVersions`` with repeated
refs, aliases of one version, a gateway's entity representations). Resolvers therefore never call
the gateway themselves: they ``load`` a key, and the loader collects every key asked for in the
same tick of the event loop into one batch, drops duplicates, and issues the describe calls for
the batch at once. The gateway's thread pool bounds how many run in parallel.

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

from app.sagemaker import ImageVersionDescription, ImageVersionRef, SageMakerGateway

T = TypeVar("T")


class ImageVersionLoader(DataLoader[ImageVersionRef, ImageVersionDescription]):
    """DescribeImageVersion by :class:`ImageVersionRef`.

    A version found by alias or as the latest also answers for its pinned key (image, version):
    a later load of that key in the same request costs no call.
    """

    def __init__(self, gateway: SageMakerGateway) -> None:
        super().__init__()
        self._gateway = gateway

    async def batch_load_fn(  # type: ignore[override]
        self, refs: Sequence[ImageVersionRef]
    ) -> list[ImageVersionDescription | Exception]:
        unique = list(dict.fromkeys(refs))
        results = await gather_per_key(
            [self._gateway.describe_image_version(ref) for ref in unique]
        )
        found = dict(zip(unique, results, strict=True))
        for ref, result in found.items():
            if isinstance(result, ImageVersionDescription) and ref.version is None:
                self.prime(ref.pinned(result.version), result)
        return [found[ref] for ref in refs]


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
