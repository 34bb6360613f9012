"""Mainstream GraphQL clients against the real service on loopback.

``client.mjs`` (Node: urql with its persisted-query exchange, fetch, graphql-ws over ``ws``)
runs a query, automatic persisted queries (a miss, then a hit by a new client), a conditional
GET answered 304, and two subscriptions that follow a new image version from CREATING to
CREATED. Python drives it: it creates the version on a local endpoint of its own whose
transitions take 1.5 s, and counts the SageMaker calls the two subscriptions cost between them.
A Python WebSocket client checks that a page on an origin outside the allow-list cannot open a
subscription socket, and one on an allowed origin can.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from mypy_boto3_sagemaker import SageMakerClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from app.assembly.build import create_app
from app.assembly.settings import Settings
from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from app.server_thread import ServerThread
from app.web.server import ServiceConfig
from tests.conftest import (
    EndpointControl,
    assert_node_packages_are_the_locked_ones,
    create_image,
    sagemaker_client,
)
from tests.fakes import SkippingClock
from tests.service.conftest import TEST_SETTINGS

HERE = Path(__file__).parent
# How long the endpoint keeps a new image or version CREATING.
TRANSITION_DELAY = 1.5
# The slow endpoint's time: real, so a version's CREATING lasts while clients watch it.
SLOW_CLOCK = SkippingClock()
PROTOCOL = Subprotocol("graphql-transport-ws")
# The poller's schedule (app/watch.py, VersionWatch's defaults): it describes the version when
# the first follower arrives (t = 0), again after first_delay = 1 s, then, while nothing
# changed, after 1 s x 1.5 = 1.5 s more (t = 2.5 s), backing off from there; it stops at the
# first poll that sees CREATED. The version was created before the subscriptions started, so
# it is CREATED by t = 1.5 s at the latest and the poll at t = 2.5 s sees it: one poller shared
# by both subscribers makes at most 3 DescribeImageVersion calls. A poller per subscriber would
# make at least 4: each subscriber sees CREATING first and CREATED last, so its poller needs at
# least two calls. That proves the sharing only without the cache (cache="off"): with the
# memory cache, whose answers about a CREATING version stay fresh for 2 s, separate pollers
# would share the cache's answers too (2 calls either way: t = 0, and t = 2.5 s).
MAX_DESCRIBES_ONE_POLLER = 3


def _node() -> str:
    node = shutil.which("node")
    assert node, "Node.js is needed for the client tests (scripts/bootstrap --test)"
    assert (HERE / "node_modules").is_dir(), (
        "run scripts/bootstrap --test: it installs tests/client"
    )
    return node


@pytest.fixture(scope="module")
def slow_endpoint() -> Iterator[BackgroundEndpoint]:
    """A local endpoint of this module's own, on which new images and versions stay CREATING
    for TRANSITION_DELAY seconds."""
    options = EndpointOptions(transition_delay=TRANSITION_DELAY, clock=SLOW_CLOCK)
    with BackgroundEndpoint(options) as endpoint:
        yield endpoint


@dataclasses.dataclass(frozen=True)
class Service:
    url: str
    cache: str


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The service as ``serve`` runs it (uvicorn with the service's config), on a free port."""
    server = ServerThread(
        ServiceConfig(create_app(settings), settings.server(), port=0, lifespan="on")
    )
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["memory", "off"])
def service(request: pytest.FixtureRequest, slow_endpoint: BackgroundEndpoint) -> Iterator[Service]:
    """The service with its in-process cache (as deployed by default), and without a cache (where
    only the shared poller keeps the subscriptions' SageMaker calls down)."""
    cache = request.param
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=slow_endpoint.url, cache=cache)
    with serving(settings) as url:
        yield Service(url, cache)


def created_image(sagemaker: SageMakerClient) -> str:
    """A new image, past its CREATING (a version needs its image CREATED): the slow endpoint's
    clock skips the image's transition, which no test here watches."""
    name = create_image(sagemaker, prefix="client")
    SLOW_CLOCK.skip(TRANSITION_DELAY)
    assert sagemaker.describe_image(ImageName=name)["ImageStatus"] == "CREATED"
    return name


@dataclasses.dataclass
class ClientRun:
    returncode: int
    summary: dict[str, Any]
    stderr: str
    describes_during_subscriptions: int


