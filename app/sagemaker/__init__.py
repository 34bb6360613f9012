"""Everything AWS: the SageMaker client, what can be looked up (keys), what comes back
(records), the model's input rules, and the few ways a lookup can fail (domain errors).

The rest of the service meets AWS only through these names: it builds keys, gets records or
domain errors, and never sees botocore or an AWS member name. Nothing here knows GraphQL.
"""

from app.sagemaker.client import (
    AwsOptions,
    SageMaker,
    SageMakerCalls,
    build_client,
    build_transport,
)
from app.sagemaker.errors import (
    AccessDenied,
    DeadlineExceeded,
    InvalidInput,
    NotFound,
    SageMakerError,
    Throttled,
    Unavailable,
    UnexpectedAnswer,
)
from app.sagemaker.keys import (
    ImageKey,
    ImagesPage,
    ImageVersionKey,
    ImageVersionsPage,
    TimeBounds,
    same_resource,
)
from app.sagemaker.records import (
    ImageDescription,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionSummary,
    Page,
)

__all__ = [
    "AccessDenied",
    "AwsOptions",
    "DeadlineExceeded",
    "ImageDescription",
    "ImageKey",
    "ImageSummary",
    "ImageVersionDescription",
    "ImageVersionKey",
    "ImageVersionSummary",
    "ImageVersionsPage",
    "ImagesPage",
    "InvalidInput",
    "NotFound",
    "Page",
    "SageMaker",
    "SageMakerCalls",
    "SageMakerError",
    "Throttled",
    "TimeBounds",
    "Unavailable",
    "UnexpectedAnswer",
    "build_client",
    "build_transport",
    "same_resource",
]
