"""Every row of the error table, produced for real and checked with its extensions."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from app.ledger import Ledger
from app.local_sagemaker.server import BackgroundEndpoint
from app.sagemaker import ImageVersionKey, InvalidInput, SageMaker, build_transport
from app.sagemaker.operations import DESCRIBE_IMAGE_VERSION
from tests.conftest import EndpointControl, free_port, insert_version_of_the_future
from tests.service.conftest import LOCAL_TARGET, TEST_SETTINGS, GraphQLClient, serving

QUERY = """query($name: String!, $version: Int, $alias: String) {
  imageVersion(imageName: $name, version: $version, alias: $alias) { version } }"""


def _only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] == {"imageVersion": None}
    [error] = body["errors"]
    _assert_nothing_leaks(error)
    assert isinstance(error, dict)
    return error


def _assert_nothing_leaks(error: dict[str, Any]) -> None:
    text = str(error)
    for secret in ("Traceback", "botocore", 'File "', "127.0.0.1", "local-secret", "test-secret"):
        assert secret not in text


@pytest.mark.parametrize(
    ("variables", "message_part"),
    [
        ({"name": "no-such-image"}, "no-such-image"),
        ({"name": "pytorch-training", "version": 77}, "77"),
        ({"name": "pytorch-training", "alias": "gone"}, "gone"),
    ],
    ids=["image", "version", "alias"],
)
async def test_not_found(
    service: GraphQLClient, variables: dict[str, Any], message_part: str
) -> None:
    error = _only_error(await service.query(QUERY, **variables))
    extensions = error["extensions"]
    assert extensions.pop("awsRequestId")
    asked = {"name": "imageName", "version": "version", "alias": "alias"}
    assert extensions == {
        "code": "NOT_FOUND",
        "retryable": False,
        "awsErrorCode": "ResourceNotFound",
        **{asked[key]: value for key, value in variables.items()},
        # The target the lookup went to.
        "region": LOCAL_TARGET.region,
        "account": LOCAL_TARGET.account,
    }
    assert message_part in error["message"]


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"name": "bad name"}, "imageName"),
        ({"name": "-starts-with-dash"}, "imageName"),
        ({"name": "x" * 64}, "imageName"),
        ({"name": "sklearn-kernel", "alias": ".hidden"}, "alias"),
        ({"name": "sklearn-kernel", "version": -1}, "version"),
        ({"name": "sklearn-kernel", "version": 1, "alias": "stable"}, "version or alias"),
    ],
)
async def test_our_checks_reject_bad_input_without_calling_aws(
    service: GraphQLClient, control: EndpointControl, variables: dict[str, Any], argument: str
) -> None:
    control.reset()
    error = _only_error(await service.query(QUERY, **variables))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["retryable"] is False
    assert error["extensions"]["imageName"] == variables["name"]
    assert argument in error["message"]
    assert control.calls("DescribeImageVersion") == 0


async def test_aws_validation_of_unchecked_keys_is_invalid_input(
    endpoint: BackgroundEndpoint,
) -> None:
    # Our checks stop these before AWS, so drive the client directly with unchecked keys.
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    aws = SageMaker(build_transport(settings.aws(), settings.target_specs()[0]))
    try:
        for key, aws_code in (
            (ImageVersionKey("bad name"), "ValidationException"),
            (ImageVersionKey("ok", version=-1), "ValidationException"),
        ):
            with pytest.raises(InvalidInput) as raised:
                await aws.call(DESCRIBE_IMAGE_VERSION, key, Ledger())
            assert raised.value.key == key
            assert raised.value.aws_code == aws_code
            assert "botocore" not in str(raised.value)
    finally:
        await aws.aclose()


async def test_throttling_after_retries_is_throttled_and_retryable(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.set_faults(throttleRate=1.0)
    error = _only_error(await service.query(QUERY, name="sklearn-kernel"))
    assert error["extensions"]["code"] == "THROTTLED"
    assert error["extensions"]["retryable"] is True
    assert error["extensions"]["awsErrorCode"] == "ThrottlingException"
    assert error["extensions"]["awsRequestId"]
    assert control.calls("DescribeImageVersion") == TEST_SETTINGS.max_attempts


async def test_server_errors_after_retries_are_upstream_unavailable(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.set_faults(serverErrorRate=1.0)
    error = _only_error(await service.query(QUERY, name="sklearn-kernel"))
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert error["extensions"]["retryable"] is True
    assert error["extensions"]["awsErrorCode"] == "InternalFailure"


async def test_connection_refused_is_upstream_unavailable() -> None:
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1
    )
    async with serving(settings) as (_, client):
        error = _only_error(await client.query(QUERY, name="sklearn-kernel"))
    assert error["extensions"] == {
        "code": "UPSTREAM_UNAVAILABLE",
        "retryable": True,
        "imageName": "sklearn-kernel",
        # Nothing answered, STS neither: the service could not learn its account.
        "region": "us-east-1",
        "account": "unknown",
    }


async def test_read_timeout_is_upstream_unavailable(
    endpoint: BackgroundEndpoint, control: EndpointControl
) -> None:
    control.set_faults(latencyMs=1500)
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, read_timeout=0.3, max_attempts=1
    )
    async with serving(settings) as (_, client):
        error = _only_error(await client.query(QUERY, name="sklearn-kernel"))
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"


async def test_refused_credentials_are_upstream_access_denied(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.set_faults(rejectedAccessKeys=["local"])
    error = _only_error(await service.query(QUERY, name="sklearn-kernel"))
    extensions = error["extensions"]
    assert extensions["code"] == "UPSTREAM_ACCESS_DENIED"
    assert extensions["retryable"] is False
    assert extensions["awsErrorCode"] == "UnrecognizedClientException"
    assert "local" not in error["message"]


async def test_missing_credentials_are_upstream_access_denied(
    endpoint: BackgroundEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = dataclasses.replace(
        TEST_SETTINGS, backend="aws", region="us-east-1", endpoint_url=endpoint.url
    )
    async with serving(settings) as (_, client):
        error = _only_error(await client.query(QUERY, name="sklearn-kernel"))
    assert error["extensions"] == {
        "code": "UPSTREAM_ACCESS_DENIED",
        "retryable": False,
        "imageName": "sklearn-kernel",
        # Without credentials STS could not say whose they are.
        "region": "us-east-1",
        "account": "unknown",
    }


async def test_anything_else_is_an_internal_error_with_an_id_in_the_log(
    service: GraphQLClient, endpoint: BackgroundEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    # SageMaker answering with an enum value this schema does not know yet.
    name = insert_version_of_the_future(endpoint)
    with caplog.at_level(logging.ERROR, logger="app.schema.presenter"):
        body = await service.query(
            "query($name: String!) { imageVersion(imageName: $name) { version vendorGuidance } }",
            name=name,
        )
    assert body["data"] == {"imageVersion": {"version": 1, "vendorGuidance": None}}
    [error] = body["errors"]
    _assert_nothing_leaks(error)
    assert error["path"] == ["imageVersion", "vendorGuidance"]
    extensions = error["extensions"]
    assert extensions["code"] == "INTERNAL_SERVER_ERROR"
    assert extensions["retryable"] is False
    assert (extensions["imageName"], extensions["version"]) == (name, 1)
    assert extensions["errorId"] in error["message"]
    assert "EXPERIMENTAL" not in error["message"]
    [logged] = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert isinstance(logged, dict)
    assert logged["errorId"] == extensions["errorId"]
    assert caplog.records[-1].exc_info is not None


async def test_document_errors_carry_codes(service: GraphQLClient) -> None:
    cases = {
        "{ imageVersion(imageName: ": "GRAPHQL_PARSE_FAILED",
        '{ imageVersion(imageName: "x") { noSuchField } }': "GRAPHQL_VALIDATION_FAILED",
    }
    for query, code in cases.items():
        response = await service.http.post("/graphql", json={"query": query})
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == code
    response = await service.http.post(
        "/graphql", json={"query": QUERY, "variables": {"name": "x", "version": "three"}}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_too_many_refs_is_bad_input(service: GraphQLClient, control: EndpointControl) -> None:
    control.reset()
    body = await service.query(
        "query($refs: [ImageVersionRef!]!) { imageVersions(refs: $refs) { version } }",
        refs=[{"imageName": "sklearn-kernel", "version": 1}] * 101,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "100" in body["errors"][0]["message"]
    assert control.calls("DescribeImageVersion") == 0


async def test_oversized_and_malformed_requests_leave_the_service_running(
    service: GraphQLClient,
) -> None:
    huge = await service.http.post(
        "/graphql",
        content=b"{" + b" " * 300_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    for content in (b"\xff{{", b"{not json", b"[]", b"{}"):
        refused = await service.http.post(
            "/graphql", content=content, headers={"content-type": "application/json"}
        )
        assert refused.status_code == 400, content
        assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST", content
    deep = (
        '{ image(imageName: "x") '
        + "{ latestVersion { image " * 8
        + "{ imageName }"
        + "} }" * 8
        + " }"
    )
    too_deep = await service.http.post("/graphql", json={"query": deep})
    [error] = too_deep.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "exceeds maximum operation depth" in error["message"]
    aliases = (
        "{ "
        + " ".join(f'a{i}: imageVersion(imageName: "x") {{ version }}' for i in range(150))
        + " }"
    )
    many = await service.http.post("/graphql", json={"query": aliases})
    assert many.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    alive = await service.query('{ imageVersion(imageName: "sklearn-kernel") { version } }')
    assert alive["data"]["imageVersion"]["version"] == 2
