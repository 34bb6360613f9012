"""The SageMaker gateway: the one place that holds the boto3 client and calls AWS.

boto3 is synchronous, so each call runs on a thread of a pool exactly as large as the client's
HTTP connection pool (``max_pool_connections``): as many calls are in flight as there are
connections for them, and a burst beyond that waits for a free thread instead of for a
connection inside botocore, where a timeout would look like an AWS failure.

AWS's member names (``ImageVersionArn``) stop here: the rest of the service sees
:class:`ImageVersionRef` keys, :class:`ListRequest` pages and frozen records (summaries from the
list calls, descriptions from the describe calls) with Python names and UTC times.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import boto3
import botocore.session
import regex
from botocore.config import Config

from app.errors import InvalidInput
from app.settings import Settings

if TYPE_CHECKING:
    # A dev-only stubs package: never imported at run time (the shipped install lacks it).
    from mypy_boto3_sagemaker import SageMakerClient

T = TypeVar("T")

# The local endpoint checks no signatures; these only have to look like credentials.
LOCAL_CREDENTIALS = ("local", "local")


def _string_rules(*shape_names: str) -> dict[str, tuple[regex.Pattern[str], int, int]]:
    """(pattern, min length, max length) of some of the model's string shapes."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    rules = {}
    for name in shape_names:
        metadata = model.shape_for(name).metadata
        pattern = regex.compile(metadata["pattern"])
        rules[name] = (pattern, metadata.get("min", 0), metadata.get("max", 1 << 30))
    return rules


# Read at import, not on a request's path: loading the model takes about 0.1 s.
_STRING_RULES = _string_rules("ImageName", "SageMakerImageVersionAlias", "ImageNameContains")


def check_string(value: str, shape_name: str, argument: str) -> None:
    """Raise InvalidInput unless ``value`` satisfies the model's rules for ``shape_name``."""
    pattern, low, high = _STRING_RULES[shape_name]
    if not low <= len(value) <= high or pattern.fullmatch(value) is None:
        raise InvalidInput(
            f"{argument} {value[:80]!r} is not valid: it must be {low} to {high} characters "
            f"matching {pattern.pattern}"
        )


@dataclass(frozen=True)
class ImageVersionRef:
    """A normalized lookup key: (image, version), (image, alias) or (image, latest).

    Frozen, hence hashable: DataLoaders use it as their cache key, so two requests for the same
    version in one query share one call.
    """

    image_name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, image_name: str, version: int | None, alias: str | None) -> ImageVersionRef:
        """Check the arguments as SageMaker would, without calling it."""
        check_string(image_name, "ImageName", "imageName")
        if version is not None and alias is not None:
            raise InvalidInput("Give either version or alias, not both.")
        if version is not None and version < 0:
            raise InvalidInput(f"version must be 0 or more, not {version}.")
        if alias is not None:
            check_string(alias, "SageMakerImageVersionAlias", "alias")
        return cls(image_name, version, alias)

    def pinned(self, version: int) -> ImageVersionRef:
        return ImageVersionRef(self.image_name, version)

    def as_request(self) -> dict[str, Any]:
        request: dict[str, Any] = {"ImageName": self.image_name}
        if self.version is not None:
            request["Version"] = self.version
        if self.alias is not None:
            request["Alias"] = self.alias
        return request


_IMAGE_VERSION_ARN = regex.compile(
    r"arn:aws(?:-[a-z]+)*:sagemaker:[a-z0-9-]+:\d{12}:image-version/"
    r"(?P<name>[a-zA-Z0-9](?:[-.]?[a-zA-Z0-9]){0,62})/(?P<version>\d{1,9})"
)


def ref_from_image_version_arn(arn: str) -> ImageVersionRef:
    """The (image, version) an ImageVersionArn names, e.g.
    ``arn:aws:sagemaker:us-east-1:123456789012:image-version/my-image/3``."""
    match = _IMAGE_VERSION_ARN.fullmatch(arn) if len(arn) <= 256 else None
    if match is None:
        raise InvalidInput(
            f"imageVersionArn {arn[:80]!r} is not an image version ARN "
            "(arn:aws:sagemaker:<region>:<account>:image-version/<image>/<version>)."
        )
    return ImageVersionRef(match["name"], int(match["version"]))


def _aws_name(field_name: str) -> str:
    # creation_time -> CreationTime; the one member that is not plain PascalCase is MLFramework.
    if field_name == "ml_framework":
        return "MLFramework"
    return "".join(part.capitalize() for part in field_name.split("_"))


