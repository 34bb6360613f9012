"""Times in milliseconds, as AWS keeps them: a time read from an answer and sent back as a
filter bound finds the row it was read from.

The endpoint's clock ticks by a step with a sub-millisecond part, so every time it makes has
digits below the millisecond that AWS would never answer with.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mypy_boto3_sagemaker import SageMakerClient

from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from tests.conftest import ROLE_ARN, sagemaker_client
from tests.fakes import TickingClock

VERSIONS = 1000
# More than a millisecond, so no two rows share one; with a part below it, as real clocks have.
STEP = 0.0013717


@pytest.fixture(scope="module")
def ticking_sagemaker() -> Iterator[SageMakerClient]:
    options = EndpointOptions(seed=False, clock=TickingClock(STEP, now=1_717_171_717.0))
    with BackgroundEndpoint(options) as endpoint:
        yield sagemaker_client(endpoint.url)


def test_every_version_time_read_back_as_bounds_finds_its_version(
    ticking_sagemaker: SageMakerClient,
) -> None:
    client = ticking_sagemaker
    client.create_image(ImageName="timed", RoleArn=ROLE_ARN)
    for number in range(1, VERSIONS + 1):
        client.create_image_version(ImageName="timed", BaseImage="r:1", ClientToken=f"t{number}")
    pages = client.get_paginator("list_image_versions").paginate(
        ImageName="timed", PaginationConfig={"PageSize": 100}
    )
    listed = [v for page in pages for v in page["ImageVersions"]]
    assert len(listed) == VERSIONS
    found = 0
    for version in listed:
        matching = client.list_image_versions(
            ImageName="timed",
            CreationTimeAfter=version["CreationTime"],
            CreationTimeBefore=version["CreationTime"],
            LastModifiedTimeAfter=version["LastModifiedTime"],
            LastModifiedTimeBefore=version["LastModifiedTime"],
        )["ImageVersions"]
        found += [v["Version"] for v in matching] == [version["Version"]]
    assert found == VERSIONS


def test_image_times_from_describe_and_list_find_their_image(
    ticking_sagemaker: SageMakerClient,
) -> None:
    client = ticking_sagemaker
    names = [f"timed-image-{number}" for number in range(50)]
    for name in names:
        client.create_image(ImageName=name, RoleArn=ROLE_ARN)
    listed = client.list_images(NameContains="timed-image-", MaxResults=100)["Images"]
    described = [client.describe_image(ImageName=name) for name in names]
    for image in [*listed, *described]:
        assert image["CreationTime"].microsecond % 1000 == 0
        matching = client.list_images(
            CreationTimeAfter=image["CreationTime"],
            CreationTimeBefore=image["CreationTime"],
            LastModifiedTimeAfter=image["LastModifiedTime"],
            LastModifiedTimeBefore=image["LastModifiedTime"],
        )["Images"]
        assert [i["ImageName"] for i in matching] == [image["ImageName"]]
