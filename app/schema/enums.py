"""The enums of the image APIs, with exactly the values of botocore's SageMaker model.

They are written out (not generated at import) so that each value has its description and the
schema is stable; ``tests/service/test_schema_contract.py`` compares them with the model, so a
value AWS adds fails the suite instead of a user's query. A member's value is the model's value,
which is what the AWS package takes and gives (:func:`model_value`).
"""

from __future__ import annotations

from enum import Enum

import strawberry


def model_value(member: Enum) -> str:
    """The model's value for a member of one of these enums."""
    value = member.value
    assert isinstance(value, str)
    return value


@strawberry.enum(description="Where an image version is in its lifecycle.")
class ImageVersionStatus(Enum):
    CREATING = strawberry.enum_value("CREATING", description="SageMaker is creating the version.")
    CREATED = strawberry.enum_value("CREATED", description="The version is ready to use.")
    CREATE_FAILED = strawberry.enum_value(
        "CREATE_FAILED", description="Creating the version failed; `failureReason` says why."
    )
    DELETING = strawberry.enum_value("DELETING", description="SageMaker is deleting the version.")
    DELETE_FAILED = strawberry.enum_value(
        "DELETE_FAILED", description="Deleting the version failed; `failureReason` says why."
    )


@strawberry.enum(description="The stability of an image version, as its maintainer states it.")
class VendorGuidance(Enum):
    NOT_PROVIDED = strawberry.enum_value(
        "NOT_PROVIDED", description="The maintainer gave no guidance on the version's stability."
    )
    STABLE = strawberry.enum_value("STABLE", description="The version is stable.")
    TO_BE_ARCHIVED = strawberry.enum_value(
        "TO_BE_ARCHIVED",
        description="The version is set to be archived; SageMaker archives custom image versions "
        "three months after they are marked so.",
    )
    ARCHIVED = strawberry.enum_value(
        "ARCHIVED",
        description="The version is archived: not searchable and no longer actively supported.",
    )


@strawberry.enum(description="The kind of SageMaker job an image version is compatible with.")
class JobType(Enum):
    TRAINING = strawberry.enum_value("TRAINING", description="SageMaker training jobs.")
    INFERENCE = strawberry.enum_value("INFERENCE", description="SageMaker inference jobs.")
    NOTEBOOK_KERNEL = strawberry.enum_value(
        "NOTEBOOK_KERNEL", description="SageMaker notebook kernels."
    )


@strawberry.enum(description="The processor an image version is built for.")
class Processor(Enum):
    CPU = strawberry.enum_value("CPU", description="The version runs on CPU instances.")
    GPU = strawberry.enum_value("GPU", description="The version runs on GPU instances.")


@strawberry.enum(description="Where an image is in its lifecycle.")
class ImageStatus(Enum):
    CREATING = strawberry.enum_value("CREATING", description="SageMaker is creating the image.")
    CREATED = strawberry.enum_value("CREATED", description="The image is ready to use.")
    CREATE_FAILED = strawberry.enum_value(
        "CREATE_FAILED", description="Creating the image failed; `failureReason` says why."
    )
    UPDATING = strawberry.enum_value("UPDATING", description="SageMaker is updating the image.")
    UPDATE_FAILED = strawberry.enum_value(
        "UPDATE_FAILED", description="Updating the image failed; `failureReason` says why."
    )
    DELETING = strawberry.enum_value("DELETING", description="SageMaker is deleting the image.")
    DELETE_FAILED = strawberry.enum_value(
        "DELETE_FAILED", description="Deleting the image failed; `failureReason` says why."
    )


@strawberry.enum(description="What to order images by.")
class ImageSortBy(Enum):
    CREATION_TIME = strawberry.enum_value("CREATION_TIME", description="When each was created.")
    LAST_MODIFIED_TIME = strawberry.enum_value(
        "LAST_MODIFIED_TIME", description="When each was last modified."
    )
    IMAGE_NAME = strawberry.enum_value("IMAGE_NAME", description="The image name.")


@strawberry.enum(description="What to order image versions by.")
class ImageVersionSortBy(Enum):
    CREATION_TIME = strawberry.enum_value("CREATION_TIME", description="When each was created.")
    LAST_MODIFIED_TIME = strawberry.enum_value(
        "LAST_MODIFIED_TIME", description="When each was last modified."
    )
    VERSION = strawberry.enum_value("VERSION", description="The version number.")


@strawberry.enum(description="The direction of an order.")
class ImageSortOrder(Enum):
    ASCENDING = strawberry.enum_value("ASCENDING", description="Smallest or oldest first.")
    DESCENDING = strawberry.enum_value("DESCENDING", description="Largest or newest first.")
