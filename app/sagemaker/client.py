"""The SageMaker client: the one place that holds the boto3 client and calls AWS.

boto3 is synchronous, so each call runs on a thread of a pool exactly as large as the client's
HTTP connection pool (``max_pool_connections``): as many calls are in flight as there are
connections for them, and a burst beyond that waits for a free thread instead of for a
connection inside botocore, where a timeout would look like an AWS failure.

Calls take keys (:mod:`app.sagemaker.keys`) and give records (:mod:`app.sagemaker.records`);
a failure leaves as one of the domain errors of :mod:`app.sagemaker.errors`, carrying its key.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.config import Config

from app import metrics
from app.sagemaker.errors import AccessDenied, SageMakerError, Unavailable, from_botocore
from app.sagemaker.keys import ImageKey, ImagesPage, ImageVersionKey, ImageVersionsPage
from app.sagemaker.records import (
    ImageDescription,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionSummary,
    Page,
)
from app.settings import Settings

if TYPE_CHECKING:
    # A dev-only stubs package: never imported at run time (the shipped install lacks it).
    from mypy_boto3_sagemaker import SageMakerClient

    from app.sagemaker.rate_limit import RateLimit

log = logging.getLogger("app.sagemaker")

# The local endpoint checks no signatures; these only have to look like credentials.
LOCAL_CREDENTIALS = ("local", "local")


def build_client(settings: Settings, endpoint_url: str | None) -> SageMakerClient:
    """The process's one SageMaker client. Slow to build (it loads the service model): do it
    once, at start, off the event loop."""
    config = Config(
        region_name=settings.region,
        max_pool_connections=settings.pool_size,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
        user_agent_extra="sagemaker-images-graphql",
        # Keys are checked against the model where they are made (app.sagemaker.keys), and
        # SageMaker checks again: botocore's own pass is CPU on every call for nothing.
        parameter_validation=False,
    )
    # None: boto3's default credential chain.
    access_key, secret_key = LOCAL_CREDENTIALS if settings.backend == "local" else (None, None)
    client: SageMakerClient = boto3.session.Session().client(
        "sagemaker",
        endpoint_url=endpoint_url,
        config=config,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )
    return client


def account_of(settings: Settings) -> str:
    """The AWS account the service's credentials belong to (STS GetCallerIdentity, which needs
    no permission); "local" for the local endpoint. Slow: call it once, off the event loop.
    Raises a domain error when STS cannot say."""
    if settings.backend == "local":
        return "local"
    config = Config(
        region_name=settings.region,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
    )
    try:
        sts = boto3.session.Session().client("sts", config=config)
        account: str = sts.get_caller_identity()["Account"]
    except Exception as error:
        failure = from_botocore(error, None)
        if failure is None:
            raise
        raise failure from None
    return account


def _retries(response: object) -> int:
    """How often botocore retried, from an answer's (or a failure's) ResponseMetadata."""
    if not isinstance(response, dict):
        return 0
    attempts = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
    return attempts if isinstance(attempts, int) else 0


async def namespace_of(settings: Settings, endpoint_url: str | None, shared: bool) -> str:
    """What makes SageMaker's answers (and quotas) differ between services: the backend,
    region, endpoint and account. The account matters only to what other processes share
    (Redis); asking STS is skipped otherwise. Without it (STS did not answer), a name no other
    service shares, so nothing is shared by mistake."""
    account = "this-process"
    if shared:
        try:
            account = await asyncio.to_thread(account_of, settings)
        except SageMakerError as error:
            log.warning({"event": "account_unknown", "error": type(error).__name__})
            account = f"unknown-{secrets.token_hex(4)}"
    return f"{settings.backend}:{settings.region}:{endpoint_url or 'default'}:{account}"


class SageMakerCalls(Protocol):
    """The calls the service makes: :class:`SageMaker`'s, or the same through a cache."""

    async def describe_image_version(self, key: ImageVersionKey) -> ImageVersionDescription: ...

    async def describe_image(self, key: ImageKey) -> ImageDescription: ...

    async def list_images(self, page: ImagesPage) -> Page[ImageSummary]: ...

    async def list_image_versions(self, page: ImageVersionsPage) -> Page[ImageVersionSummary]: ...

    async def list_aliases(self, key: ImageVersionKey) -> list[str]: ...

    async def check_reachable(self) -> None: ...


