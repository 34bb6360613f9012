"""Fixtures shared by every test: a real local SageMaker endpoint on loopback and boto3 clients
that reach it over HTTP through botocore's whole stack."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from mypy_boto3_sagemaker import SageMakerClient
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from app.local_sagemaker.faults import FaultPlan
from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from tests.processes import REDIS_READY, SERVICE_READY, UVICORN_READY, Running, started

ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def with_lifespan(app: Starlette) -> AsyncIterator[ASGIApp]:
    """``app`` with its lifespan running, called as a server calls it: each request gets its
    own copy of the lifespan state (where the app keeps its services)."""
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        yield with_state


def sagemaker_client(
    url: str, access_key: str = "test", region: str = "us-east-1", **config: Any
) -> SageMakerClient:
    """A boto3 SageMaker client for a local endpoint, signing for ``region`` (whose catalog it
    reaches); ``config`` goes to botocore's Config."""
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key="test-secret",
        config=Config(**{"retries": {"mode": "standard", "total_max_attempts": 3}, **config}),
    )


class EndpointControl:
    """The endpoint's ``/_local`` control API, as tests use it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.url}/_local/stats").raise_for_status().json()
        return stats

    def calls(self, operation: str) -> int:
        count: int = self.stats()["calls"].get(operation, 0)
        return count

    def reset(self) -> None:
        httpx.delete(f"{self.url}/_local/stats").raise_for_status()

    def set_faults(self, **plan: Any) -> None:
        httpx.put(f"{self.url}/_local/faults", json=plan).raise_for_status()


@pytest.fixture(scope="session")
def shared_endpoint() -> Iterator[BackgroundEndpoint]:
    """One seeded in-memory endpoint for the whole run. Tests that write to it use image names
    of their own, so they never disturb the demo catalog others read."""
    with BackgroundEndpoint(EndpointOptions()) as endpoint:
        yield endpoint


@pytest.fixture
def endpoint(shared_endpoint: BackgroundEndpoint) -> Iterator[BackgroundEndpoint]:
    """The shared endpoint with clean counters, and faults switched off again afterwards."""
    shared_endpoint.endpoint.faults.configure(FaultPlan())
    shared_endpoint.endpoint.faults.reset_stats()
    yield shared_endpoint
    shared_endpoint.endpoint.faults.configure(FaultPlan())


@pytest.fixture
def control(endpoint: BackgroundEndpoint) -> EndpointControl:
    return EndpointControl(endpoint.url)


@pytest.fixture
def sagemaker(endpoint: BackgroundEndpoint) -> SageMakerClient:
    return sagemaker_client(endpoint.url)


SIGNED = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sagemaker/aws4_request"
}


def raw_call(url: str, operation: str, body: object, **headers: str) -> httpx.Response:
    """One AWS JSON 1.1 call sent by hand, so tests see the exact bytes on the wire."""
    return httpx.post(
        url,
        json=body,
        headers={
            **SIGNED,
            "X-Amz-Target": f"SageMaker.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
            **headers,
        },
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_command(
    args: list[str], env: dict[str, str] | None = None, python: str = sys.executable
) -> Iterator[Running]:
    """Run ``python -m app ARGS`` until it says it accepts connections; on exit, stop it with
    Ctrl-C (its exit code and whole log are then on the yielded :class:`Running`)."""
    ready = UVICORN_READY if args[0] == "local-sagemaker" else SERVICE_READY
    with started([python, "-m", "app", *args], ready, env) as running:
        yield running


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis server on loopback for the run (Debian's redis-server, which
    ``scripts/bootstrap --test`` installs). Without it the tests that need it are skipped and
    say so, except in CI, where that is a failure. ``DEBUG`` is allowed from loopback, so a test
    can stall it (``DEBUG SLEEP``)."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing: scripts/bootstrap --test installs it")
        pytest.skip("redis-server is not installed (scripts/bootstrap --test installs it)")
    port = free_port()
    args = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--enable-debug-command", "local"]
    with started(args, REDIS_READY, stop=signal.SIGTERM, timeout=10):
        yield f"redis://127.0.0.1:{port}/0"


def assert_node_packages_are_the_locked_ones(folder: Path) -> None:
    """Every dependency ``folder/package.json`` pins is installed at that version, as locked."""
    pinned = json.loads((folder / "package.json").read_text(encoding="utf-8"))["dependencies"]
    locked = json.loads((folder / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    for name, version in pinned.items():
        manifest = folder / "node_modules" / name / "package.json"
        installed = json.loads(manifest.read_text(encoding="utf-8"))
        assert installed["version"] == locked[f"node_modules/{name}"]["version"] == version, name


def insert_version_of_the_future(endpoint: BackgroundEndpoint) -> str:
    """A new image whose one version has a VendorGuidance the schema does not know (as when
    AWS adds a value): the image's name."""
    name = f"future-{uuid.uuid4().hex[:8]}"
    # Created now: a catalog test's time filters over the shared endpoint never meet it.
    now = time.time()
    endpoint.endpoint.store.insert_seed_image(
        {
            "ImageName": name,
            "RoleArn": "arn:aws:iam::123456789012:role/R",
            "ImageStatus": "CREATED",
            "CreationTime": now,
            "LastModifiedTime": now,
        },
        [
            {
                "Version": 1,
                "BaseImage": "r:1",
                "ImageVersionStatus": "CREATED",
                "VendorGuidance": "EXPERIMENTAL",
                "CreationTime": now,
                "LastModifiedTime": now,
            }
        ],
    )
    return name


ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerImageRole"


def create_image(sagemaker: SageMakerClient, versions: int = 0, prefix: str = "test") -> str:
    """A new image of a unique name with ``versions`` versions numbered 1.."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    sagemaker.create_image(ImageName=name, RoleArn=ROLE_ARN)
    for number in range(1, versions + 1):
        sagemaker.create_image_version(
            ImageName=name, BaseImage=f"repo/{name}:{number}", ClientToken=f"t{number}"
        )
    return name
