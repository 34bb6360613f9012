"""SageMaker's answers as frozen records with Python names and UTC times.

Each record class lists the AWS member behind each of its fields (``_MEMBERS``): the one place
where AWS's names meet ours. Enumerated values (statuses, vendor guidance, ...) stay the model's
strings: AWS may add a value before this service knows it, and it is the presenter's call what a
client sees then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class AwsRecord:
    """A record read from an AWS answer through its class's member table."""

    _MEMBERS: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def from_aws(cls, answer: Mapping[str, Any]) -> Self:
        values = {field: answer.get(member) for field, member in cls._MEMBERS.items()}
        for field, value in values.items():
            if isinstance(value, datetime):
                values[field] = value.astimezone(UTC)
        return cls(**values)


@dataclass(frozen=True)
class ImageSummary(AwsRecord):
    """An image as ListImages lists it."""

    _MEMBERS: ClassVar[Mapping[str, str]] = {
        "image_name": "ImageName",
        "image_arn": "ImageArn",
        "image_status": "ImageStatus",
        "creation_time": "CreationTime",
        "last_modified_time": "LastModifiedTime",
        "display_name": "DisplayName",
        "description": "Description",
        "failure_reason": "FailureReason",
    }

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

    _MEMBERS: ClassVar[Mapping[str, str]] = {**ImageSummary._MEMBERS, "role_arn": "RoleArn"}

    role_arn: str | None = None


@dataclass(frozen=True)
class ImageVersionSummary(AwsRecord):
    """A version as ListImageVersions lists it."""

    _MEMBERS: ClassVar[Mapping[str, str]] = {
        "image_version_arn": "ImageVersionArn",
        "image_arn": "ImageArn",
        "version": "Version",
        "image_version_status": "ImageVersionStatus",
        "creation_time": "CreationTime",
        "last_modified_time": "LastModifiedTime",
        "failure_reason": "FailureReason",
    }

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

    _MEMBERS: ClassVar[Mapping[str, str]] = {
        **ImageVersionSummary._MEMBERS,
        "base_image": "BaseImage",
        "container_image": "ContainerImage",
        "vendor_guidance": "VendorGuidance",
        "job_type": "JobType",
        "ml_framework": "MLFramework",
        "programming_lang": "ProgrammingLang",
        "processor": "Processor",
        "horovod": "Horovod",
        "release_notes": "ReleaseNotes",
    }

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
