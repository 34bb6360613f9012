"""STS on the endpoint's port: who a key is, and roles assumed into other accounts, as botocore's
STS client and its own assume-role credential provider use them, with signatures checked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from tests.fakes import FakeClock

SOURCE_KEY, SOURCE_SECRET = "AKIDSOURCE", "source-secret"
TEAM_KEY, TEAM_ACCOUNT = "AKIDTEAM", "111111111111"
ROLE = "arn:aws:iam::210987654321:role/ImageReader"
# Enough of a signature for an endpoint that checks none.
UNCHECKED_STS_SIGNATURE = "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/sts/aws4_request"
# The endpoint's time, which the credentials it mints expire by; botocore's stays real.
CLOCK = FakeClock(time.time())


@pytest.fixture(scope="module")
def endpoint() -> Iterator[BackgroundEndpoint]:
    options = EndpointOptions(
        accounts={TEAM_KEY: TEAM_ACCOUNT},
        secrets={SOURCE_KEY: SOURCE_SECRET, TEAM_KEY: "team-secret"},
        clock=CLOCK,
    )
    with BackgroundEndpoint(options) as endpoint:
        yield endpoint


def sts_client(url: str, key: str = SOURCE_KEY, secret: str = SOURCE_SECRET) -> Any:
    """An STS client; typed loosely, as the project installs no STS stubs."""
    return boto3.client(
        "sts",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        # Off so that inputs botocore would refuse reach the endpoint, which must refuse them too.
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


def sagemaker_with(url: str, credentials: dict[str, Any]) -> Any:
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        config=Config(retries={"max_attempts": 1}),
    )


def test_get_caller_identity_names_the_account_of_the_key(endpoint: BackgroundEndpoint) -> None:
    team = sts_client(endpoint.url, TEAM_KEY, "team-secret").get_caller_identity()
    default = sts_client(endpoint.url).get_caller_identity()
    assert (team["Account"], team["Arn"]) == (TEAM_ACCOUNT, f"arn:aws:iam::{TEAM_ACCOUNT}:root")
    assert default["Account"] == "123456789012"


def test_assumed_credentials_act_in_the_roles_account(endpoint: BackgroundEndpoint) -> None:
    assumed = sts_client(endpoint.url).assume_role(
        RoleArn=ROLE, RoleSessionName="reader", ExternalId="shared-secret", DurationSeconds=900
    )
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["Expiration"] == datetime.fromtimestamp(int(CLOCK() + 900), UTC)
    role_arn = "arn:aws:sts::210987654321:assumed-role/ImageReader/reader"
    assert assumed["AssumedRoleUser"]["Arn"] == role_arn
    assert assumed["AssumedRoleUser"]["AssumedRoleId"].endswith(":reader")
    who = sts_client(
        endpoint.url, credentials["AccessKeyId"], credentials["SecretAccessKey"]
    ).get_caller_identity
    # The session token travels as a header the client adds; a bare client has none.
    with pytest.raises(ClientError) as raised:
        who()
    assert raised.value.response["Error"]["Code"] == "InvalidClientTokenId"
    described = sagemaker_with(endpoint.url, credentials).describe_image_version(
        ImageName="tensorflow-inference"
    )
    assert described["ImageVersionArn"].startswith("arn:aws:sagemaker:us-east-1:210987654321:")


def test_assumed_credentials_are_checked_like_any_others(endpoint: BackgroundEndpoint) -> None:
    credentials = sts_client(endpoint.url).assume_role(RoleArn=ROLE, RoleSessionName="checked")[
        "Credentials"
    ]
    refusals = {
        "wrong secret": {**credentials, "SecretAccessKey": "guessed"},
        "no token": {**credentials, "SessionToken": None},
        "another token": {**credentials, "SessionToken": credentials["SessionToken"][::-1]},
    }
    codes = {}
    for reason, forged in refusals.items():
        with pytest.raises(ClientError) as raised:
            sagemaker_with(endpoint.url, forged).list_images()
        codes[reason] = raised.value.response["Error"]["Code"]
    assert codes == {
        "wrong secret": "InvalidSignatureException",
        "no token": "UnrecognizedClientException",
        "another token": "UnrecognizedClientException",
    }
    assert sagemaker_with(endpoint.url, credentials).list_images()["Images"]
    CLOCK.advance(3600)
    with pytest.raises(ClientError) as expired:
        sagemaker_with(endpoint.url, credentials).list_images()
    assert expired.value.response["Error"] == {
        "Code": "ExpiredTokenException",
        "Message": "The security token included in the request is expired",
    }


def test_a_profile_assumes_its_role_through_the_endpoint(
    endpoint: BackgroundEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's own assume-role provider (``role_arn`` + ``source_profile``), as a service
    configured with profiles uses it, gets its credentials from the endpoint's STS."""
    config = tmp_path / "config"
    config.write_text(
        f"[profile source]\naws_access_key_id = {SOURCE_KEY}\n"
        f"aws_secret_access_key = {SOURCE_SECRET}\nregion = eu-west-1\n\n"
        f"[profile team]\nrole_arn = {ROLE}\nsource_profile = source\n"
        "role_session_name = subgraph\nregion = us-east-1\n",
        encoding="utf-8",
    )
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", endpoint.url)
    endpoint.endpoint.faults.reset_stats()
    session = boto3.Session(profile_name="team")
    sagemaker = session.client("sagemaker", endpoint_url=endpoint.url)
    described = sagemaker.describe_image_version(ImageName="tensorflow-inference")
    assert described["ImageVersionArn"] == (
        "arn:aws:sagemaker:us-east-1:210987654321:image-version/tensorflow-inference/2"
    )
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::210987654321:assumed-role/ImageReader/subgraph"
    stats = httpx.get(f"{endpoint.url}/_local/stats").json()
    assert stats["sts"] == {"AssumeRole": 1, "GetCallerIdentity": 1}
    assert stats["byTarget"] == {"us-east-1/210987654321": {"DescribeImageVersion": 1}}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"RoleArn": "arn:aws:iam::21098765432:role/R", "RoleSessionName": "s1"}, "Request ARN"),
        ({"RoleArn": "arn:aws:s3:::bucket/role/R1234", "RoleSessionName": "s1"}, "Request ARN"),
        ({"RoleArn": ROLE, "RoleSessionName": "a b"}, "at 'roleSessionName'"),
        ({"RoleArn": ROLE, "RoleSessionName": "a"}, "greater than or equal to 2"),
        ({"RoleArn": ROLE, "RoleSessionName": "s1", "DurationSeconds": 899}, "to 900"),
        ({"RoleArn": ROLE, "RoleSessionName": "s1", "DurationSeconds": 43201}, "to 43200"),
        ({"RoleArn": ROLE, "RoleSessionName": "s1", "ExternalId": "x"}, "at 'externalId'"),
        ({"RoleArn": ROLE, "RoleSessionName": "s1", "Policy": "{}"}, "takes only RoleArn"),
        ({"RoleSessionName": "s1"}, "Value null at 'roleArn'"),
    ],
)
def test_assume_role_refuses_bad_input(
    endpoint: BackgroundEndpoint, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as raised:
        sts_client(endpoint.url).assume_role(**params)
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationError"
    assert error["Error"].get("Type") == "Sender"
    assert message in error["Error"]["Message"]


def test_a_role_chained_from_a_role_is_held_to_an_hour(endpoint: BackgroundEndpoint) -> None:
    first = sts_client(endpoint.url).assume_role(RoleArn=ROLE, RoleSessionName="first")
    credentials = first["Credentials"]
    chained = boto3.client(
        "sts",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    role = "arn:aws:iam::333333333333:role/Next"
    with pytest.raises(ClientError) as raised:
        chained.assume_role(RoleArn=role, RoleSessionName="second", DurationSeconds=7200)
    assert "1 hour session limit" in raised.value.response["Error"]["Message"]
    second = chained.assume_role(RoleArn=role, RoleSessionName="second")
    assert second["AssumedRoleUser"]["Arn"].startswith("arn:aws:sts::333333333333:")


def test_sts_errors_come_in_the_query_protocols_shape(endpoint: BackgroundEndpoint) -> None:
    with pytest.raises(ClientError) as unknown_key:
        sts_client(endpoint.url, "AKIDUNKNOWN", "x").get_caller_identity()
    assert unknown_key.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as wrong_secret:
        sts_client(endpoint.url, SOURCE_KEY, "wrong").get_caller_identity()
    assert wrong_secret.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unsigned = httpx.post(
        endpoint.url,
        content=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 403
    assert unsigned.headers["content-type"].startswith("text/xml")
    assert "<Code>MissingAuthenticationToken</Code>" in unsigned.text
    assert "<Type>Sender</Type>" in unsigned.text


def test_an_unknown_action_is_refused() -> None:
    with BackgroundEndpoint(EndpointOptions(seed=False)) as endpoint:
        reply = httpx.post(
            endpoint.url,
            content=b"Action=GetSessionToken&Version=2011-06-15",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": UNCHECKED_STS_SIGNATURE,
            },
        )
    assert reply.status_code == 400
    assert "<Code>InvalidAction</Code>" in reply.text
    assert "GetSessionToken" in reply.text