@dataclass(frozen=True)
class AwsRecord:
    """A SageMaker answer with Python names and UTC times, built by :meth:`from_aws`."""

    @classmethod
    def from_aws(cls, answer: Mapping[str, Any]) -> Self:
        values = {f.name: answer.get(_aws_name(f.name)) for f in fields(cls)}
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = value.astimezone(UTC)
        return cls(**values)


@dataclass(frozen=True)
class ImageSummary(AwsRecord):
    """An image as ListImages lists it."""

    image_name: str
    image_arn: str
    image_status: str
    creation_time: datetime
    last_modified_time: datetime
    display_name: str | None = None
    description: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class ImageDescription(ImageSummary):
    """An image as DescribeImage describes it: the summary plus its role."""

    role_arn: str | None = None


@dataclass(frozen=True)
class ImageVersionSummary(AwsRecord):
    """A version as ListImageVersions lists it."""

    image_version_arn: str
    image_arn: str
    version: int
    image_version_status: str
    creation_time: datetime
    last_modified_time: datetime
    failure_reason: str | None = None

    @property
    def image_name(self) -> str:
        # The image ARN keeps the name's case; the version ARN lowercases it.
        return self.image_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ImageVersionDescription(ImageVersionSummary):
    """A version as DescribeImageVersion describes it: the summary plus everything else."""

    base_image: str | None = None
    container_image: str | None = None
    vendor_guidance: str | None = None
    job_type: str | None = None
    ml_framework: str | None = None
    programming_lang: str | None = None
    processor: str | None = None
    horovod: bool | None = None
    release_notes: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list call: its items and the token for the next page, if any."""

    items: list[T]
    next_token: str | None


@dataclass(frozen=True)
class ListRequest:
    """The parameters of a ListImages or ListImageVersions call, hashable so that a DataLoader
    can share one call among the fields that ask for the same page."""

    image_name: str | None = None
    max_results: int = 10
    next_token: str | None = None
    name_contains: str | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    creation_time_after: datetime | None = None
    creation_time_before: datetime | None = None
    last_modified_time_after: datetime | None = None
    last_modified_time_before: datetime | None = None

    def as_request(self) -> dict[str, Any]:
        return {
            _aws_name(f.name): getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }


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


class SageMakerGateway:
    """Async calls to SageMaker over one shared client and a bounded pool of threads."""

    def __init__(self, client: SageMakerClient, concurrency: int) -> None:
        self._client = client
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sagemaker")

    async def describe_image_version(self, ref: ImageVersionRef) -> ImageVersionDescription:
        answer = await self._call(self._client.describe_image_version, ref.as_request())
        return ImageVersionDescription.from_aws(answer)

    async def describe_image(self, image_name: str) -> ImageDescription:
        answer = await self._call(self._client.describe_image, {"ImageName": image_name})
        return ImageDescription.from_aws(answer)

    async def list_images(self, request: ListRequest) -> Page[ImageSummary]:
        answer = await self._call(self._client.list_images, request.as_request())
        items = [ImageSummary.from_aws(item) for item in answer.get("Images", [])]
        return Page(items, answer.get("NextToken"))

    async def list_image_versions(self, request: ListRequest) -> Page[ImageVersionSummary]:
        answer = await self._call(self._client.list_image_versions, request.as_request())
        items = [ImageVersionSummary.from_aws(item) for item in answer.get("ImageVersions", [])]
        return Page(items, answer.get("NextToken"))

    async def list_aliases(self, image_name: str, version: int) -> list[str]:
        """Every alias of one version, across as many pages as it takes."""
        aliases: list[str] = []
        request: dict[str, Any] = {"ImageName": image_name, "Version": version, "MaxResults": 100}
        while True:
            answer = await self._call(self._client.list_aliases, request)
            aliases += answer.get("SageMakerImageVersionAliases", [])
            if not answer.get("NextToken"):
                return aliases
            request["NextToken"] = answer["NextToken"]

    async def check_reachable(self) -> None:
        """Raise unless SageMaker answers a cheap authenticated call."""
        await self._call(self._client.list_images, {"MaxResults": 1})

    async def _call(self, method: Callable[..., Any], request: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        response: dict[str, Any] = await loop.run_in_executor(
            self._pool, functools.partial(method, **request)
        )
        return response

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
