"""Each record maps every one of its fields from a member of the model's answer shape."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import botocore.session
import pytest
from botocore.model import StructureShape

from app.sagemaker import (
    ImageDescription,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionSummary,
)
from app.sagemaker.records import AwsRecord

MODEL = botocore.session.get_session().get_service_model("sagemaker")


@pytest.mark.parametrize(
    ("record", "shape"),
    [
        (ImageSummary, "Image"),
        (ImageDescription, "DescribeImageResponse"),
        (ImageVersionSummary, "ImageVersion"),
        (ImageVersionDescription, "DescribeImageVersionResponse"),
    ],
)
def test_every_field_comes_from_a_member_of_the_answer(record: type[AwsRecord], shape: str) -> None:
    answer = MODEL.shape_for(shape)
    assert isinstance(answer, StructureShape)
    members = set(answer.members)
    assert set(record._MEMBERS) == {field.name for field in dataclasses.fields(record)}
    assert set(record._MEMBERS.values()) <= members


def test_the_describe_answer_is_read_whole_and_in_utc() -> None:
    answer = MODEL.shape_for("DescribeImageVersionResponse")
    assert isinstance(answer, StructureShape)
    unread = set(answer.members) - set(ImageVersionDescription._MEMBERS.values())
    assert unread == set()
    local = timezone(timedelta(hours=2))
    record = ImageVersionSummary.from_aws(
        {
            "ImageVersionArn": "arn:aws:sagemaker:us-east-1:1:image-version/Img/1",
            "ImageArn": "arn:aws:sagemaker:us-east-1:1:image/Img",
            "Version": 1,
            "ImageVersionStatus": "CREATED",
            "CreationTime": datetime(2026, 1, 1, 12, tzinfo=local),
            "LastModifiedTime": datetime(2026, 1, 1, 12, tzinfo=local),
        }
    )
    assert record.creation_time == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert record.creation_time.tzinfo == UTC
    assert record.image_name == "Img"
