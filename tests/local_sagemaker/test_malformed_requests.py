"""Requests no SDK would send get a 4xx in AWS's error shape, and the endpoint keeps serving."""

from __future__ import annotations

import httpx
import pytest

from app.local_sagemaker.protocol import MAX_BODY_BYTES
from app.local_sagemaker.server import BackgroundEndpoint
from app.local_sagemaker.shapes import SERIALIZATION, VALIDATION
from tests.conftest import SIGNED, raw_call

TARGET = {
    **SIGNED,
    "X-Amz-Target": "SageMaker.DescribeImageVersion",
    "Content-Type": "application/x-amz-json-1.1",
}


def _post(url: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(url, content=content, headers={**TARGET, **headers})


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (lambda url: _post(url, b"{not json"), 400, "SerializationException"),
        (lambda url: _post(url, b"\xff\xfe\x00"), 400, "SerializationException"),
        (lambda url: _post(url, b"[1, 2]"), 400, "SerializationException"),
        (
            lambda url: raw_call(url, "DescribeImageVersion", {"ImageName": 5}),
            400,
            "SerializationException",
        ),
        (
            lambda url: raw_call(
                url, "DescribeImageVersion", {"ImageName": "sklearn-kernel", "Version": "one"}
            ),
            400,
            "SerializationException",
        ),
        (
            lambda url: raw_call(
                url, "DescribeImageVersion", {"ImageName": "sklearn-kernel", "Verison": 1}
            ),
            400,
            "SerializationException",
        ),
        (lambda url: raw_call(url, "DescribeImageVersion", {}), 400, "ValidationException"),
        (
            lambda url: raw_call(
                url, "DescribeImageVersion", {"ImageName": "sklearn-kernel", "Version": -1}
            ),
            400,
            "ValidationException",
        ),
        (
            lambda url: raw_call(url, "DescribeImageVersion", {"ImageName": "x" * 64}),
            400,
            "ValidationException",
        ),
        (lambda url: raw_call(url, "DeleteEverything", {}), 400, "UnknownOperationException"),
        (
            lambda url: raw_call(url, "DescribeImageVersion", {}, **{"X-Amz-Target": "Nope"}),
            400,
            "UnknownOperationException",
        ),
        (
            lambda url: _post(url, b"{}", Authorization=""),
            403,
            "MissingAuthenticationTokenException",
        ),
        (
            lambda url: _post(url, b"x" * (MAX_BODY_BYTES + 1)),
            413,
            "RequestEntityTooLargeException",
        ),
        (lambda url: httpx.get(url, headers=TARGET), 405, "UnknownOperationException"),
        (
            lambda url: httpx.post(f"{url}/elsewhere", headers=TARGET),
            404,
            "UnknownOperationException",
        ),
    ],
    ids=[
        "bad-json",
        "not-utf8",
        "not-an-object",
        "string-as-int",
        "int-as-string",
        "unknown-member",
        "missing-required",
        "below-min",
        "too-long",
        "unknown-operation",
        "bad-target",
        "unsigned",
        "huge-body",
        "wrong-method",
        "wrong-path",
    ],
)
def test_malformed_request_gets_aws_error_shape(
    endpoint: BackgroundEndpoint, send: object, status: int, code: str
) -> None:
    response = send(endpoint.url)  # type: ignore[operator]
    assert response.status_code == status, response.text
    assert response.json()["__type"] == code
    assert response.json()["message"]
    assert response.headers["x-amzn-requestid"]
    still_serving = raw_call(endpoint.url, "DescribeImageVersion", {"ImageName": "sklearn-kernel"})
    assert still_serving.status_code == 200


def test_validation_lists_every_broken_constraint(endpoint: BackgroundEndpoint) -> None:
    response = raw_call(
        endpoint.url,
        "ListImageVersions",
        {"ImageName": "bad name", "MaxResults": 0, "SortBy": "SIZE"},
    )
    message = response.json()["message"]
    assert message.startswith("3 validation errors detected")
    for member in ("'imageName'", "'maxResults'", "'sortBy'"):
        assert member in message


