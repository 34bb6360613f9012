"""The output structures of the operations, built from rows with AWS's member names.

Listing and describing share them, so an image or version reads the same whichever call returned
it; the wire-shape tests check each against botocore's output shapes.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from app.local_sagemaker.arns import image_arn_of_version
from app.local_sagemaker.database import VERSION_FIELDS


def _without_nulls(fields: dict[str, Any]) -> dict[str, Any]:
    # AWS omits absent members instead of sending null.
    return {key: value for key, value in fields.items() if value is not None}


def _failure_reason(row: sqlite3.Row) -> str | None:
    """The row's failure reason, once it has failed: a version of a failing base image holds
    its reason from the start, while it is still CREATING."""
    reason: str | None = row["failure_reason"]
    return reason if row["status"].endswith("_FAILED") else None


def image_summary(row: sqlite3.Row) -> dict[str, Any]:
    """An ``Image`` as ListImages returns it; DescribeImage adds the role."""
    return _without_nulls(
        {
            "CreationTime": row["created"],
            "Description": row["description"],
            "DisplayName": row["display_name"],
            "FailureReason": _failure_reason(row),
            "ImageArn": row["arn"],
            "ImageName": row["name"],
            "ImageStatus": row["status"],
            "LastModifiedTime": row["modified"],
        }
    )


def image_description(row: sqlite3.Row) -> dict[str, Any]:
    return {**image_summary(row), "RoleArn": row["role_arn"]}


def version_summary(row: sqlite3.Row) -> dict[str, Any]:
    """An ``ImageVersion`` as ListImageVersions returns it."""
    return _without_nulls(
        {
            "CreationTime": row["created"],
            "FailureReason": _failure_reason(row),
            "ImageArn": image_arn_of_version(row["arn"], row["image_name"]),
            "ImageVersionArn": row["arn"],
            "ImageVersionStatus": row["status"],
            "LastModifiedTime": row["modified"],
            "Version": row["version"],
        }
    )


def version_description(row: sqlite3.Row) -> dict[str, Any]:
    """DescribeImageVersion's answer: the summary plus the images and the optional fields."""
    horovod = row["horovod"]
    return _without_nulls(
        {
            **version_summary(row),
            "BaseImage": row["base_image"],
            "ContainerImage": row["container_image"],
            **{member: row[column] for member, column in VERSION_FIELDS.items()},
            # SQLite has no boolean: the column holds 0 or 1, the wire wants false or true.
            "Horovod": None if horovod is None else bool(horovod),
        }
    )
