"""The ImageVersion entity and the one path by which any resolver loads it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import strawberry

from app.errors import InvalidInput, to_graphql_error
from app.sagemaker import ImageVersionDescription, ImageVersionRef, ref_from_image_version_arn
from app.schema.context import Info, RequestContext
from app.schema.enums import ImageVersionStatus, JobType, Processor, VendorGuidance

E = TypeVar("E", bound=Enum)


@strawberry.input(
    name="ImageVersionRef",
    description="Which image version to load: by version number, by alias, or, with neither, "
    "the latest version of the image.",
)
class ImageVersionRefInput:
    image_name: str = strawberry.field(description="The name of the SageMaker image.")
    version: int | None = strawberry.field(
        default=None, description="The version number; not together with `alias`."
    )
    alias: str | None = strawberry.field(
        default=None, description="An alias of the version, such as `stable`; not with `version`."
    )


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
    base_image: str | None = strawberry.field(
        description="The registry path of the container image the version is based on."
    )
    container_image: str | None = strawberry.field(
        description="The registry path of the container image that holds this version."
    )
    creation_time: datetime = strawberry.field(description="When the version was created (UTC).")
    last_modified_time: datetime = strawberry.field(
        description="When the version was last modified (UTC)."
    )
    failure_reason: str | None = strawberry.field(
        description="Why creating or deleting the version failed, when it did."
    )
    vendor_guidance: VendorGuidance | None = strawberry.field(
        description="The stability of the version, as its maintainer states it."
    )
    job_type: JobType | None = strawberry.field(
        description="The kind of SageMaker job the version is compatible with."
    )
    ml_framework: str | None = strawberry.field(
        description="The machine learning framework in the version, e.g. `PyTorch 2.3`."
    )
    programming_lang: str | None = strawberry.field(
        description="The programming language and its version, e.g. `Python 3.11`."
    )
    processor: Processor | None = strawberry.field(
        description="Whether the version runs on CPU or GPU."
    )
    horovod: bool | None = strawberry.field(
        description="Whether the version supports Horovod distributed training."
    )
    release_notes: str | None = strawberry.field(
        description="The maintainer's notes on the version."
    )

    @classmethod
    def from_description(cls, found: ImageVersionDescription) -> ImageVersion:
        return cls(
            image_version_arn=found.image_version_arn,
            image_arn=found.image_arn,
            image_name=found.image_name,
            version=found.version,
            image_version_status=ImageVersionStatus(found.image_version_status),
            base_image=found.base_image,
            container_image=found.container_image,
            creation_time=found.creation_time,
            last_modified_time=found.last_modified_time,
            failure_reason=found.failure_reason,
            vendor_guidance=_optional(VendorGuidance, found.vendor_guidance),
            job_type=_optional(JobType, found.job_type),
            ml_framework=found.ml_framework,
            programming_lang=found.programming_lang,
            processor=_optional(Processor, found.processor),
            horovod=found.horovod,
            release_notes=found.release_notes,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> ImageVersion:
        """A federated gateway's ``_entities`` lookup by ``imageVersionArn``."""
        arn = representation.get("imageVersionArn")

        def ref() -> ImageVersionRef:
            if not isinstance(arn, str):
                raise InvalidInput("An ImageVersion representation needs imageVersionArn.")
            return ref_from_image_version_arn(arn)

        return await load_image_version(info.context, {"imageVersionArn": arn}, ref)


def _optional(enum: type[E], value: str | None) -> E | None:
    return None if value is None else enum(value)


async def load_image_version(
    context: RequestContext, asked: Mapping[str, Any], ref: Callable[[], ImageVersionRef]
) -> ImageVersion:
    """Load one version through the request's loader; any failure, from checking the arguments
    to SageMaker's answer, is raised as a GraphQL error carrying what was ``asked``."""
    try:
        found = await context.loaders.image_version.load(ref())
        return ImageVersion.from_description(found)
    except Exception as error:
        raise to_graphql_error(error, asked) from None
