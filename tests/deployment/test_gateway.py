"""compose's gateway (``deploy/nginx.conf``) run by a real nginx in front of the service, with
its upstream on loopback: a subscription gets through it, and a plain query still does.

nginx is Debian's, which ``scripts/bootstrap --test`` installs. Without it these tests are
skipped and say so, except in CI, where that is a failure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.assembly.build import create_app
from app.local_sagemaker import BackgroundEndpoint
from app.server_thread import ServerThread
from app.web.server import ServiceConfig
from tests.conftest import free_port
from tests.processes import ROOT, started
from tests.service.conftest import TEST_SETTINGS

GATEWAY_CONF = ROOT / "deploy" / "nginx.conf"
# What nginx's master logs (at notice) once its socket listens and its workers start.
NGINX_READY = r"start worker process"
GRAPHQL_WS = Subprotocol("graphql-transport-ws")
SUBSCRIPTION = """subscription { imageVersionStatus(imageName: "sklearn-kernel", version: 2) {
  version imageVersionStatus } }"""


def _nginx() -> str:
    # Debian puts nginx in /usr/sbin, which a user's PATH may leave out.
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: scripts/bootstrap --test installs it")
        pytest.skip("nginx is not installed (scripts/bootstrap --test installs it)")
    return nginx


def _gateway_conf(folder: Path, upstream_port: int, listen_port: int) -> Path:
    """deploy/nginx.conf with its upstream and its port on loopback, inside the top-level
    configuration the nginx image gives it (its own files, pid and temporary files in
    ``folder``): the configuration to run."""
    gateway = GATEWAY_CONF.read_text(encoding="utf-8")
    gateway, upstreams = re.subn(r"server api:\d+", f"server 127.0.0.1:{upstream_port}", gateway)
    gateway, listens = re.subn(r"listen \d+;", f"listen 127.0.0.1:{listen_port};", gateway)
    assert (upstreams, listens) == (1, 1), "deploy/nginx.conf no longer has one upstream server"
    (folder / "gateway.conf").write_text(gateway, encoding="utf-8")
    temporary = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = f"""
pid {folder / "nginx.pid"};
error_log stderr notice;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temporary}
    include {folder / "gateway.conf"};
}}
"""
    path = folder / "nginx.conf"
    path.write_text(main, encoding="utf-8")
    return path


@pytest.fixture
def gateway(endpoint: BackgroundEndpoint, tmp_path: Path) -> Iterator[str]:
    """The gateway's address (host:port), in front of the service on the shared endpoint."""
    nginx = _nginx()
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    server = ServerThread(
        ServiceConfig(create_app(settings), settings.server(), port=0, lifespan="on")
    )
    upstream_port = int(server.start().rsplit(":", 1)[1])
    listen_port = free_port()
    conf = _gateway_conf(tmp_path, upstream_port, listen_port)
    args = [nginx, "-e", "stderr", "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"]
    try:
        with started(args, NGINX_READY, stop=signal.SIGQUIT, timeout=20):
            yield f"127.0.0.1:{listen_port}"
    finally:
        server.stop()


def test_a_subscription_goes_through_the_gateway(gateway: str) -> None:
    with connect(f"ws://{gateway}/graphql", subprotocols=[GRAPHQL_WS]) as socket_:
        socket_.send(json.dumps({"type": "connection_init"}))
        assert json.loads(socket_.recv(timeout=10)) == {"type": "connection_ack"}
        socket_.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        first = json.loads(socket_.recv(timeout=10))
    assert first == {
        "id": "1",
        "type": "next",
        "payload": {
            "data": {"imageVersionStatus": {"version": 2, "imageVersionStatus": "CREATED"}}
        },
    }


def test_a_query_goes_through_the_gateway(gateway: str) -> None:
    query = {"query": '{ imageVersion(imageName: "sklearn-kernel") { version } }'}
    with httpx.Client(base_url=f"http://{gateway}") as http:
        # Two requests: the second on the connection the first kept alive, upstream too.
        answers = [http.post("/graphql", json=query) for _ in range(2)]
    assert [answer.json() for answer in answers] == [{"data": {"imageVersion": {"version": 2}}}] * 2


def test_the_gateway_waits_longer_than_the_service_pings_its_websockets() -> None:
    # A subscription between events is silent but for the service's pings: the gateway must not
    # take it for a dead upstream.
    timeouts = re.findall(r"proxy_(?:read|send)_timeout (\d+)s;", GATEWAY_CONF.read_text())
    ping_interval = ServiceConfig(None, TEST_SETTINGS.server()).ws_ping_interval
    assert ping_interval is not None
    assert len(timeouts) == 2
    assert all(int(timeout) >= 4 * ping_interval for timeout in timeouts)
