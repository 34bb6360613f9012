"""Faults a struggling AWS gives: concurrent modification, service limits, expired tokens, and
their place in the control API."""

from __future__ import annotations

import uuid

import httpx
import pytest
from botocore.exceptions import ClientError
from mypy_boto3_sagemaker import SageMakerClient

from app.local_sagemaker.faults import FaultPlan
from app.local_sagemaker.server import BackgroundEndpoint
from tests.conftest import ROLE_ARN, EndpointControl, create_image, sagemaker_client


def test_resource_in_use_at_a_rate_fails_writes_only(
    sagemaker: SageMakerClient, control: EndpointControl
) -> None:
    name = create_image(sagemaker, 1, prefix="busy")
    control.set_faults(resourceInUseRate=1.0)
    with pytest.raises(sagemaker.exceptions.ResourceInUse) as raised:
        sagemaker.update_image_version(ImageName=name, Version=1, ReleaseNotes="x")
    assert "modified concurrently" in raised.value.response["Error"]["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Not retried: botocore takes ResourceInUse for the caller's to resolve.
    assert control.calls("UpdateImageVersion") == 1
    assert sagemaker.describe_image_version(ImageName=name, Version=1)["Version"] == 1


def test_resource_limit_exceeded_at_a_rate_fails_creates(
    sagemaker: SageMakerClient, control: EndpointControl
) -> None:
    names = [f"limited-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    control.set_faults(resourceLimitExceededRate=0.5)
    with pytest.raises(sagemaker.exceptions.ResourceLimitExceeded) as raised:
        sagemaker.create_image(ImageName=names[0], RoleArn=ROLE_ARN)
    assert "service limit" in raised.value.response["Error"]["Message"]
    sagemaker.create_image(ImageName=names[1], RoleArn=ROLE_ARN)
    assert sagemaker.list_images(NameContains=names[0])["Images"] == []


def test_an_expired_access_key_gets_expired_token(
    endpoint: BackgroundEndpoint, control: EndpointControl
) -> None:
    control.set_faults(expiredAccessKeys=["ASIAEXPIRED"])
    expired = sagemaker_client(endpoint.url, access_key="ASIAEXPIRED")
    with pytest.raises(ClientError) as raised:
        expired.describe_image(ImageName="sklearn-kernel")
    assert raised.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "expired" in raised.value.response["Error"]["Message"]
    assert sagemaker_client(endpoint.url).describe_image(ImageName="sklearn-kernel")


def test_the_new_faults_round_trip_through_the_control_api(endpoint: BackgroundEndpoint) -> None:
    plan = {
        "failingBaseImages": ["*:broken"],
        "resourceInUseRate": 0.25,
        "resourceLimitExceededRate": 0.5,
        "expiredAccessKeys": ["ASIAEXPIRED"],
    }
    answered = httpx.put(f"{endpoint.url}/_local/faults", json=plan).json()
    assert {member: answered[member] for member in plan} == plan
    assert FaultPlan.from_json(answered) == endpoint.endpoint.faults.plan
    bad = httpx.put(f"{endpoint.url}/_local/faults", json={"failingBaseImages": "*"})
    assert bad.status_code == 400
