"""The entities: Image and ImageVersion, both federation keys, both loaded only through the
request's DataLoaders.

An entity can come from a list call (a summary) or a describe call (everything). Fields a summary
holds are served from it; the rest are *described* fields (:func:`described`), which load the
describe answer through the loader when a query first asks for one, so listing fifty versions
costs no describe call unless the query wants, say, their ``baseImage``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Hashable, Mapping
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Protocol, TypedDict, TypeVar

import strawberry

from app.sagemaker import (
    ImageDescription,
    ImageKey,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionKey,
    ImageVersionsPage,
    ImageVersionSummary,
    InvalidInput,
    NotFound,
    Page,
    TimeBounds,
    UnexpectedAnswer,
    same_resource,
)
from app.sagemaker.keys import PageRequest
from app.sagemaker.operations import (
    DESCRIBE_IMAGE,
    DESCRIBE_IMAGE_VERSION,
    LIST_ALIASES,
    LIST_IMAGE_VERSIONS,
    Operation,
)
from app.sagemaker.targets import Target, target_of_arn
from app.schema.connections import DEFAULT_FIRST, Connection, paginate
from app.schema.context import Info
from app.schema.cost import field_directives, type_directives
from app.schema.enums import (
    ImageSortOrder,
    ImageStatus,
    ImageVersionSortBy,
    ImageVersionStatus,
    JobType,
    Processor,
    VendorGuidance,
    model_value,
)
from app.schema.global_ids import Node
from app.schema.presenter import bad_user_input

EnumT = TypeVar("EnumT", bound=Enum)
PageT = TypeVar("PageT", bound=PageRequest)
ItemT = TypeVar("ItemT")
NodeT = TypeVar("NodeT")


def enum_value(enum: type[EnumT], value: str, key: Hashable) -> EnumT:
    """The schema's member for a value SageMaker answered. The schema's enums hold exactly the
    model's values; one AWS added since is an answer this service cannot present."""
    try:
        return enum(value)
    except ValueError:
        raise UnexpectedAnswer(
            f"SageMaker answered {value!r}, not a {enum.__name__} this service knows.", key=key
        ) from None


class Describable(Protocol):
    @property
    def key(self) -> Hashable: ...

    @property
    def description_loaded(self) -> object | None: ...

    async def describe(self, info: Info) -> object: ...


def described(attribute: str, description: str, enum: type[Enum] | None = None) -> Any:
    """A field served from the entity's describe answer, loaded on first use.

    The resolver is synchronous when the answer is already there (found by a describe, or
    loaded for a sibling field): a plain value costs graphql-core far less than an awaitable,
    and a version's dozen described fields all take this path after the first. The GraphQL
    type comes from the class annotation the field is assigned to.
    """

    def present(root: Describable, answer: object) -> Any:
        value = getattr(answer, attribute)
        return value if enum is None or value is None else enum_value(enum, value, root.key)

    async def load(root: Describable, info: Info) -> Any:
        return present(root, await root.describe(info))

    def resolve(root: Describable, info: Info) -> Any:
        loaded = root.description_loaded
        return present(root, loaded) if loaded is not None else load(root, info)

    return strawberry.field(resolver=resolve, description=description)


Version = Annotated[
    int | None,
    strawberry.argument(description="The version number (0 or more); not together with `alias`."),
]
Alias = Annotated[
    str | None,
    strawberry.argument(
        description="An alias of the version, such as `stable`; not with `version`."
    ),
]
After = Annotated[
    str | None,
    strawberry.argument(description="Return items after this cursor (an `endCursor` or `cursor`)."),
]
First = Annotated[
    int,
    strawberry.argument(
        description="How many items to return, from 1 to the service's limit (100 by default)."
    ),
]
Order = Annotated[ImageSortOrder, strawberry.argument(description="Ascending or descending.")]
Region = Annotated[
    str | None,
    strawberry.argument(
        description="The AWS region to look in, one this service serves; its default target's "
        "when omitted."
    ),
]
Account = Annotated[
    str | None,
    strawberry.argument(
        description="The AWS account (12 digits) to look in, one this service serves; its "
        "default target's when omitted."
    ),
]


def region_of(arn: str, target: Target | None) -> str:
    """The region an entity's ARN names (where it was found, should the ARN not say)."""
    named = target_of_arn(arn) or target
    return named.region if named is not None else ""


def account_of(arn: str, target: Target | None) -> str:
    """The account an entity's ARN names (where it was found, should the ARN not say)."""
    named = target_of_arn(arn) or target
    return named.account if named is not None else ""


