"""The table of SageMaker operations against botocore's model (the spec), and what each row
accepts as a kept answer."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import pytest
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from app.sagemaker import ImageSummary, ImageVersionSummary, Page
from app.sagemaker.operations import (
    DESCRIBE_IMAGE_VERSION,
    LIST_ALIASES,
    LIST_IMAGE_VERSIONS,
    LIST_IMAGES,
    OPERATIONS,
    Operation,
)
from app.sagemaker.service_model import OPERATIONS as MODEL_OPERATIONS
from app.sagemaker.service_model import SAGEMAKER, use_cut_model
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


def _described(shape: Shape | None, seen: frozenset[str] = frozenset()) -> object:
    """A shape as the wire sees it: its type, traits and members, without documentation."""
    if shape is None:
        return None
    traits = dict(shape.serialization)
    metadata = {k: v for k, v in shape.metadata.items() if k != "documentation"}
    if shape.name in seen:
        return shape.name
    inner = seen | {shape.name}
    members: object = None
    if isinstance(shape, StructureShape):
        members = {name: _described(member, inner) for name, member in shape.members.items()}
    elif isinstance(shape, ListShape):
        members = _described(shape.member, inner)
    elif isinstance(shape, MapShape):
        members = (_described(shape.key, inner), _described(shape.value, inner))
    return (shape.name, shape.type_name, traits, metadata, members)


def test_the_cut_model_has_the_operations_of_the_table() -> None:
    assert sorted(MODEL_OPERATIONS) == sorted(operation.name for operation in OPERATIONS)
    assert sorted(ServiceModel(SAGEMAKER).operation_names) == sorted(MODEL_OPERATIONS)


@pytest.mark.parametrize("name", MODEL_OPERATIONS)
def test_the_cut_model_describes_each_operation_as_botocore_does(name: str) -> None:
    cut, whole = ServiceModel(SAGEMAKER).operation_model(name), MODEL.operation_model(name)
    for part in ("input_shape", "output_shape"):
        assert _described(getattr(cut, part)) == _described(getattr(whole, part))
    assert [error.name for error in cut.error_shapes] == [
        error.name for error in whole.error_shapes
    ]
    assert cut.http == whole.http
    assert ServiceModel(SAGEMAKER).metadata == MODEL.metadata


def test_the_cut_model_keeps_every_error_shape() -> None:
    cut = ServiceModel(SAGEMAKER)
    assert sorted(shape.name for shape in cut.error_shapes) == sorted(
        shape.name for shape in MODEL.error_shapes
    )


def test_a_session_with_the_cut_model_builds_sagemaker_on_it_and_other_services_whole() -> None:
    core = botocore.session.Session()
    use_cut_model(core)
    session = boto3.session.Session(botocore_session=core, region_name="us-east-1")
    sagemaker = session.client("sagemaker", aws_access_key_id="a", aws_secret_access_key="b")
    sts = session.client("sts", aws_access_key_id="a", aws_secret_access_key="b")
    assert sorted(sagemaker.meta.service_model.operation_names) == sorted(MODEL_OPERATIONS)
    assert "ResourceNotFound" in dir(sagemaker.exceptions)
    whole_sts = botocore.session.get_session().get_service_model("sts")
    assert sts.meta.service_model.operation_names == whole_sts.operation_names