@pytest.mark.parametrize(
    "body",
    [
        b'{"latencyMs": NaN}',
        b'{"latencyMs": Infinity}',
        b'{"throttleRate": NaN}',
        b'{"serverErrorRate": -Infinity}',
        b'{"latencyMs": 1' + b"0" * 400 + b"}",
        b'{"latencyMs": 1' + b"0" * 5000 + b"}",
        b'{"rejectedAccessKeys": "key"}',
        b"[" * 100_000,
        b"\xff",
    ],
    ids=[
        "nan-latency",
        "infinite-latency",
        "nan-rate",
        "negative-infinite-rate",
        "huge-latency",
        "overlong-number",
        "keys-not-a-list",
        "deep-nesting",
        "not-utf8",
    ],
)
def test_a_bad_fault_plan_is_refused_and_the_old_one_kept(
    endpoint: BackgroundEndpoint, body: bytes
) -> None:
    refused = httpx.put(f"{endpoint.url}/_local/faults", content=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]
    plan = httpx.get(f"{endpoint.url}/_local/faults")
    assert plan.status_code == 200
    assert plan.json()["latencyMs"] == 0
    still_serving = raw_call(endpoint.url, "DescribeImageVersion", {"ImageName": "sklearn-kernel"})
    assert still_serving.status_code == 200


BIG = 2**63


@pytest.mark.parametrize(
    ("operation", "body", "code"),
    [
        ("DescribeImageVersion", {"ImageName": "sklearn-kernel", "Version": BIG}, VALIDATION),
        ("DescribeImageVersion", {"ImageName": "sklearn-kernel", "Version": 2**31}, VALIDATION),
        ("UpdateImageVersion", {"ImageName": "sklearn-kernel", "Version": BIG}, VALIDATION),
        ("DeleteImageVersion", {"ImageName": "sklearn-kernel", "Version": BIG}, VALIDATION),
        ("ListAliases", {"ImageName": "sklearn-kernel", "Version": 2**64}, VALIDATION),
        ("ListAliases", {"ImageName": "sklearn-kernel", "MaxResults": BIG}, VALIDATION),
        ("ListImageVersions", {"ImageName": "sklearn-kernel", "MaxResults": BIG}, VALIDATION),
        ("ListImages", {"MaxResults": -BIG}, VALIDATION),
        ("ListImages", {"CreationTimeAfter": 10**400}, SERIALIZATION),
    ],
    ids=[
        "version-2^63",
        "version-2^31",
        "update-version",
        "delete-version",
        "aliases-version",
        "aliases-max-results",
        "versions-max-results",
        "negative-max-results",
        "timestamp-beyond-float",
    ],
)
def test_numbers_beyond_their_wire_type_are_a_client_error(
    endpoint: BackgroundEndpoint, operation: str, body: dict[str, object], code: str
) -> None:
    # The model's "integer" is 32 bits on AWS's side; SQLite's is 64, and a bigger number used
    # to reach it and fail with a 500.
    response = raw_call(endpoint.url, operation, body)
    assert response.status_code == 400, response.text
    assert response.json()["__type"] == code


def test_a_huge_timestamp_filter_is_served(endpoint: BackgroundEndpoint) -> None:
    response = raw_call(endpoint.url, "ListImages", {"CreationTimeAfter": BIG * 4})
    assert response.status_code == 200, response.text
    assert response.json()["Images"] == []


@pytest.mark.parametrize(
    "content",
    [
        b'{"ImageName": "sklearn-kernel", "Version": NaN}',
        b'{"CreationTimeAfter": Infinity}',
        b'{"ImageName": "sklearn-kernel", "Version": 1' + b"0" * 5000 + b"}",
        b'{"ImageName": ' + b"[" * 100_000,
    ],
    ids=["nan", "infinity", "overlong-number", "deep-nesting"],
)
def test_what_json_cannot_hold_is_a_serialization_error(
    endpoint: BackgroundEndpoint, content: bytes
) -> None:
    target = {**TARGET, "X-Amz-Target": "SageMaker.ListImages"} if b"Creation" in content else {}
    response = _post(endpoint.url, content, **target)
    assert response.status_code == 400, response.text
    assert response.json()["__type"] == SERIALIZATION
