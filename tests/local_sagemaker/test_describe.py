"""DescribeImageVersion through boto3 over HTTP: the call the whole service stands on."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_sagemaker import SageMakerClient

from tests.conftest import EndpointControl


def test_by_version_alias_and_latest_agree_with_the_catalog(sagemaker: SageMakerClient) -> None:
    by_version = sagemaker.describe_image_version(ImageName="pytorch-training", Version=3)
    by_alias = sagemaker.describe_image_version(ImageName="pytorch-training", Alias="stable")
    latest = sagemaker.describe_image_version(ImageName="pytorch-training")

    assert by_version["ImageVersionArn"] == by_alias["ImageVersionArn"]
    assert by_version["Version"] == 3
    assert by_version["VendorGuidance"] == "STABLE"
    assert by_version["Horovod"] is True
    assert by_version["ImageArn"].endswith(":image/pytorch-training")
    assert latest["Version"] == 5
    assert latest["ImageVersionStatus"] == "CREATING"
    assert latest["CreationTime"].year == 2025


def test_names_are_case_insensitive_and_arns_lowercase(sagemaker: SageMakerClient) -> None:
    described = sagemaker.describe_image_version(ImageName="PyTorch-Training", Version=1)
    assert described["ImageVersionArn"].endswith(":image-version/pytorch-training/1")


@pytest.mark.parametrize(
    "params",
    [
        {"ImageName": "no-such-image"},
        {"ImageName": "pytorch-training", "Version": 99},
        {"ImageName": "pytorch-training", "Alias": "no-such-alias"},
        {"ImageName": "r-analytics"},
    ],
    ids=["image", "version", "alias", "image-without-versions"],
)
def test_unknown_resources_raise_resource_not_found(
    sagemaker: SageMakerClient, params: dict[str, object]
) -> None:
    with pytest.raises(sagemaker.exceptions.ResourceNotFound) as raised:
        sagemaker.describe_image_version(**params)  # type: ignore[arg-type]
    assert raised.value.response["ResponseMetadata"]["RequestId"]
    # Tools that manage images (the Terraform provider among them) read a ResourceNotFound
    # as "gone" only when its message says "does not exist", as AWS's messages do.
    assert "does not exist" in raised.value.response["Error"]["Message"]


def test_an_image_without_versions_has_no_latest_in_aws_words(sagemaker: SageMakerClient) -> None:
    with pytest.raises(sagemaker.exceptions.ResourceNotFound) as raised:
        sagemaker.describe_image_version(ImageName="r-analytics")
    assert raised.value.response["Error"]["Message"] == (
        "Latest ImageVersion with ImageName r-analytics does not exist. "
        "Please provide a valid ImageName."
    )


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("describe_image", {"ImageName": "no-such-image"}),
        ("delete_image", {"ImageName": "no-such-image"}),
        ("list_image_versions", {"ImageName": "no-such-image"}),
        ("list_aliases", {"ImageName": "no-such-image"}),
        ("list_aliases", {"ImageName": "sklearn-kernel", "Version": 99}),
        ("update_image_version", {"ImageName": "sklearn-kernel", "Version": 99}),
        ("update_image_version", {"ImageName": "sklearn-kernel", "Alias": "no-such-alias"}),
        ("delete_image_version", {"ImageName": "sklearn-kernel", "Version": 99}),
        ("delete_image_version", {"ImageName": "no-such-image", "Version": 1}),
        (
            "create_image_version",
            {"ImageName": "no-such-image", "BaseImage": "r:1", "ClientToken": "t"},
        ),
    ],
)
def test_every_not_found_says_does_not_exist(
    sagemaker: SageMakerClient, operation: str, params: dict[str, object]
) -> None:
    with pytest.raises(sagemaker.exceptions.ResourceNotFound) as raised:
        getattr(sagemaker, operation)(**params)
    assert "does not exist" in raised.value.response["Error"]["Message"]


def test_bad_image_name_is_a_validation_exception_naming_the_member(
    sagemaker: SageMakerClient,
) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_image_version(ImageName="not a valid name!")
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "'imageName'" in error["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_version_and_alias_together_are_rejected(sagemaker: SageMakerClient) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_image_version(ImageName="pytorch-training", Version=1, Alias="stable")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_botocore_retries_get_through_a_throttle_rate_of_one_half(
    sagemaker: SageMakerClient, control: EndpointControl
) -> None:
    control.set_faults(throttleRate=0.5)
    attempts = []
    for _ in range(4):
        response = sagemaker.describe_image_version(ImageName="sklearn-kernel", Version=2)
        attempts.append(response["ResponseMetadata"]["RetryAttempts"])
    assert attempts == [1, 1, 1, 1]
    assert control.calls("DescribeImageVersion") == 8


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("throttleRate", 400, "ThrottlingException"), ("serverErrorRate", 500, "InternalFailure")],
)
def test_a_fault_on_every_call_fails_after_every_attempt(
    sagemaker: SageMakerClient, control: EndpointControl, fault: str, status: int, code: str
) -> None:
    control.set_faults(**{fault: 1.0})
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_image_version(ImageName="sklearn-kernel")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised.value.response["Error"]["Code"] == code
    assert control.calls("DescribeImageVersion") == 3


@pytest.mark.parametrize("operation", ["describe_image", "delete_image", "update_image"])
def test_a_missing_image_is_named_in_the_words_terraform_matches(
    sagemaker: SageMakerClient, operation: str
) -> None:
    # Terraform's AWS provider takes a ResourceNotFound for "already gone" when it says
    # "No Image with the name" (deleting, and waiting on DescribeImage) or "does not exist"
    # (reading): a missing image's message holds both.
    with pytest.raises(sagemaker.exceptions.ResourceNotFound) as raised:
        getattr(sagemaker, operation)(ImageName="no-such-image")
    message = raised.value.response["Error"]["Message"]
    assert "No Image with the name no-such-image" in message
    assert "does not exist" in message
