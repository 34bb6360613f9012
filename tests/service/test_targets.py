"""Two regions and two accounts, end to end through real botocore: one target reached by a
profile (an AWS config file written here), one by a role assumed through the local endpoint's STS
(``AWS_ENDPOINT_URL_STS``, as a deployment would point botocore at a VPC endpoint). Lookups go
to the target their arguments or ARN name; one not served costs no call; a listing across both
is merged under one cursor; one failing region leaves the other's answers, with an error naming
it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.local_sagemaker import BackgroundEndpoint, EndpointOptions
from tests.conftest import ROLE_ARN, EndpointControl, sagemaker_client
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, errors_by_path, serving

# The profile's target, and the role's.
EUROPE, EUROPE_ACCOUNT, PROFILE_KEY = "eu-west-1", "111111111111", "profile-key"
VIRGINIA, ROLE_ACCOUNT, ROLE_OWNER_KEY = "us-east-1", "222222222222", "role-owner-key"
SOURCE_KEY = "service-key"
# Images per target: the same name in both, so only the target tells them apart.
IMAGES = {EUROPE: ["shared", "eu-a", "eu-b", "eu-c", "eu-d"], VIRGINIA: ["shared", "us-a", "us-b"]}
TARGETS = [
    {"region": EUROPE, "account": EUROPE_ACCOUNT, "profile": "ml-prod"},
    {
        "region": VIRGINIA,
        "account": ROLE_ACCOUNT,
        "role_arn": f"arn:aws:iam::{ROLE_ACCOUNT}:role/ImageReader",
        "external_id": "from-the-owner",
    },
]


def _seed(url: str, region: str, access_key: str, names: list[str]) -> None:
    """Each image with as many versions as its place in the list, plus one."""
    client = sagemaker_client(url, access_key, region)
    for place, name in enumerate(names):
        client.create_image(ImageName=name, RoleArn=ROLE_ARN)
        for number in range(place + 1):
            client.create_image_version(
                ImageName=name, BaseImage=f"repo/{name}:{number}", ClientToken=f"t{number}"
            )


@pytest.fixture(scope="module")
def two_targets() -> Iterator[BackgroundEndpoint]:
    """An endpoint serving both regions, its catalogs seeded through boto3 by each account's
    own key (the service reaches them by other means: a profile, an assumed role)."""
    options = EndpointOptions(
        regions=(VIRGINIA, EUROPE),
        accounts={PROFILE_KEY: EUROPE_ACCOUNT, ROLE_OWNER_KEY: ROLE_ACCOUNT},
        seed=False,
    )
    with BackgroundEndpoint(options) as endpoint:
        _seed(endpoint.url, EUROPE, PROFILE_KEY, IMAGES[EUROPE])
        _seed(endpoint.url, VIRGINIA, ROLE_OWNER_KEY, IMAGES[VIRGINIA])
        yield endpoint


@pytest.fixture
async def service(
    two_targets: BackgroundEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[GraphQLClient]:
    (tmp_path / "config").write_text("[profile ml-prod]\nregion = eu-west-1\n")
    (tmp_path / "credentials").write_text(
        f"[ml-prod]\naws_access_key_id = {PROFILE_KEY}\naws_secret_access_key = secret\n"
    )
    (tmp_path / "targets.json").write_text(json.dumps(TARGETS))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SOURCE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", two_targets.url)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings = dataclasses.replace(
        TEST_SETTINGS,
        backend="aws",
        endpoint_url=two_targets.url,
        targets_file=str(tmp_path / "targets.json"),
    )
    two_targets.endpoint.faults.reset_stats()
    async with serving(settings) as (_, client):
        yield client
    two_targets.endpoint.faults.configure(type(two_targets.endpoint.faults.plan)())


@pytest.fixture
def control(two_targets: BackgroundEndpoint) -> EndpointControl:
    return EndpointControl(two_targets.url)


def arn(region: str, account: str, name: str, version: int) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:image-version/{name}/{version}"


ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on ImageVersion { imageVersionArn region accountId version image { imageArn } } } }"""


def calls_by_target(control: EndpointControl) -> dict[str, dict[str, int]]:
    by_target: dict[str, dict[str, int]] = control.stats()["byTarget"]
    return by_target


async def test_an_arn_in_each_target_is_answered_from_its_own_catalog(
    service: GraphQLClient, control: EndpointControl
) -> None:
    asked = [arn(EUROPE, EUROPE_ACCOUNT, "shared", 1), arn(VIRGINIA, ROLE_ACCOUNT, "shared", 1)]
    body = await service.query(
        ENTITIES, r=[{"__typename": "ImageVersion", "imageVersionArn": each} for each in asked]
    )
    assert "errors" not in body, body
    found = body["data"]["_entities"]
    assert [(item["imageVersionArn"], item["region"], item["accountId"]) for item in found] == [
        (asked[0], EUROPE, EUROPE_ACCOUNT),
        (asked[1], VIRGINIA, ROLE_ACCOUNT),
    ]
    assert (
        found[1]["image"]["imageArn"] == f"arn:aws:sagemaker:{VIRGINIA}:{ROLE_ACCOUNT}:image/shared"
    )
    calls = calls_by_target(control)
    assert calls[f"{EUROPE}/{EUROPE_ACCOUNT}"]["DescribeImageVersion"] == 1
    assert calls[f"{VIRGINIA}/{ROLE_ACCOUNT}"]["DescribeImageVersion"] == 1
    # The role was assumed through the endpoint's STS, with the external id it was given.
    assert control.stats()["sts"].get("AssumeRole", 0) >= 1


