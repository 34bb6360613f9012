"""The entities: Image and ImageVersion, both federation keys, both loaded only through the
request's DataLoaders.

An entity can come from a list call (a summary) or a describe call (everything). Fields a summary
holds are served from it; the rest are *described* fields (:func:`described`), which load the
describe answer through the loader when a query first asks for one, so listing fifty versions
costs no describe call unless the query wants, say, their ``baseImage``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Protocol

import strawberry
from graphql import GraphQLError

from app.errors import ErrorCode, InvalidInput, reported_as_graphql_errors
from app.sagemaker import (
    ImageDescription,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionRef,
    ImageVersionSummary,
    ListRequest,
    check_string,
    ref_from_image_version_arn,
)
from app.schema.connections import DEFAULT_FIRST, Connection, paginate
from app.schema.context import Info
from app.schema.enums import (
    ImageStatus,
    ImageVersionSortBy,
    ImageVersionStatus,
    JobType,
    Processor,
    SortOrder,
    VendorGuidance,
)


class Describable(Protocol):
    @property
    def asked(self) -> dict[str, Any]: ...

    async def describe(self, info: Info) -> object: ...


def described(attribute: str, description: str, convert: Callable[[Any], Any] | None = None) -> Any:
    """A field served from the entity's describe answer, loaded on first use.

    The GraphQL type comes from the class annotation the field is assigned to.
    """

    async def resolve(root: Describable, info: Info) -> Any:
        value = getattr(await root.describe(info), attribute)
        with reported_as_graphql_errors(root.asked):
            return value if convert is None or value is None else convert(value)

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
First = Annotated[int, strawberry.argument(description="How many items to return, from 1 to 100.")]
Order = Annotated[SortOrder, strawberry.argument(description="Ascending or descending.")]


@strawberry.input(description="Only items created or last modified between these times.")
class TimeFilter:
    creation_time_after: datetime | None = strawberry.field(
        default=None, description="Only items created after this time."
    )
    creation_time_before: datetime | None = strawberry.field(
        default=None, description="Only items created before this time."
    )
    last_modified_time_after: datetime | None = strawberry.field(
        default=None, description="Only items last modified after this time."
    )
    last_modified_time_before: datetime | None = strawberry.field(
        default=None, description="Only items last modified before this time."
    )

    @staticmethod
    def bounds(time_filter: TimeFilter | None) -> dict[str, Any]:
        """The filter as ListRequest fields; no filter, no bounds."""
        return {} if time_filter is None else dict(vars(time_filter))


Filter = Annotated[
    TimeFilter | None, strawberry.argument(description="Only items within these times.")
]


@strawberry.federation.type(
    keys=["imageVersionArn"],
    description="One version of a SageMaker image: the container image behind it, what it is "
    "compatible with and where it is in its lifecycle (DescribeImageVersion).",
)
class ImageVersion:
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

    @classmethod
    def from_summary(cls, found: ImageVersionSummary) -> ImageVersion:
        return cls(
            **_summary_values(found, ImageVersionSummary),
            image_name=found.image_name,
            image_version_status=ImageVersionStatus(found.image_version_status),
            _description=found if isinstance(found, ImageVersionDescription) else None,
        )

    @property
    def asked(self) -> dict[str, Any]:
        """The facts an error about this version carries."""
        return {"imageName": self.image_name, "version": self.version}

    async def describe(self, info: Info) -> ImageVersionDescription:
        if self._description is None:
            with reported_as_graphql_errors(self.asked):
                ref = ImageVersionRef(self.image_name, self.version)
                self._description = await info.context.loaders.image_version.load(ref)
        return self._description

    @strawberry.field(description="The aliases that name this version (ListAliases).")
    async def aliases(self, info: Info) -> list[str]:
        with reported_as_graphql_errors(self.asked):
            return await info.context.loaders.aliases.load((self.image_name, self.version))

    @strawberry.field(description="The image this version belongs to.")
    async def image(self, info: Info) -> Image | None:
        return await load_image(info, self.image_name)

    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> ImageVersion:
        """A federated gateway's ``_entities`` lookup by ``imageVersionArn``."""
        arn = representation.get("imageVersionArn")

        def ref() -> ImageVersionRef:
            if not isinstance(arn, str):
                raise InvalidInput("An ImageVersion representation needs imageVersionArn.")
            return ref_from_image_version_arn(arn)

        return await load_image_version(info, {"imageVersionArn": arn}, ref)


