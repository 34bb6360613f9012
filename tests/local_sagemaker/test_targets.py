"""Several regions and accounts from one endpoint: a call lands in the region its signature is
scoped to and in the account of its access key, each pair with a catalog of its own; faults can
be limited to a region and the stats count calls per target."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError
from mypy_boto3_sagemaker import SageMakerClient

from app.__main__ import main
from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from tests.conftest import ROLE_ARN, free_port, running_command, sagemaker_client

ACCOUNT = "111111111111"
TEAM_KEY = "team-key"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[BackgroundEndpoint]:
    options = EndpointOptions(regions=("us-east-1", "eu-west-1"), accounts={TEAM_KEY: ACCOUNT})
    with BackgroundEndpoint(options) as endpoint:
        yield endpoint


def client(url: str, region: str, access_key: str = "any-key") -> SageMakerClient:
    """A client signing for ``region`` (the endpoint URL is the same for every region)."""
    return sagemaker_client(
        url, access_key, region, retries={"mode": "standard", "max_attempts": 1}
    )


def test_a_call_lands_in_the_region_it_is_signed_for(endpoint: BackgroundEndpoint) -> None:
    home = client(endpoint.url, "us-east-1").describe_image_version(ImageName="pytorch-training")
    away = client(endpoint.url, "eu-west-1").describe_image_version(ImageName="pytorch-training")
    assert home["ImageVersionArn"].startswith("arn:aws:sagemaker:us-east-1:123456789012:")
    assert away["ImageVersionArn"] == (
        "arn:aws:sagemaker:eu-west-1:123456789012:image-version/pytorch-training/1"
    )
    assert home["Version"] != away["Version"]


def test_a_region_not_served_gets_awss_error(endpoint: BackgroundEndpoint) -> None:
    with pytest.raises(ClientError) as raised:
        client(endpoint.url, "ap-south-1").list_images()
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"] == {
        "Code": "InvalidSignatureException",
        "Message": "Credential should be scoped to a valid region, not 'ap-south-1'. ",
    }


def test_a_call_acts_in_the_account_of_its_key(endpoint: BackgroundEndpoint) -> None:
    team = client(endpoint.url, "us-east-1", TEAM_KEY)
    created = team.create_image(ImageName="team-only", RoleArn=ROLE_ARN)["ImageArn"]
    assert created == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/team-only"
    assert [image["ImageName"] for image in team.list_images()["Images"]] == ["team-only"]
    # The same name is free in every other catalog: the default account's, and the team's
    # other region.
    for other in (client(endpoint.url, "us-east-1"), client(endpoint.url, "eu-west-1", TEAM_KEY)):
        with pytest.raises(ClientError) as raised:
            other.describe_image(ImageName="team-only")
        assert raised.value.response["Error"]["Code"] == "ResourceNotFound"


def test_faults_can_hit_one_region_only(endpoint: BackgroundEndpoint) -> None:
    httpx.put(
        f"{endpoint.url}/_local/faults", json={"serverErrorRate": 1, "regions": ["eu-west-1"]}
    ).raise_for_status()
    try:
        with pytest.raises(ClientError) as raised:
            client(endpoint.url, "eu-west-1").list_images()
        assert raised.value.response["Error"]["Code"] == "InternalFailure"
        assert client(endpoint.url, "us-east-1").list_images()["Images"]
    finally:
        endpoint.endpoint.faults.configure(type(endpoint.endpoint.faults.plan)())


def test_fault_regions_must_be_a_list_of_names(endpoint: BackgroundEndpoint) -> None:
    reply = httpx.put(f"{endpoint.url}/_local/faults", json={"regions": "eu-west-1"})
    assert reply.status_code == 400
    assert reply.json() == {"error": "regions must be a list of strings"}


def test_stats_count_calls_per_target(endpoint: BackgroundEndpoint) -> None:
    httpx.delete(f"{endpoint.url}/_local/stats").raise_for_status()
    for _ in range(3):
        client(endpoint.url, "eu-west-1", TEAM_KEY).list_images()
    client(endpoint.url, "us-east-1").describe_image(ImageName="sklearn-kernel")
    stats = httpx.get(f"{endpoint.url}/_local/stats").json()
    assert stats["byTarget"] == {
        f"eu-west-1/{ACCOUNT}": {"ListImages": 3},
        "us-east-1/123456789012": {"DescribeImage": 1},
    }
    assert stats["calls"] == {"ListImages": 3, "DescribeImage": 1}


def test_the_default_demo_shows_a_second_region_and_a_second_account() -> None:
    with BackgroundEndpoint() as endpoint:
        regional = client(endpoint.url, "eu-west-1").list_images()["Images"]
        second = client(endpoint.url, "us-east-1", "demo-second-account").list_images()["Images"]
    assert sorted(image["ImageName"] for image in regional) == [
        "pytorch-training",
        "xgboost-training",
    ]
    assert {image["ImageArn"].split(":")[4] for image in second} == {"210987654321"}
    assert len(second) == 2


def test_a_file_catalog_of_another_target_lies_beside_the_home_one(tmp_path: Path) -> None:
    db = tmp_path / "sagemaker.db"
    with BackgroundEndpoint(EndpointOptions(db=str(db))) as endpoint:
        client(endpoint.url, "eu-west-1").create_image(ImageName="kept", RoleArn=ROLE_ARN)
    assert (tmp_path / "sagemaker.eu-west-1.123456789012.db").exists()
    with BackgroundEndpoint(EndpointOptions(db=str(db))) as endpoint:
        kept = client(endpoint.url, "eu-west-1").describe_image(ImageName="kept")
    assert kept["ImageArn"] == "arn:aws:sagemaker:eu-west-1:123456789012:image/kept"


def test_one_region_keeps_working_for_callers_that_name_one() -> None:
    options = EndpointOptions(region="eu-west-1")
    assert options.regions == ("eu-west-1", "us-east-1")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"regions": ()}, "at least one region"),
        ({"regions": ("us-east-1", "Mars")}, "'Mars' is not a region name"),
        ({"accounts": {"k": "12345"}}, "'12345' is not a 12-digit account ID"),
    ],
)
def test_options_name_what_is_wrong(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EndpointOptions(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "flags",
    [
        ["--accounts", "k=12345"],
        ["--accounts", "no-equals-sign"],
        ["--check-signatures", "key="],
        ["--regions", "us-east-1,Mars"],
    ],
)
def test_the_command_refuses_bad_flags(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["local-sagemaker", *flags])
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_command_serves_the_regions_accounts_and_keys_it_is_given() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        "local-sagemaker",
        "--port",
        str(port),
        "--regions",
        "eu-west-1,eu-central-1",
        "--accounts",
        f"{TEAM_KEY}={ACCOUNT}",
        "--check-signatures",
        f"{TEAM_KEY}=test-secret,other=x",
    ]
    with running_command(command) as finished:
        sagemaker = client(url, "eu-central-1", TEAM_KEY)
        created = sagemaker.create_image(ImageName="flagged", RoleArn=ROLE_ARN)["ImageArn"]
        with pytest.raises(ClientError) as unknown_key:
            client(url, "eu-west-1", "unknown-key").list_images()
    assert created == f"arn:aws:sagemaker:eu-central-1:{ACCOUNT}:image/flagged"
    assert unknown_key.value.response["Error"]["Code"] == "UnrecognizedClientException"
    served = [json.loads(line) for line in finished.stderr.splitlines() if "STS) at" in line]
    assert served[0]["message"].endswith(
        f"regions eu-west-1 (home), eu-central-1; accounts 123456789012 (any key), "
        f"{TEAM_KEY} -> {ACCOUNT}, and any role assumed through its STS; signatures checked"
    )
