"""The ARNs SageMaker gives images and image versions.

They are built in one place because clients parse them (the service reads an image's name and a
version's number back out of a version ARN), so every answer must spell them exactly alike.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arns:
    """ARNs in one region and account, which is all an endpoint serves."""

    region: str
    account_id: str

    def image(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:image/{name}"

    def image_version(self, name: str, version: int) -> str:
        # SageMaker writes the image name of a version ARN in lower case, whatever its case.
        return (
            f"arn:aws:sagemaker:{self.region}:{self.account_id}"
            f":image-version/{name.lower()}/{version}"
        )


def image_arn_of_version(version_arn: str, image_name: str) -> str:
    """The ARN of a version's image. A version row holds no image ARN; the image shares the
    version ARN's region and account, so it is derived rather than stored twice."""
    return f"{version_arn.split(':image-version/')[0]}:image/{image_name}"
