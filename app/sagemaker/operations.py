"""The SageMaker operations the service calls: one row each.

A row says everything the rest of the service needs to know of an operation: its AWS name, the
key it is looked up by (which writes the request), how its answer becomes a record, what a kept
answer must be, how long the cache may keep it, and which other key its answer also settles.
The client (:mod:`app.sagemaker.client`), the cache (:mod:`app.cache.cached_sagemaker`) and the
loaders (:mod:`app.loaders`) are generic over rows, so adding an operation is a row here plus its
key and record types.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, Protocol, TypeGuard, TypeVar

from app.sagemaker.keys import ImageKey, ImagesPage, ImageVersionKey, ImageVersionsPage
from app.sagemaker.records import (
    AwsRecord,
    ImageDescription,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionSummary,
    Page,
)
from app.sagemaker.targets import Target


class Key(Hashable, Protocol):
    """What an operation is looked up by: a hashable value that writes its own AWS request,
    and names the target (region and account) it is sent to; None is the default target."""

    @property
    def target(self) -> Target | None: ...

    def as_request(self) -> dict[str, Any]: ...


K = TypeVar("K", bound=Key)
V = TypeVar("V")
R = TypeVar("R", bound=AwsRecord)


class Freshness(Enum):
    """How the cache times an operation's answers (``app.cache.policy``)."""

    # A resource's state: long while it is settled, short while it is in a transition.
    RESOURCE = "resource"
    # What can change whenever a resource is added or updated: a list, an alias list.
    LISTING = "listing"


def _nothing(key: Any, answer: Any) -> None:
    return None


@dataclass(frozen=True, eq=False)
class Operation(Generic[K, V]):
    """One SageMaker operation: a row of the table below."""

    name: str
    read: Callable[[Mapping[str, Any]], V]
    # What a kept answer must be (a store shared with other processes may hold anything under
    # a key; what is not this is a miss): an instance of answer_type, and for a page or a list,
    # holding only item_type.
    answer_type: type
    freshness: Freshness
    item_type: type | None = None
    # The list member gathered over every page, for an operation whose answer is all of them.
    gathers: str | None = None
    # The other key an answer also answers (an alias's answer is its version's too), if any.
    also_answers: Callable[[K, V], K | None] = _nothing

    def is_answer(self, value: object) -> TypeGuard[V]:
        if not isinstance(value, self.answer_type):
            return False
        if self.item_type is None:
            return True
        items = value.items if isinstance(value, Page) else value
        return isinstance(items, list) and all(isinstance(item, self.item_type) for item in items)

    def __repr__(self) -> str:
        return f"Operation({self.name})"


def _listing(name: str, member: str, record: type[R]) -> Operation[Any, Page[R]]:
    """A list operation: a page of ``record``s from the answer's ``member``."""

    def read(answer: Mapping[str, Any]) -> Page[R]:
        items = [record.from_aws(item) for item in answer.get(member, [])]
        return Page(items, answer.get("NextToken"))

    return Operation(name, read, Page, Freshness.LISTING, item_type=record)


def _strings(member: str) -> Callable[[Mapping[str, Any]], list[str]]:
    def read(answer: Mapping[str, Any]) -> list[str]:
        return [str(item) for item in answer.get(member, [])]

    return read


def _pinned(key: ImageVersionKey, answer: ImageVersionDescription) -> ImageVersionKey | None:
    # A version found by alias or as the latest is also the answer for (image, its version).
    return key.pinned(answer.version) if key.version is None else None


DESCRIBE_IMAGE_VERSION = Operation[ImageVersionKey, ImageVersionDescription](
    "DescribeImageVersion",
    ImageVersionDescription.from_aws,
    ImageVersionDescription,
    Freshness.RESOURCE,
    also_answers=_pinned,
)
DESCRIBE_IMAGE = Operation[ImageKey, ImageDescription](
    "DescribeImage", ImageDescription.from_aws, ImageDescription, Freshness.RESOURCE
)
LIST_IMAGES: Operation[ImagesPage, Page[ImageSummary]] = _listing(
    "ListImages", "Images", ImageSummary
)
LIST_IMAGE_VERSIONS: Operation[ImageVersionsPage, Page[ImageVersionSummary]] = _listing(
    "ListImageVersions", "ImageVersions", ImageVersionSummary
)
LIST_ALIASES = Operation[ImageVersionKey, list[str]](
    "ListAliases",
    _strings("SageMakerImageVersionAliases"),
    list,
    Freshness.LISTING,
    item_type=str,
    gathers="SageMakerImageVersionAliases",
)

OPERATIONS: tuple[Operation[Any, Any], ...] = (
    DESCRIBE_IMAGE_VERSION,
    DESCRIBE_IMAGE,
    LIST_IMAGES,
    LIST_IMAGE_VERSIONS,
    LIST_ALIASES,
)