@strawberry.federation.type(
    keys=["imageName"],
    description="A SageMaker image: a named series of container image versions (DescribeImage).",
)
class Image:
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

    @classmethod
    def from_summary(cls, found: ImageSummary) -> Image:
        return cls(
            **_summary_values(found, ImageSummary),
            image_status=ImageStatus(found.image_status),
            _description=found if isinstance(found, ImageDescription) else None,
        )

    @property
    def asked(self) -> dict[str, Any]:
        """The facts an error about this image carries."""
        return {"imageName": self.image_name}

    async def describe(self, info: Info) -> ImageDescription:
        if self._description is None:
            with reported_as_graphql_errors(self.asked):
                self._description = await info.context.loaders.image.load(self.image_name)
        return self._description

    @strawberry.field(
        description="The image's versions, newest first unless `sortBy`/`sortOrder` say "
        "otherwise (ListImageVersions). Each version's summary fields cost nothing more; "
        "asking for any other field describes that version."
    )
    async def versions(
        self,
        info: Info,
        first: First = DEFAULT_FIRST,
        after: After = None,
        sort_by: Annotated[
            ImageVersionSortBy, strawberry.argument(description="What to order by.")
        ] = ImageVersionSortBy.CREATION_TIME,
        sort_order: Order = SortOrder.DESCENDING,
        filter: Filter = None,
    ) -> Connection[ImageVersion]:
        request = ListRequest(
            image_name=self.image_name,
            sort_by=sort_by.name,
            sort_order=sort_order.name,
            **TimeFilter.bounds(filter),
        )
        with reported_as_graphql_errors(self.asked):
            return await paginate(
                info.context.loaders.image_version_page.load,
                request,
                first,
                after,
                ImageVersion.from_summary,
            )

    @strawberry.field(
        description="One version of this image, by number or alias; the latest when neither is "
        "given. Null, with a NOT_FOUND error, when there is no such version."
    )
    async def version(
        self, info: Info, version: Version = None, alias: Alias = None
    ) -> ImageVersion | None:
        return await load_image_version_by_ref(info, self.image_name, version, alias)

    @strawberry.field(
        description="The newest version of this image; null when the image has no versions."
    )
    async def latest_version(self, info: Info) -> ImageVersion | None:
        try:
            return await load_image_version_by_ref(info, self.image_name, None, None)
        except GraphQLError as error:
            if (error.extensions or {}).get("code") == ErrorCode.NOT_FOUND:
                return None
            raise

    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> Image:
        """A federated gateway's ``_entities`` lookup by ``imageName``."""
        return await load_image(info, representation.get("imageName"))


def _summary_values(found: ImageSummary | ImageVersionSummary, summary: type) -> dict[str, Any]:
    """The values of the ``summary`` record's fields in ``found``, enums still as strings."""
    values = {f.name: getattr(found, f.name) for f in dataclasses.fields(summary)}
    return {name: value for name, value in values.items() if not name.endswith("_status")}


async def load_image(info: Info, image_name: object) -> Image:
    with reported_as_graphql_errors({"imageName": image_name}):
        if not isinstance(image_name, str):
            raise InvalidInput("An Image representation needs imageName.")
        check_string(image_name, "ImageName", "imageName")
        return Image.from_summary(await info.context.loaders.image.load(image_name))


async def load_image_version(
    info: Info, asked: dict[str, Any], ref: Callable[[], ImageVersionRef]
) -> ImageVersion:
    """Load one version through the request's loader; any failure, from checking the arguments
    to SageMaker's answer, is raised as a GraphQL error carrying what was ``asked``."""
    with reported_as_graphql_errors(asked):
        return ImageVersion.from_summary(await info.context.loaders.image_version.load(ref()))


async def load_image_version_by_ref(
    info: Info, image_name: str, version: int | None, alias: str | None
) -> ImageVersion:
    asked = {"imageName": image_name, "version": version, "alias": alias}
    return await load_image_version(
        info, asked, lambda: ImageVersionRef.parse(image_name, version, alias)
    )
