"""The command line, the settings, and the files that deploy the service agree with each other."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import yaml

from app.__main__ import _parser
from app.assembly.settings import VARIABLES, Settings, SettingsError, settings_table
from app.local_sagemaker.server import BackgroundEndpoint
from tests.conftest import ROOT, EndpointControl, free_port, running_command, sagemaker_client

QUERY = {"query": '{ imageVersion(imageName: "sklearn-kernel") { version } }'}


def test_serve_defaults_to_the_embedded_endpoint_and_says_so() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_command(
        ["serve", "--port", str(port)],
        env={"SMGQL_BACKEND": "", "SMGQL_ENDPOINT_URL": ""},
    ) as finished:
        answer = httpx.post(f"{url}/graphql", json=QUERY).json()
        assert answer == {"data": {"imageVersion": {"version": 2}}}
    assert finished.returncode == 0, finished.stderr
    assert "embedded local SageMaker endpoint" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_serve_transition_delay_keeps_the_embedded_endpoints_new_versions_creating() -> None:
    port = free_port()
    with running_command(
        ["serve", "--port", str(port), "--transition-delay", "600"],
        env={"SMGQL_BACKEND": "", "SMGQL_ENDPOINT_URL": ""},
    ) as running:
        # The URL a person creates a version at, as the start log names it.
        found = re.search(r"endpoint \(and STS\) at (http://127\.0\.0\.1:\d+)", running.log)
        assert found, running.log
        created = sagemaker_client(found[1]).create_image_version(
            ImageName="sklearn-kernel", BaseImage="repo/sklearn-kernel:slow", ClientToken="slow"
        )
        version = int(created["ImageVersionArn"].rsplit("/", 1)[1])
        query = 'query($v: Int) { imageVersion(imageName: "sklearn-kernel", version: $v) {'
        query += " imageVersionStatus } }"
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": {"v": version}}
        ).json()
    assert answer == {"data": {"imageVersion": {"imageVersionStatus": "CREATING"}}}
    assert "stay CREATING for 600 s" in running.log


def test_serve_backend_aws_honours_boto3s_endpoint_variable(
    endpoint: BackgroundEndpoint, control: EndpointControl
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT_URL_SAGEMAKER": endpoint.url,
        "AWS_ACCESS_KEY_ID": "aws-test",
        "AWS_SECRET_ACCESS_KEY": "aws-test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    control.reset()
    with running_command(["serve", "--port", str(port), "--backend", "aws"], env=env):
        answer = httpx.post(f"{url}/graphql", json=QUERY).json()
    assert answer == {"data": {"imageVersion": {"version": 2}}}
    assert control.calls("DescribeImageVersion") == 1


def test_bad_settings_fail_at_start_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "", "SMGQL_POOL_SIZE": "lots", "SMGQL_BACKEND": "gcp"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SMGQL_POOL_SIZE='lots': expected a whole number" in result.stderr
    assert "SMGQL_BACKEND='gcp': expected one of local, aws" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_parse_and_fall_back_to_aws_variables() -> None:
    settings = Settings.from_env(
        {
            "SMGQL_REGION": "eu-west-1",
            "SMGQL_POOL_SIZE": "8",
            "AWS_ENDPOINT_URL_SAGEMAKER": "http://127.0.0.1:9",
        }
    )
    assert (settings.region, settings.pool_size, settings.endpoint_url) == (
        "eu-west-1",
        8,
        "http://127.0.0.1:9",
    )
    assert Settings.from_env({}) == Settings()
    for bad in (
        {"SMGQL_PORT": "70000"},
        {"SMGQL_ENDPOINT_URL": "localhost:8001"},
        {"SMGQL_RETRY_MODE": "sometimes"},
        {"SMGQL_READ_TIMEOUT": "0"},
        # Retired: set, it would leave an operator believing in a bound that is gone.
        {"SMGQL_CACHE_MAX_ENTRIES": "10000"},
    ):
        with pytest.raises(SettingsError, match=next(iter(bad))):
            Settings.from_env(bad)


def test_export_schema_prints_the_checked_in_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "export-schema"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    assert result.stdout == (ROOT / "schema.graphql").read_text(encoding="utf-8")


def test_readme_settings_table_is_generated_from_the_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "paste app.settings.settings_table() into the README"


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose


def _container_port(service: dict[str, Any]) -> int:
    [mapping] = service.get("ports") or service["expose"]
    return int(str(mapping).split(":")[-1])


def test_compose_commands_are_valid_cli_calls() -> None:
    services = _compose()["services"]
    assert set(services) == {"api", "local-sagemaker", "redis", "gateway"}
    for name in ("api", "local-sagemaker"):
        service = services[name]
        command = service["command"]
        assert command[:3] == ["python", "-m", "app"], name
        args = _parser().parse_args(command[3:])
        assert args.command == {"api": "serve", "local-sagemaker": "local-sagemaker"}[name]
        assert args.port == _container_port(service)
        healthcheck = " ".join(service["healthcheck"]["test"])
        assert re.search(rf"127\.0\.0\.1:{args.port}/", healthcheck), name


def test_compose_runs_two_api_replicas_on_redis_behind_one_port() -> None:
    services = _compose()["services"]
    api, local, gateway = services["api"], services["local-sagemaker"], services["gateway"]
    assert api["deploy"]["replicas"] == 2
    assert "ports" not in api
    settings = Settings.from_env(api["environment"])
    assert set(api["environment"]) <= {variable.name for _, variable in VARIABLES}
    endpoint, redis = urlparse(settings.endpoint_url), urlparse(settings.redis_url)
    assert settings.backend == "local"
    assert settings.cache == "redis"
    assert api["environment"]["SMGQL_WORKERS"] == "auto"
    assert (endpoint.hostname, endpoint.port) == ("local-sagemaker", _container_port(local))
    assert redis.hostname == "redis"
    for dependency in ("local-sagemaker", "redis"):
        assert api["depends_on"][dependency]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert "/_local/health" in " ".join(local["healthcheck"]["test"])
    [config] = [volume for volume in gateway["volumes"] if "nginx.conf" in volume]
    nginx = (ROOT / config.split(":")[0]).read_text(encoding="utf-8")
    assert f"server api:{_container_port(api)}" in nginx
    assert gateway["depends_on"]["api"]["condition"] == "service_healthy"


def test_runtime_lock_pins_what_the_dev_lock_pins() -> None:
    def pins(name: str) -> dict[str, str]:
        lines = (ROOT / name).read_text().splitlines()
        return dict(line.split("==") for line in lines if "==" in line and not line.startswith(" "))

    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert runtime.items() <= dev.items()
    assert {"strawberry-graphql", "starlette", "uvicorn", "boto3", "aiodataloader"} <= set(runtime)
