"""Writes and the lifecycle of images and versions, as AWS has them."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_sagemaker import SageMakerClient

from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from tests.conftest import create_image, sagemaker_client
from tests.fakes import FakeClock

DELAY = 0.3
# The slow endpoint's time: a transition ends when a test moves it on, not when a test sleeps.
CLOCK = FakeClock(time.time())


@pytest.fixture(scope="module")
def slow_sagemaker() -> Iterator[SageMakerClient]:
    """An empty endpoint whose transitions take DELAY seconds of :data:`CLOCK`."""
    options = EndpointOptions(seed=False, transition_delay=DELAY, clock=CLOCK)
    with BackgroundEndpoint(options) as endpoint:
        yield sagemaker_client(endpoint.url)


def _created_image(client: SageMakerClient) -> str:
    """A new image on the slow endpoint, once it has passed through CREATING."""
    name = create_image(client, prefix="life")
    assert client.describe_image(ImageName=name)["ImageStatus"] == "CREATING"
    CLOCK.advance(DELAY + 0.1)
    assert client.describe_image(ImageName=name)["ImageStatus"] == "CREATED"
    return name


def test_versions_are_creating_then_created(slow_sagemaker: SageMakerClient) -> None:
    name = _created_image(slow_sagemaker)
    slow_sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:1", ClientToken="c1")
    assert slow_sagemaker.describe_image_version(ImageName=name)["ImageVersionStatus"] == "CREATING"
    CLOCK.advance(DELAY + 0.1)
    assert slow_sagemaker.describe_image_version(ImageName=name)["ImageVersionStatus"] == "CREATED"


def test_deleted_versions_pass_through_deleting(slow_sagemaker: SageMakerClient) -> None:
    name = _created_image(slow_sagemaker)
    slow_sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:1", ClientToken="c1")
    slow_sagemaker.delete_image_version(ImageName=name, Version=1)
    assert (
        slow_sagemaker.describe_image_version(ImageName=name, Version=1)["ImageVersionStatus"]
        == "DELETING"
    )
    with pytest.raises(slow_sagemaker.exceptions.ResourceInUse):
        slow_sagemaker.delete_image_version(ImageName=name, Version=1)
    CLOCK.advance(DELAY + 0.1)
    with pytest.raises(slow_sagemaker.exceptions.ResourceNotFound):
        slow_sagemaker.describe_image_version(ImageName=name, Version=1)


def _assert_invalid_state(client: SageMakerClient, name: str, token: str) -> None:
    with pytest.raises(ClientError) as raised:
        client.create_image_version(ImageName=name, BaseImage="repo/a:1", ClientToken=token)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == f"Image {name} is in an invalid state."


def test_only_a_created_image_takes_new_versions(slow_sagemaker: SageMakerClient) -> None:
    name = create_image(slow_sagemaker, prefix="life")
    _assert_invalid_state(slow_sagemaker, name, "while-creating")
    CLOCK.advance(DELAY + 0.1)
    slow_sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:1", ClientToken="c1")
    slow_sagemaker.delete_image(ImageName=name)
    _assert_invalid_state(slow_sagemaker, name, "while-deleting")
    CLOCK.advance(DELAY + 0.1)
    assert slow_sagemaker.list_images(NameContains=name)["Images"] == []


def test_an_image_that_failed_to_create_takes_no_versions(sagemaker: SageMakerClient) -> None:
    assert sagemaker.describe_image(ImageName="r-analytics")["ImageStatus"] == "CREATE_FAILED"
    _assert_invalid_state(sagemaker, "r-analytics", "after-failure")
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_image_version(ImageName="r-analytics")


def test_deleting_an_image_takes_its_versions(sagemaker: SageMakerClient) -> None:
    name = create_image(sagemaker, prefix="life")
    sagemaker.create_image_version(
        ImageName=name, BaseImage="repo/a:1", ClientToken="c1", Aliases=["a"]
    )
    sagemaker.delete_image(ImageName=name)
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_image(ImageName=name)
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.list_aliases(ImageName=name)


def test_version_numbers_are_never_reused(sagemaker: SageMakerClient) -> None:
    name = create_image(sagemaker, prefix="life")
    for token in ("t1", "t2"):
        sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:1", ClientToken=token)
    sagemaker.delete_image_version(ImageName=name, Version=2)
    arn = sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:1", ClientToken="t3")[
        "ImageVersionArn"
    ]
    assert arn.endswith(f"/{name}/3")


def test_client_token_makes_create_idempotent(sagemaker: SageMakerClient) -> None:
    name = create_image(sagemaker, prefix="life")
    first = sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:1", ClientToken="same")
    again = sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:1", ClientToken="same")
    assert first["ImageVersionArn"] == again["ImageVersionArn"]
    assert len(sagemaker.list_image_versions(ImageName=name)["ImageVersions"]) == 1


def test_update_moves_aliases_and_changes_fields(sagemaker: SageMakerClient) -> None:
    name = create_image(sagemaker, prefix="life")
    sagemaker.create_image_version(
        ImageName=name,
        BaseImage="repo/a:1",
        ClientToken="t1",
        Aliases=["stable"],
        JobType="TRAINING",
    )
    sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:2", ClientToken="t2")
    with pytest.raises(sagemaker.exceptions.ResourceInUse):
        sagemaker.update_image_version(ImageName=name, Version=2, AliasesToAdd=["stable"])
    sagemaker.update_image_version(ImageName=name, Alias="stable", AliasesToDelete=["stable"])
    sagemaker.update_image_version(
        ImageName=name,
        AliasesToAdd=["stable"],
        JobType="INFERENCE",
        Horovod=False,
        ReleaseNotes="promoted",
    )
    promoted = sagemaker.describe_image_version(ImageName=name, Alias="stable")
    assert promoted["Version"] == 2
    assert (promoted["JobType"], promoted["Horovod"], promoted["ReleaseNotes"]) == (
        "INFERENCE",
        False,
        "promoted",
    )
    assert promoted["LastModifiedTime"] >= promoted["CreationTime"]
    assert sagemaker.describe_image_version(ImageName=name, Version=1)["JobType"] == "TRAINING"


def test_creating_a_version_of_a_missing_image_is_not_found(sagemaker: SageMakerClient) -> None:
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.create_image_version(ImageName="missing-image", BaseImage="r:1", ClientToken="t")


def test_enum_inputs_are_checked(sagemaker: SageMakerClient) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.update_image_version(ImageName="sklearn-kernel", Processor="TPU")  # type: ignore[arg-type]
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "enum value set" in raised.value.response["Error"]["Message"]


def test_deleting_a_version_needs_a_version_or_an_alias(sagemaker: SageMakerClient) -> None:
    # AWS refuses to guess: deleting "the latest" by omission would be too easy a mistake.
    name = create_image(sagemaker, 2, prefix="life")
    with pytest.raises(ClientError) as raised:
        sagemaker.delete_image_version(ImageName=name)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "Version or Alias" in error["Message"]
    versions = sagemaker.list_image_versions(ImageName=name)["ImageVersions"]
    assert sorted(v["Version"] for v in versions) == [1, 2]


# Docker's image reference grammar (distribution/reference): name[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-f]{32,})?"
)
DIGEST = "sha256:" + "ab12" * 16
PINNED = re.compile(r"[^@:]+(?::[0-9]+/[^@:]+)?@sha256:[0-9a-f]{64}")
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def _pinned(repository: str, reference: str) -> str:
    """The digest reference the endpoint resolves ``repository:reference`` to."""
    digest = hashlib.sha256(f"{repository}:{reference}".encode()).hexdigest()
    return f"{repository}@sha256:{digest}"


@pytest.mark.parametrize(
    ("base_image", "expected"),
    [
        (f"{ECR}/team/img:1.0", _pinned(f"{ECR}/team/img", "1.0")),
        (f"{ECR}/team/img", _pinned(f"{ECR}/team/img", "latest")),
        ("python:3.11", _pinned("python", "3.11")),
        ("python", _pinned("python", "latest")),
        ("localhost:5000/team/img", _pinned("localhost:5000/team/img", "latest")),
        ("localhost:5000/team/img:2", _pinned("localhost:5000/team/img", "2")),
        (f"{ECR}/team/img@{DIGEST}", f"{ECR}/team/img@{DIGEST}"),
        (f"{ECR}/team/img:1.0@{DIGEST}", f"{ECR}/team/img@{DIGEST}"),
    ],
    ids=["tag", "tagless", "hub-tag", "hub", "port", "port-tag", "digest", "tag-and-digest"],
)
def test_container_image_is_the_base_image_pinned_to_a_digest(
    sagemaker: SageMakerClient, base_image: str, expected: str
) -> None:
    # AWS resolves a tag to the digest it names when the version is made, so a tag moved later
    # does not change the version; a digest names exactly one image already, so it is kept.
    name = create_image(sagemaker, prefix="ref")
    sagemaker.create_image_version(ImageName=name, BaseImage=base_image, ClientToken="t1")
    described = sagemaker.describe_image_version(ImageName=name, Version=1)
    assert described["BaseImage"] == base_image
    assert described["ContainerImage"] == expected
    assert IMAGE_REFERENCE.fullmatch(described["ContainerImage"])
    assert PINNED.fullmatch(described["ContainerImage"])