@strawberry.input(description="Only items created or last modified between these times.")
class ImageTimeFilter:
    creation_time_after: datetime | None = strawberry.field(
        default=None, description="Only items created at or after this time."
    )
    creation_time_before: datetime | None = strawberry.field(
        default=None, description="Only items created at or before this time."
    )
    last_modified_time_after: datetime | None = strawberry.field(
        default=None, description="Only items last modified at or after this time."
    )
    last_modified_time_before: datetime | None = strawberry.field(
        default=None, description="Only items last modified at or before this time."
    )

    @staticmethod
    def bounds(time_filter: ImageTimeFilter | None) -> TimeBounds:
        """The filter as the AWS package's time bounds; no filter, no bounds."""
        if time_filter is None:
            return TimeBounds()
        return TimeBounds(
            created_after=time_filter.creation_time_after,
            created_before=time_filter.creation_time_before,
            modified_after=time_filter.last_modified_time_after,
            modified_before=time_filter.last_modified_time_before,
        )


Filter = Annotated[
    ImageTimeFilter | None, strawberry.argument(description="Only items within these times.")
]


def ordering(
    sort_by: Enum, sort_order: ImageSortOrder, time_filter: ImageTimeFilter | None
) -> Ordering:
    """The arguments every list takes, as the AWS package's page requests take them."""
    return {
        "sort_by": model_value(sort_by),
        "sort_order": model_value(sort_order),
        "times": ImageTimeFilter.bounds(time_filter),
    }


class Ordering(TypedDict):
    sort_by: str
    sort_order: str
    times: TimeBounds


async def listed(
    info: Info,
    operation: Operation[PageT, Page[ItemT]],
    page: PageT,
    first: int,
    after: str | None,
    to_node: Callable[[ItemT], NodeT],
) -> Connection[NodeT]:
    """A connection over ``operation``'s pages, loaded through the request's loaders."""
    load = functools.partial(info.context.loaders.load, operation)
    return await paginate(load, page, first, after, to_node, info.context.limits.max_first)


