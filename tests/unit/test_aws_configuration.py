"""The AWS configuration is read as boto3 reads it: the region from ``SMGQL_REGION``, else
botocore's chain (``AWS_DEFAULT_REGION``, then the profile's), and no region anywhere fails the
start with a message; a targets file is checked at start, naming the entry at fault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.assembly.settings import Settings, SettingsError


@pytest.fixture
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AWS config file of this test's own, and no region from the machine's environment."""
    config = tmp_path / "config"
    config.write_text("[profile p]\nregion = eu-west-1\n\n[profile bare]\noutput = json\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "SMGQL_REGION"):
        monkeypatch.delenv(name, raising=False)
    return config


def region_of(env: dict[str, str]) -> str:
    return Settings.from_env(env).target_specs()[0].region


def test_the_profiles_region_is_the_region_as_for_boto3(
    aws_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "p")
    assert region_of({"SMGQL_BACKEND": "aws"}) == "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert region_of({"SMGQL_BACKEND": "aws"}) == "ap-south-1"
    assert region_of({"SMGQL_BACKEND": "aws", "SMGQL_REGION": "us-west-2"}) == "us-west-2"


def test_no_region_anywhere_fails_the_start_with_a_message(
    aws_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "bare")
    # AWS_REGION is not boto3's variable, so it does not count.
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with pytest.raises(SettingsError, match="No AWS region is configured: set SMGQL_REGION"):
        Settings.from_env({"SMGQL_BACKEND": "aws"})
    # The local endpoint has a home region.
    assert region_of({"SMGQL_BACKEND": "local"}) == "us-east-1"


def test_a_targets_file_is_read_and_checked_at_start(aws_config: Path, tmp_path: Path) -> None:
    targets = tmp_path / "targets.json"
    targets.write_text(
        json.dumps(
            [
                {"region": "eu-west-1", "account": "111111111111", "profile": "p"},
                {"region": "us-east-1", "account": "222222222222"},
            ]
        )
    )
    settings = Settings.from_env({"SMGQL_BACKEND": "aws", "SMGQL_TARGETS_FILE": str(targets)})
    assert [(spec.region, spec.account) for spec in settings.target_specs()] == [
        ("eu-west-1", "111111111111"),
        ("us-east-1", "222222222222"),
    ]
    targets.write_text(json.dumps([{"region": "eu-west-1", "account": "12"}]))
    with pytest.raises(SettingsError, match="SMGQL_TARGETS_FILE: entry 0: account '12'"):
        Settings.from_env({"SMGQL_TARGETS_FILE": str(targets)})
    targets.write_text("[{")
    with pytest.raises(SettingsError, match="SMGQL_TARGETS_FILE is not JSON"):
        Settings.from_env({"SMGQL_TARGETS_FILE": str(targets)})