async def test_an_arn_of_a_target_not_served_is_refused_without_a_call(
    service: GraphQLClient, control: EndpointControl
) -> None:
    await service.query('{ image(imageName: "shared") { imageArn } }')
    control.reset()
    elsewhere = [
        arn("ap-south-1", EUROPE_ACCOUNT, "shared", 1),
        arn(EUROPE, "999999999999", "shared", 1),
        arn(EUROPE, ROLE_ACCOUNT, "shared", 1),
        "arn:aws-cn:sagemaker:cn-north-1:111111111111:image-version/shared/1",
    ]
    body = await service.query(
        ENTITIES, r=[{"__typename": "ImageVersion", "imageVersionArn": each} for each in elsewhere]
    )
    assert body["data"]["_entities"] == [None] * len(elsewhere)
    errors = errors_by_path(body)
    for index, asked in enumerate(elsewhere):
        extensions = errors[("_entities", index)]["extensions"]
        region, account = asked.split(":")[3:5]
        assert extensions["code"] == "BAD_USER_INPUT"
        assert (extensions["region"], extensions["account"]) == (region, account)
        assert extensions["imageVersionArn"] == asked
    assert control.stats()["calls"] == {}


async def test_arguments_name_the_target_of_a_lookup(service: GraphQLClient) -> None:
    body = await service.query(
        """{ default: imageVersion(imageName: "shared") { imageVersionArn }
             role: imageVersion(imageName: "shared", region: "us-east-1", account: "222222222222")
               { imageVersionArn }
             refs: imageVersions(refs: [{imageName: "eu-d"},
               {imageName: "us-b", region: "us-east-1", account: "222222222222"}])
               { imageVersionArn }
             image(imageName: "us-a", region: "us-east-1", account: "222222222222")
               { region accountId latestVersion { imageVersionArn } }
             nowhere: image(imageName: "us-a", account: "222222222222") { imageName } }"""
    )
    data = body["data"]
    assert data["default"]["imageVersionArn"] == arn(EUROPE, EUROPE_ACCOUNT, "shared", 1)
    assert data["role"]["imageVersionArn"] == arn(VIRGINIA, ROLE_ACCOUNT, "shared", 1)
    assert [ref["imageVersionArn"] for ref in data["refs"]] == [
        arn(EUROPE, EUROPE_ACCOUNT, "eu-d", 5),
        arn(VIRGINIA, ROLE_ACCOUNT, "us-b", 3),
    ]
    assert data["image"] == {
        "region": VIRGINIA,
        "accountId": ROLE_ACCOUNT,
        "latestVersion": {"imageVersionArn": arn(VIRGINIA, ROLE_ACCOUNT, "us-a", 2)},
    }
    # The role's account in the default target's region (an omitted region) is not served.
    assert data["nowhere"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert (error["extensions"]["region"], error["extensions"]["account"]) == (
        EUROPE,
        ROLE_ACCOUNT,
    )


LISTING = """query($first: Int!, $after: String) {
  images(regions: ["eu-west-1", "us-east-1"], first: $first, after: $after,
         sortBy: IMAGE_NAME, sortOrder: ASCENDING) {
    edges { node { imageName region accountId } }
    pageInfo { hasNextPage endCursor } } }"""


async def _list_all(service: GraphQLClient, first: int) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    after = None
    while True:
        body = await service.query(LISTING, first=first, after=after)
        assert "errors" not in body, body
        page = body["data"]["images"]
        assert len(page["edges"]) <= first
        seen += [(edge["node"]["imageName"], edge["node"]["region"]) for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize("first", [1, 3, 7])
async def test_a_listing_across_regions_visits_every_image_once_in_order(
    service: GraphQLClient, first: int
) -> None:
    seen = await _list_all(service, first)
    everything = sorted((name, region) for region, names in IMAGES.items() for name in names)
    assert sorted(seen) == everything
    assert [name for name, _ in seen] == sorted(name for name, _ in everything)


async def test_a_failing_region_leaves_the_others_images_and_an_error_naming_it(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.set_faults(serverErrorRate=1.0, regions=[EUROPE])
    body = await service.query(LISTING, first=10)
    names = [edge["node"]["imageName"] for edge in body["data"]["images"]["edges"]]
    assert names == sorted(IMAGES[VIRGINIA])
    [error] = body["errors"]
    assert error["path"] == ["images"]
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["retryable"] is True
    assert (error["extensions"]["region"], error["extensions"]["account"]) == (
        EUROPE,
        EUROPE_ACCOUNT,
    )
    # The failed region is read again on the next page.
    assert body["data"]["images"]["pageInfo"]["hasNextPage"] is True


async def test_the_profiles_region_is_the_services_region(
    two_targets: BackgroundEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No SMGQL_REGION, no AWS_DEFAULT_REGION: the profile says eu-west-1, as boto3 reads it."""
    (tmp_path / "config").write_text(
        f"[profile p]\nregion = eu-west-1\naws_access_key_id = {PROFILE_KEY}\n"
        "aws_secret_access_key = secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "p")
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", two_targets.url)
    settings = dataclasses.replace(TEST_SETTINGS, backend="aws", endpoint_url=two_targets.url)
    async with serving(settings) as (_, client):
        body: dict[str, Any] = await client.query(
            '{ imageVersion(imageName: "eu-a") { imageVersionArn region accountId } }'
        )
    assert body["data"]["imageVersion"] == {
        "imageVersionArn": arn(EUROPE, EUROPE_ACCOUNT, "eu-a", 2),
        "region": EUROPE,
        "accountId": EUROPE_ACCOUNT,
    }
