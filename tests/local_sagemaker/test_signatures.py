"""The endpoint's SigV4 check, given secrets, refuses what AWS refuses: a request whose body,
unsigned headers or clock do not match what was signed, or whose signature is garbage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import botocore.auth
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions

KEY, SECRET = "AKIDEXAMPLE", "example-secret"
BODY = json.dumps({"ImageName": "pytorch-training", "Version": 3}).encode()
OTHER_BODY = json.dumps({"ImageName": "pytorch-inference", "Version": 1}).encode()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with BackgroundEndpoint(EndpointOptions(secrets={KEY: SECRET})) as endpoint:
        yield endpoint.url


def signed(url: str, body: bytes, **extra: str) -> dict[str, str]:
    """The headers of a DescribeImageVersion request signed as botocore signs it."""
    request = AWSRequest(
        method="POST",
        url=f"{url}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.DescribeImageVersion",
            **extra,
        },
    )
    SigV4Auth(Credentials(KEY, SECRET), "sagemaker", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def answer(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    reply = httpx.post(f"{url}/", content=body, headers=headers)
    return reply.status_code, reply.json().get("__type", "")


def test_a_request_signed_as_botocore_signs_it_is_served(url: str) -> None:
    assert answer(url, BODY, signed(url, BODY)) == (200, "")


def test_a_body_other_than_the_signed_one_is_refused(url: str) -> None:
    assert answer(url, OTHER_BODY, signed(url, BODY)) == (403, "InvalidSignatureException")


def test_a_declared_body_hash_must_be_the_bodys(url: str) -> None:
    declared = signed(url, BODY, **{"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()})
    unsigned = signed(url, BODY, **{"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert answer(url, BODY, declared) == (200, "")
    assert answer(url, OTHER_BODY, declared) == (403, "InvalidSignatureException")
    assert answer(url, BODY, unsigned) == (403, "InvalidSignatureException")


def test_an_x_amz_header_left_out_of_the_signature_is_refused(url: str) -> None:
    headers = signed(url, BODY)
    headers["X-Amz-Meta"] = "added after signing"
    assert answer(url, BODY, headers) == (403, "InvalidSignatureException")


def test_a_signature_from_another_time_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    an_hour_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: an_hour_ago)
    assert answer(url, BODY, signed(url, BODY)) == (403, "InvalidSignatureException")


def test_a_signature_that_is_not_hex_is_refused_not_a_crash(url: str) -> None:
    headers = {name.encode(): value.encode() for name, value in signed(url, BODY).items()}
    headers[b"Authorization"] = headers[b"Authorization"][:-4] + "ÿÿÿÿ".encode("latin-1")
    reply = httpx.post(f"{url}/", content=BODY, headers=headers)
    assert (reply.status_code, reply.json()["__type"]) == (403, "InvalidSignatureException")
