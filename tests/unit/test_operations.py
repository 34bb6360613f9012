"""The table of SageMaker operations against botocore's model (the spec), and what each row
accepts as a kept answer."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape

from app.sagemaker import ImageSummary, ImageVersionSummary, Page
from app.sagemaker.operations import (
    DESCRIBE_IMAGE_VERSION,
    LIST_ALIASES,
    LIST_IMAGE_VERSIONS,
    LIST_IMAGES,
    OPERATIONS,
    Operation,
)
from tests.fakes import version

MODEL = botocore.session.get_session().get_service_model("sagemaker")
SUMMARY = ImageVersionSummary(
    **{name: getattr(version(), name) for name in ImageVersionSummary._MEMBERS}
)


@pytest.mark.parametrize("operation", OPERATIONS, ids=repr)
def test_every_row_is_an_operation_of_the_model(operation: Operation[Any, Any]) -> None:
    model = MODEL.operation_model(operation.name)
    if operation.gathers is not None:
        output, request = model.output_shape, model.input_shape
        assert output is not None
        assert request is not None
        assert isinstance(output.members[operation.gathers], ListShape)
        assert "NextToken" in request.members


@pytest.mark.parametrize(
    ("operation", "kept", "usable"),
    [
        (DESCRIBE_IMAGE_VERSION, version(), True),
        (DESCRIBE_IMAGE_VERSION, ["stable"], False),
        (LIST_IMAGE_VERSIONS, Page([SUMMARY], None), True),
        (LIST_IMAGES, Page([SUMMARY], None), False),
        (LIST_IMAGES, Page([], "token"), True),
        (LIST_ALIASES, ["stable", "latest"], True),
        (LIST_ALIASES, ["stable", 3], False),
        (LIST_ALIASES, Page(["stable"], None), False),
    ],
)
def test_a_kept_answer_is_used_only_if_the_operation_gives_its_kind(
    operation: Operation[Any, Any], kept: object, usable: bool
) -> None:
    assert operation.is_answer(kept) is usable


def test_an_image_summary_is_a_listed_image() -> None:
    when = version().creation_time
    image = ImageSummary("img", "arn:aws:sagemaker:us-east-1:1:image/img", "CREATED", when, when)
    assert LIST_IMAGES.is_answer(Page([image], None))
