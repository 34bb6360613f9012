"""Images as a whole: UpdateImage, their tags, and boto3's waiters over the lifecycle.

The slow endpoint's clock ticks at every reading, so a transition ends after a few polls and a
waiter configured with no delay between polls waits without sleeping.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError, WaiterError
from mypy_boto3_sagemaker import SageMakerClient
from mypy_boto3_sagemaker.type_defs import WaiterConfigTypeDef

from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from tests.conftest import ROLE_ARN, EndpointControl, create_image, sagemaker_client
from tests.fakes import TickingClock

DELAY = 1.0
# Each call reads the clock once or twice: a transition lasts a handful of calls.
CLOCK = TickingClock(DELAY / 4)
# No pause between polls (the clock moves instead), and enough polls for any transition.
QUICK: WaiterConfigTypeDef = {"Delay": 0, "MaxAttempts": 20}
OTHER_ROLE = "arn:aws:iam::123456789012:role/OtherRole"


@pytest.fixture(scope="module")
def slow_endpoint() -> Iterator[BackgroundEndpoint]:
    options = EndpointOptions(seed=False, transition_delay=DELAY, clock=CLOCK)
    with BackgroundEndpoint(options) as endpoint:
        yield endpoint


@pytest.fixture
def slow_sagemaker(slow_endpoint: BackgroundEndpoint) -> SageMakerClient:
    return sagemaker_client(slow_endpoint.url)


def _created(client: SageMakerClient, **params: object) -> str:
    name = create_image(client, prefix="img")
    client.get_waiter("image_created").wait(ImageName=name, WaiterConfig=QUICK)
    if params:
        client.update_image(ImageName=name, **params)  # type: ignore[arg-type]
        client.get_waiter("image_updated").wait(ImageName=name, WaiterConfig=QUICK)
    return name


def test_update_image_passes_through_updating_and_the_waiter_sees_it_end(
    slow_endpoint: BackgroundEndpoint, slow_sagemaker: SageMakerClient
) -> None:
    name = _created(slow_sagemaker)
    before = slow_sagemaker.describe_image(ImageName=name)
    arn = slow_sagemaker.update_image(
        ImageName=name, DisplayName="Shown", Description="Described", RoleArn=OTHER_ROLE
    )["ImageArn"]
    assert arn == before["ImageArn"]
    assert slow_sagemaker.describe_image(ImageName=name)["ImageStatus"] == "UPDATING"
    with pytest.raises(slow_sagemaker.exceptions.ResourceInUse):
        slow_sagemaker.update_image(ImageName=name, Description="again")
    control = EndpointControl(slow_endpoint.url)
    control.reset()
    slow_sagemaker.get_waiter("image_updated").wait(ImageName=name, WaiterConfig=QUICK)
    assert control.calls("DescribeImage") > 1
    after = slow_sagemaker.describe_image(ImageName=name)
    assert after["ImageStatus"] == "CREATED"
    assert (after["DisplayName"], after["Description"], after["RoleArn"]) == (
        "Shown",
        "Described",
        OTHER_ROLE,
    )
    assert after["LastModifiedTime"] > before["LastModifiedTime"]


def test_delete_properties_remove_the_display_name_and_description(
    slow_sagemaker: SageMakerClient,
) -> None:
    name = _created(slow_sagemaker, DisplayName="Shown", Description="Described")
    slow_sagemaker.update_image(ImageName=name, DeleteProperties=["DisplayName", "Description"])
    slow_sagemaker.get_waiter("image_updated").wait(ImageName=name, WaiterConfig=QUICK)
    described = slow_sagemaker.describe_image(ImageName=name)
    assert {"DisplayName", "Description"}.isdisjoint(described)
    with pytest.raises(ClientError) as raised:
        slow_sagemaker.update_image(
            ImageName=name, DisplayName="Both", DeleteProperties=["DisplayName"]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_version_and_image_waiters_follow_the_lifecycle(slow_sagemaker: SageMakerClient) -> None:
    name = _created(slow_sagemaker)
    slow_sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:1", ClientToken="w1")
    slow_sagemaker.get_waiter("image_version_created").wait(
        ImageName=name, Version=1, WaiterConfig=QUICK
    )
    slow_sagemaker.delete_image_version(ImageName=name, Version=1)
    slow_sagemaker.get_waiter("image_version_deleted").wait(
        ImageName=name, Version=1, WaiterConfig=QUICK
    )
    slow_sagemaker.delete_image(ImageName=name)
    slow_sagemaker.get_waiter("image_deleted").wait(ImageName=name, WaiterConfig=QUICK)
    with pytest.raises(slow_sagemaker.exceptions.ResourceNotFound):
        slow_sagemaker.describe_image(ImageName=name)


def test_update_of_a_missing_image_is_not_found(sagemaker: SageMakerClient) -> None:
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.update_image(ImageName="no-such-image", Description="x")


def _tags(client: SageMakerClient, arn: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in client.list_tags(ResourceArn=arn)["Tags"]}


def test_tags_are_added_listed_deleted_and_go_with_their_image(
    sagemaker: SageMakerClient,
) -> None:
    name = f"tagged-{uuid.uuid4().hex[:12]}"
    arn = sagemaker.create_image(
        ImageName=name, RoleArn=ROLE_ARN, Tags=[{"Key": "team", "Value": "ml"}]
    )["ImageArn"]
    assert _tags(sagemaker, arn) == {"team": "ml"}
    added = sagemaker.add_tags(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "vision"}, {"Key": "cost", "Value": "42"}]
    )
    assert added["Tags"] == [{"Key": "team", "Value": "vision"}, {"Key": "cost", "Value": "42"}]
    assert _tags(sagemaker, arn) == {"team": "vision", "cost": "42"}
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=["team", "never-set"])
    assert _tags(sagemaker, arn) == {"cost": "42"}
    sagemaker.delete_image(ImageName=name)
    sagemaker.create_image(ImageName=name, RoleArn=ROLE_ARN)
    assert _tags(sagemaker, arn) == {}


def test_tags_of_an_unknown_resource_are_refused(sagemaker: SageMakerClient) -> None:
    missing = "arn:aws:sagemaker:us-east-1:123456789012:image/no-such-image"
    for call in (
        lambda: sagemaker.list_tags(ResourceArn=missing),
        lambda: sagemaker.add_tags(ResourceArn=missing, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: sagemaker.delete_tags(ResourceArn=missing, TagKeys=["k"]),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "ValidationException"
        assert missing in raised.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("tags", "words"),
    [
        ([{"Key": "aws:owner", "Value": "me"}], "aws:"),
        ([{"Key": "AWS:Owner", "Value": "me"}], "aws:"),
        ([{"Key": "team", "Value": "a"}, {"Key": "team", "Value": "b"}], "Duplicate tag key"),
    ],
    ids=["reserved", "reserved-any-case", "duplicate"],
)
def test_reserved_and_duplicate_tag_keys_are_refused(
    sagemaker: SageMakerClient, tags: list[dict[str, str]], words: str
) -> None:
    name = create_image(sagemaker, prefix="tags")
    arn = sagemaker.describe_image(ImageName=name)["ImageArn"]
    with pytest.raises(ClientError) as raised:
        sagemaker.add_tags(ResourceArn=arn, Tags=tags)  # type: ignore[arg-type]
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert words in raised.value.response["Error"]["Message"]
    assert _tags(sagemaker, arn) == {}
    with pytest.raises(ClientError) as raised:
        sagemaker.create_image(ImageName=f"{name}-2", RoleArn=ROLE_ARN, Tags=tags)  # type: ignore[arg-type]
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.describe_image(ImageName=f"{name}-2")


def test_a_failing_base_image_ends_create_failed_and_fails_the_waiter(
    slow_endpoint: BackgroundEndpoint, slow_sagemaker: SageMakerClient
) -> None:
    EndpointControl(slow_endpoint.url).set_faults(failingBaseImages=["*:broken*"])
    try:
        name = _created(slow_sagemaker)
        slow_sagemaker.create_image_version(
            ImageName=name, BaseImage="repo/a:broken-1", ClientToken="f1"
        )
        creating = slow_sagemaker.describe_image_version(ImageName=name, Version=1)
        assert creating["ImageVersionStatus"] == "CREATING"
        with pytest.raises(WaiterError):
            slow_sagemaker.get_waiter("image_version_created").wait(
                ImageName=name, Version=1, WaiterConfig=QUICK
            )
        failed = slow_sagemaker.describe_image_version(ImageName=name, Version=1)
        assert failed["ImageVersionStatus"] == "CREATE_FAILED"
        assert "repo/a:broken-1" in failed["FailureReason"]
        slow_sagemaker.create_image_version(ImageName=name, BaseImage="repo/a:2", ClientToken="f2")
        slow_sagemaker.get_waiter("image_version_created").wait(
            ImageName=name, Version=2, WaiterConfig=QUICK
        )
    finally:
        EndpointControl(slow_endpoint.url).set_faults()