class SageMaker:
    """Async calls to SageMaker over one shared client and a bounded pool of threads."""

    def __init__(
        self, client: SageMakerClient, concurrency: int, rate_limit: RateLimit | None = None
    ) -> None:
        self._client = client
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sagemaker")
        self._rate_limit = rate_limit

    async def describe_image_version(self, key: ImageVersionKey) -> ImageVersionDescription:
        answer = await self._call(
            "DescribeImageVersion", self._client.describe_image_version, key.as_request(), key
        )
        return ImageVersionDescription.from_aws(answer)

    async def describe_image(self, key: ImageKey) -> ImageDescription:
        answer = await self._call(
            "DescribeImage", self._client.describe_image, key.as_request(), key
        )
        return ImageDescription.from_aws(answer)

    async def list_images(self, page: ImagesPage) -> Page[ImageSummary]:
        answer = await self._call("ListImages", self._client.list_images, page.as_request(), page)
        items = [ImageSummary.from_aws(item) for item in answer.get("Images", [])]
        return Page(items, answer.get("NextToken"))

    async def list_image_versions(self, page: ImageVersionsPage) -> Page[ImageVersionSummary]:
        answer = await self._call(
            "ListImageVersions", self._client.list_image_versions, page.as_request(), page
        )
        items = [ImageVersionSummary.from_aws(item) for item in answer.get("ImageVersions", [])]
        return Page(items, answer.get("NextToken"))

    async def list_aliases(self, key: ImageVersionKey) -> list[str]:
        """Every alias of one version (a pinned key), across as many pages as it takes."""
        aliases: list[str] = []
        request: dict[str, Any] = {**key.as_request(), "MaxResults": 100}
        while True:
            answer = await self._call("ListAliases", self._client.list_aliases, request, key)
            aliases += answer.get("SageMakerImageVersionAliases", [])
            if not answer.get("NextToken"):
                return aliases
            request["NextToken"] = answer["NextToken"]

    async def check_reachable(self) -> None:
        """Raise a domain error unless SageMaker answers a cheap authenticated call with what
        the model says it answers (an endpoint answering 200 with garbage is not SageMaker)."""
        answer = await self._call("ListImages", self._client.list_images, {"MaxResults": 1}, None)
        if not isinstance(answer.get("Images"), list):
            raise Unavailable("SageMaker answered ListImages without a list of images.")

    async def _call(
        self,
        operation: str,
        method: Callable[..., Any],
        request: dict[str, Any],
        key: Hashable | None,
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if self._rate_limit is not None:
            await self._rate_limit.acquire(operation)
        started = time.perf_counter()
        metrics.UPSTREAM_IN_FLIGHT.inc()
        try:
            response: dict[str, Any] = await loop.run_in_executor(
                self._pool, functools.partial(method, **request)
            )
        except Exception as error:
            failure = from_botocore(error, key)
            retries = _retries(getattr(error, "response", None))
            outcome = type(failure).__name__ if failure else "Unexpected"
            metrics.upstream_call(operation, outcome, time.perf_counter() - started, retries)
            if failure is None:
                raise
            if isinstance(failure, AccessDenied | Unavailable):
                # An operator's problem, not the client's: say so where operators look.
                log.warning(
                    {
                        "event": "upstream_failure",
                        "operation": operation,
                        "error": type(failure).__name__,
                        "awsErrorCode": failure.aws_code,
                        "awsRequestId": failure.request_id,
                    }
                )
            raise failure from None
        finally:
            metrics.UPSTREAM_IN_FLIGHT.dec()
        metrics.upstream_call(operation, "ok", time.perf_counter() - started, _retries(response))
        return response

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
