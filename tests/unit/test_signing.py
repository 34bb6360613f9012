"""The transport's SigV4 signer against botocore's: for the same request, credentials and moment,
the same ``Authorization``, ``X-Amz-Date`` and ``X-Amz-Security-Token``, over generated
requests (headers with odd spacing and case, the headers botocore leaves unsigned, ports, paths,
query strings, session tokens, days)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sagemaker.signing import Signer

NAMES = st.sampled_from(
    [
        "Content-Type",
        "X-Amz-Target",
        "User-Agent",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "traceparent",
        "Expect",
        "X-Custom",
        "x-amz-meta-Thing",
        "X-Amz-Security-Token",
        "Authorization",
    ]
)
VALUES = st.text(st.sampled_from("ab1 =;/\t"), min_size=1, max_size=12).filter(str.strip)
URLS = st.sampled_from(
    [
        "https://api.sagemaker.us-east-1.amazonaws.com/",
        "http://127.0.0.1:8123/",
        "http://localhost:80/",
        "https://Example.COM:443/a/../b/",
        "https://example.com:8443/x%20y/?b=2&a=1&a=0",
        "http://[::1]:9000/",
    ]
)
MOMENTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1))


def botocores(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    credentials: ReadOnlyCredentials,
    region: str,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: now)
    SigV4Auth(credentials, "sagemaker", region).add_auth(request)
    return dict(request.headers.items())


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["POST", "get"]),
    url=URLS,
    headers=st.dictionaries(NAMES, VALUES, max_size=6),
    body=st.binary(max_size=64),
    token=st.one_of(st.none(), st.text(st.characters(min_codepoint=33, max_codepoint=126))),
    region=st.sampled_from(["us-east-1", "eu-west-1", "cn-north-1"]),
    now=MOMENTS,
)
def test_a_signature_is_botocores(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    token: str | None,
    region: str,
    now: datetime,
) -> None:
    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCY", token)
    with pytest.MonkeyPatch.context() as monkeypatch:
        expected = botocores(method, url, headers, body, credentials, region, now, monkeypatch)
    signed = Signer("sagemaker", region).sign(method, url, headers, body, credentials, now)
    assert signed == expected


def test_the_days_key_is_made_again_for_another_day_or_secret() -> None:
    signer = Signer("sagemaker", "us-east-1")
    url, headers = "https://example.com/", {"X-Amz-Target": "SageMaker.DescribeImage"}
    first = ReadOnlyCredentials("AKID", "secret-1", None)
    second = ReadOnlyCredentials("AKID", "secret-2", None)
    signatures = set()
    for credentials, day in ((first, 1), (first, 2), (second, 2), (first, 1)):
        now = datetime(2026, 11, day, 12, tzinfo=UTC).replace(tzinfo=None)
        with pytest.MonkeyPatch.context() as monkeypatch:
            expected = botocores(
                "POST", url, headers, b"{}", credentials, "us-east-1", now, monkeypatch
            )
        signed = signer.sign("POST", url, headers, b"{}", credentials, now)
        assert signed == expected
        signatures.add(signed["Authorization"])
    assert len(signatures) == 3
