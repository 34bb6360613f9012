"""A service whose credentials come from an AWS SSO profile that has no cached token (its session
expired, or nobody ran ``aws sso login``): botocore raises ``SSOTokenLoadError`` when the first
call needs credentials. Queries and ``/readyz`` say UPSTREAM_ACCESS_DENIED, an operator's
problem, and the log has a warning, not a traceback."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from app.local_sagemaker.server import BackgroundEndpoint
from tests.conftest import EndpointControl
from tests.service.conftest import TEST_SETTINGS, serving

QUERY = "query($name: String!) { imageVersion(imageName: $name) { version } }"

PROFILES = {
    # The current form: the profile names an [sso-session] section.
    "sso-session": """
[profile reader]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Reader

[sso-session corp]
sso_start_url = https://corp.awsapps.example/start
sso_region = us-east-1
""",
    # The legacy form: the start URL in the profile itself.
    "legacy": """
[profile reader]
sso_start_url = https://corp.awsapps.example/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = Reader
""",
}


@pytest.fixture(params=list(PROFILES.values()), ids=list(PROFILES))
def sso_profile(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default credential chain on an SSO profile, with an empty token cache (botocore
    looks for it under ``~/.aws/sso/cache``, so HOME is an empty folder)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    config.write_text(request.param, encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "reader")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("sso_profile")
async def test_an_sso_profile_without_a_token_is_upstream_access_denied(
    endpoint: BackgroundEndpoint, control: EndpointControl, caplog: pytest.LogCaptureFixture
) -> None:
    settings = dataclasses.replace(
        TEST_SETTINGS, backend="aws", region="us-east-1", endpoint_url=endpoint.url
    )
    control.reset()
    with caplog.at_level(logging.WARNING):
        async with serving(settings) as (_, client):
            body = await client.query(QUERY, name="sklearn-kernel")
            ready = await client.http.get("/readyz")

    assert body["data"] == {"imageVersion": None}
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "UPSTREAM_ACCESS_DENIED",
        "retryable": False,
        "imageName": "sklearn-kernel",
        # Without credentials STS could not say whose they are.
        "region": "us-east-1",
        "account": "unknown",
    }
    for private in ("corp", "awsapps", "reader", "Token"):
        assert private not in error["message"]
    assert (ready.status_code, ready.json()) == (
        503,
        {"status": "unavailable", "code": "UPSTREAM_ACCESS_DENIED"},
    )
    assert [record for record in caplog.records if record.exc_info] == []
    # botocore's own warning still names the cause, for the operator, on one line.
    assert any("SSOTokenLoadError" in record.getMessage() for record in caplog.records)
    warned = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    assert {"event": "account_unknown", "error": "AccessDenied"}.items() <= warned[0].items()
    assert {"event": "upstream_failure", "error": "AccessDenied"}.items() <= warned[1].items()
    # Nothing went out unsigned: the calls stopped at the missing token.
    assert control.calls("DescribeImageVersion") == control.calls("ListImages") == 0