@strawberry.federation.type(
    keys=["imageVersionArn"],
    description="One version of a SageMaker image: the container image behind it, what it is "
    "compatible with and where it is in its lifecycle (DescribeImageVersion).",
    directives=type_directives("ImageVersion"),
)
class ImageVersion(Node):
    image_version_arn: str = strawberry.field(
        description="The ARN of the version; the entity's key."
    )
    image_arn: str = strawberry.field(description="The ARN of the image the version belongs to.")
    image_name: str = strawberry.field(description="The name of the image (from `imageArn`).")
    version: int = strawberry.field(description="The version number, counting from 1.")
    image_version_status: ImageVersionStatus = strawberry.field(
        description="Where the version is in its lifecycle."
    )
    creation_time: datetime = strawberry.field(description="When the version was created (UTC).")
    last_modified_time: datetime = strawberry.field(
        description="When the version was last modified (UTC)."
    )
    failure_reason: str | None = strawberry.field(
        description="Why creating or deleting the version failed, when it did."
    )
    base_image: str | None = described(
        "base_image", "The registry path of the container image the version is based on."
    )
    container_image: str | None = described(
        "container_image", "The registry path of the container image that holds this version."
    )
    vendor_guidance: VendorGuidance | None = described(
        "vendor_guidance",
        "The stability of the version, as its maintainer states it.",
        VendorGuidance,
    )
    job_type: JobType | None = described(
        "job_type", "The kind of SageMaker job the version is compatible with.", JobType
    )
    ml_framework: str | None = described(
        "ml_framework", "The machine learning framework in the version, e.g. `PyTorch 2.3`."
    )
    programming_lang: str | None = described(
        "programming_lang", "The programming language and its version, e.g. `Python 3.11`."
    )
    processor: Processor | None = described(
        "processor", "Whether the version runs on CPU or GPU.", Processor
    )
    horovod: bool | None = described(
        "horovod", "Whether the version supports Horovod distributed training."
    )
    release_notes: str | None = described("release_notes", "The maintainer's notes on the version.")
    _description: strawberry.Private[ImageVersionDescription | None] = None
    # Where the version was found: its own lookups (its image, its aliases) go there too.
    _target: strawberry.Private[Target | None] = None

    @classmethod
    def from_record(cls, found: ImageVersionSummary, target: Target | None) -> ImageVersion:
        """The version a list (summary) or describe (description) answer in ``target`` holds."""
        key = ImageVersionKey(found.image_name, found.version, target=target)
        return cls(
            image_version_arn=found.image_version_arn,
            image_arn=found.image_arn,
            image_name=found.image_name,
            version=found.version,
            image_version_status=enum_value(ImageVersionStatus, found.image_version_status, key),
            creation_time=found.creation_time,
            last_modified_time=found.last_modified_time,
            failure_reason=found.failure_reason,
            _description=found if isinstance(found, ImageVersionDescription) else None,
            _target=target,
        )

    @property
    def arn(self) -> str:
        return self.image_version_arn

    @strawberry.field(description="The AWS region the version is in (from its ARN).")
    def region(self) -> str:
        return region_of(self.image_version_arn, self._target)

    @strawberry.field(description="The AWS account the version belongs to (from its ARN).")
    def account_id(self) -> str:
        return account_of(self.image_version_arn, self._target)

    @property
    def key(self) -> ImageVersionKey:
        return ImageVersionKey(self.image_name, self.version, target=self._target)

    @property
    def description_loaded(self) -> ImageVersionDescription | None:
        return self._description

    async def describe(self, info: Info) -> ImageVersionDescription:
        if self._description is None:
            self._description = await info.context.loaders.load(DESCRIBE_IMAGE_VERSION, self.key)
        return self._description

    @strawberry.field(
        description="The aliases that name this version (ListAliases).",
        directives=field_directives("ImageVersion.aliases"),
    )
    async def aliases(self, info: Info) -> list[str]:
        return await info.context.loaders.load(LIST_ALIASES, self.key)

    @strawberry.field(description="The image this version belongs to.")
    async def image(self, info: Info) -> Image | None:
        return await load_image(info, ImageKey(self.image_name, self._target))

    @classmethod
    async def from_representation(
        cls, info: Info, representation: Mapping[str, object]
    ) -> ImageVersion:
        """A federated gateway's ``_entities`` lookup by ``imageVersionArn``, in the partition,
        region and account the ARN names (refused before any call when this service does not
        serve them).

        The answer is ours only if its ARN is the one asked for: SageMaker answers a version by
        name, and a namesake under another ARN is another resource, which must never be merged
        into the client's data.
        """
        arn = representation.get("imageVersionArn")
        if not isinstance(arn, str):
            raise bad_user_input("An ImageVersion representation needs imageVersionArn.")
        return await cls.by_arn(info, arn)

    @classmethod
    async def by_arn(cls, info: Info, arn: str) -> ImageVersion:
        """The version ``arn`` names (see :meth:`from_representation`)."""
        key = ImageVersionKey.from_arn(arn)
        info.context.targets.of_arn(arn, "image_version_arn")
        version = await load_image_version(info, key)
        if not same_resource(arn, version.image_version_arn):
            raise InvalidInput(
                "names a partition, region or account that this service does not serve.",
                field="image_version_arn",
                value=arn,
            )
        return version