def run_client(
    url: str, control: EndpointControl, image: str, version: int, tmp: Path
) -> ClientRun:
    """Run client.mjs; count the DescribeImageVersion calls the endpoint gets from its start
    until its subscriptions complete (it waits on stdin for us to have counted them)."""
    control.reset()
    ws_url = "ws" + url.removeprefix("http") + "/graphql"
    stdout_path = tmp / "client-stdout.json"
    with stdout_path.open("w", encoding="utf-8") as stdout:
        process = subprocess.Popen(
            [_node(), str(HERE / "client.mjs"), f"{url}/graphql", ws_url, image, str(version)],
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            cwd=HERE,
            env={**os.environ, "CLIENT_PAUSE_AFTER_SUBSCRIPTIONS": "1"},
        )
    assert process.stdin is not None
    assert process.stderr is not None
    stderr: list[str] = []
    paused = threading.Event()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            stderr.append(line)
            if line.strip() == "subscriptions complete":
                paused.set()
        paused.set()  # the script ended before its pause: its exit code says why

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert paused.wait(30), "client.mjs did not finish its subscriptions within 30 s"
        describes = control.calls("DescribeImageVersion")
        try:
            process.stdin.write("go on\n")
            process.stdin.close()
        except BrokenPipeError:
            pass  # it has exited already
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    output = stdout_path.read_text(encoding="utf-8").strip()
    summary: dict[str, Any] = json.loads(output) if process.returncode == 0 else {}
    return ClientRun(process.returncode, summary, "".join(stderr), describes)


def test_urql_and_graphql_ws_against_the_live_service(
    service: Service, slow_endpoint: BackgroundEndpoint, tmp_path: Path
) -> None:
    sagemaker = sagemaker_client(slow_endpoint.url)
    image = created_image(sagemaker)
    sagemaker.create_image_version(ImageName=image, BaseImage=f"repo/{image}:1", ClientToken="t1")
    created = sagemaker.describe_image_version(ImageName=image)
    assert created["ImageVersionStatus"] == "CREATING"

    run = run_client(
        service.url, EndpointControl(slow_endpoint.url), image, created["Version"], tmp_path
    )

    assert run.returncode == 0, f"client.mjs failed ({run.returncode}):\n{run.stderr}"
    summary = run.summary
    assert summary["ok"] is True

    # a. urql's query (POST) got what SageMaker says of the demo image's latest version.
    kernel = sagemaker.describe_image_version(ImageName="sklearn-kernel")
    expected = {"imageVersion": {"version": kernel["Version"], "jobType": kernel["JobType"]}}
    assert summary["query"] == {"method": "POST", "status": 200, "data": expected}

    # b. Automatic persisted queries: a miss, the text sent with the hash; then a new client's
    # hash alone is a hit. Every hashed request is a GET.
    persisted = summary["persisted"]
    miss, full = persisted["firstUse"]
    assert miss["method"] == "GET"
    assert not miss["sentQuery"]
    assert miss["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert full == {"method": "GET", "status": 200, "sentQuery": True, "code": None}
    assert persisted["secondUse"] == {"method": "GET", "status": 200, "sentQuery": False}
    assert list(persisted["data"].values()) == [expected["imageVersion"]]

    # c. The ETag sent back in If-None-Match: 304, with the caching headers.
    conditional = summary["conditionalGet"]
    assert conditional["status"] == 304
    if service.cache == "off":
        # No cache, no freshness to go by: keep it, but ask again (cheap with the ETag).
        assert conditional["cacheControl"] == "no-cache"
    else:
        assert conditional["cacheControl"].startswith("public, max-age=")
    assert conditional["cacheControlOn304"] == conditional["cacheControl"]

    # d. Both subscribers saw CREATING, then CREATED, then the end of the subscription.
    subscription = summary["subscription"]
    assert subscription["completed"] is True
    assert subscription["subscribers"] == [["CREATING", "CREATED"], ["CREATING", "CREATED"]]
    # ... at the cost of one poller, not one per subscriber.
    assert 1 <= run.describes_during_subscriptions <= MAX_DESCRIBES_ONE_POLLER, (
        f"{run.describes_during_subscriptions} DescribeImageVersion calls for two subscribers"
    )
    print(
        f"cache={service.cache}: {run.describes_during_subscriptions} DescribeImageVersion calls"
        " for two subscribers"
    )


@pytest.fixture(scope="module")
def guarded_service_url(slow_endpoint: BackgroundEndpoint) -> Iterator[str]:
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=slow_endpoint.url, cors_origins=("https://app.example",)
    )
    with serving(settings) as url:
        yield url


def test_a_websocket_from_an_origin_outside_the_allow_list_is_refused(
    guarded_service_url: str,
) -> None:
    ws_url = "ws" + guarded_service_url.removeprefix("http") + "/graphql"
    with pytest.raises(InvalidStatus) as refused:
        connect(
            ws_url, origin=Origin("https://evil.example"), subprotocols=[PROTOCOL], open_timeout=5
        ).close()
    assert refused.value.response.status_code == 403


def test_a_websocket_from_an_allowed_origin_is_accepted(guarded_service_url: str) -> None:
    ws_url = "ws" + guarded_service_url.removeprefix("http") + "/graphql"
    with connect(
        ws_url, origin=Origin("https://app.example"), subprotocols=[PROTOCOL], open_timeout=5
    ) as socket:
        assert socket.subprotocol == PROTOCOL
        socket.send(json.dumps({"type": "connection_init"}))
        assert json.loads(socket.recv(timeout=5)) == {"type": "connection_ack"}


def test_the_installed_node_packages_are_the_pinned_ones() -> None:
    assert_node_packages_are_the_locked_ones(HERE)