@strawberry.federation.type(
    keys=["imageName", "imageArn"],
    description="A SageMaker image: a named series of container image versions (DescribeImage).",
    directives=type_directives("Image"),
)
class Image(Node):
    image_name: str = strawberry.field(description="The name of the image; the entity's key.")
    image_arn: str = strawberry.field(description="The ARN of the image.")
    image_status: ImageStatus = strawberry.field(description="Where the image is in its lifecycle.")
    display_name: str | None = strawberry.field(description="The name shown to people.")
    description: str | None = strawberry.field(description="What the image is for.")
    failure_reason: str | None = strawberry.field(
        description="Why creating, updating or deleting the image failed, when it did."
    )
    creation_time: datetime = strawberry.field(description="When the image was created (UTC).")
    last_modified_time: datetime = strawberry.field(
        description="When the image was last modified (UTC)."
    )
    role_arn: str | None = described(
        "role_arn", "The ARN of the IAM role that lets SageMaker perform tasks for the image."
    )
    _description: strawberry.Private[ImageDescription | None] = None
    # Where the image was found: its versions are looked up there too.
    _target: strawberry.Private[Target | None] = None

    @classmethod
    def from_record(cls, found: ImageSummary, target: Target | None) -> Image:
        """The image a list (summary) or describe (description) answer in ``target`` holds."""
        key = ImageKey(found.image_name, target)
        return cls(
            image_name=found.image_name,
            image_arn=found.image_arn,
            image_status=enum_value(ImageStatus, found.image_status, key),
            display_name=found.display_name,
            description=found.description,
            failure_reason=found.failure_reason,
            creation_time=found.creation_time,
            last_modified_time=found.last_modified_time,
            _description=found if isinstance(found, ImageDescription) else None,
            _target=target,
        )

    @property
    def arn(self) -> str:
        return self.image_arn

    @strawberry.field(description="The AWS region the image is in (from its ARN).")
    def region(self) -> str:
        return region_of(self.image_arn, self._target)

    @strawberry.field(description="The AWS account the image belongs to (from its ARN).")
    def account_id(self) -> str:
        return account_of(self.image_arn, self._target)

    @property
    def key(self) -> ImageKey:
        return ImageKey(self.image_name, self._target)

    @property
    def description_loaded(self) -> ImageDescription | None:
        return self._description

    async def describe(self, info: Info) -> ImageDescription:
        if self._description is None:
            self._description = await info.context.loaders.load(DESCRIBE_IMAGE, self.key)
        return self._description

    @strawberry.field(
        description="The image's versions, newest first unless `sortBy`/`sortOrder` say "
        "otherwise (ListImageVersions). Each version's summary fields cost nothing more; "
        "asking for any other field describes that version.",
        directives=field_directives("Image.versions"),
    )
    async def versions(
        self,
        info: Info,
        first: First = DEFAULT_FIRST,
        after: After = None,
        sort_by: Annotated[
            ImageVersionSortBy, strawberry.argument(description="What to order by.")
        ] = ImageVersionSortBy.CREATION_TIME,
        sort_order: Order = ImageSortOrder.DESCENDING,
        filter: Filter = None,
    ) -> Connection[ImageVersion]:
        target = self._target
        page = ImageVersionsPage(
            image_name=self.image_name, target=target, **ordering(sort_by, sort_order, filter)
        )
        return await listed(
            info,
            LIST_IMAGE_VERSIONS,
            page,
            first,
            after,
            lambda found: ImageVersion.from_record(found, target),
        )

    @strawberry.field(
        description="One version of this image, by number or alias; the latest when neither is "
        "given. Null, with a NOT_FOUND error, when there is no such version."
    )
    async def version(
        self, info: Info, version: Version = None, alias: Alias = None
    ) -> ImageVersion | None:
        key = ImageVersionKey.of(self.image_name, version, alias, self._target)
        return await load_image_version(info, key)

    @strawberry.field(
        description="The newest version of this image; null when the image has no versions."
    )
    async def latest_version(self, info: Info) -> ImageVersion | None:
        try:
            key = ImageVersionKey(self.image_name, target=self._target)
            return await load_image_version(info, key)
        except NotFound:
            return None

    @classmethod
    async def from_representation(cls, info: Info, representation: Mapping[str, object]) -> Image:
        """A federated gateway's ``_entities`` lookup: by ``imageArn``, in the target the ARN
        names; by ``imageName``, in the default target."""
        arn = representation.get("imageArn")
        if isinstance(arn, str):
            return await cls.by_arn(info, arn)
        image_name = representation.get("imageName")
        if not isinstance(image_name, str):
            raise bad_user_input("An Image representation needs imageName or imageArn.")
        return await load_image(info, ImageKey.of(image_name, info.context.targets.default))

    @classmethod
    async def by_arn(cls, info: Info, arn: str) -> Image:
        """The image ``arn`` names, in the target it names (refused before any call when this
        service does not serve it); ours only if its ARN is the one asked for."""
        key = ImageKey.from_arn(arn)
        info.context.targets.of_arn(arn, "image_arn")
        image = await load_image(info, key)
        if not same_resource(arn, image.image_arn):
            raise InvalidInput("names no image this service serves.", field="image_arn", value=arn)
        return image


# The entities a gateway may ask for by representation: __typename -> how to resolve one.
ENTITIES: dict[str, Callable[[Info, Mapping[str, object]], Awaitable[object]]] = {
    "Image": Image.from_representation,
    "ImageVersion": ImageVersion.from_representation,
}

# The types a global ID may name (app.schema.global_ids) -> how to load one by its ARN.
NODES: dict[str, Callable[[Info, str], Awaitable[Node]]] = {
    "Image": Image.by_arn,
    "ImageVersion": ImageVersion.by_arn,
}


async def load_image(info: Info, key: ImageKey) -> Image:
    found = await info.context.loaders.load(DESCRIBE_IMAGE, key)
    return Image.from_record(found, key.target)


async def load_image_version(info: Info, key: ImageVersionKey) -> ImageVersion:
    found = await info.context.loaders.load(DESCRIBE_IMAGE_VERSION, key)
    return ImageVersion.from_record(found, key.target)
