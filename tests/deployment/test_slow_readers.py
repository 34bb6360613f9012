"""Clients that stop reading, over real sockets: the server drops them once its write buffer has
stayed full for the write timeout, over HTTP and over WebSocket, and goes on serving others.

Kernel buffers on loopback hold megabytes, which would hide a client that does not read: the
server's listening socket and the clients' sockets (``tests.readers``) are given small buffers,
so that the server's write buffer fills after a few kilobytes. Each test waits for the server's
own log record of the drop (a real timer, WRITE_TIMEOUT), then reads what it was sent.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from app.assembly.build import create_app
from app.graphiql import ASSETS, HERE
from app.local_sagemaker import BackgroundEndpoint
from app.server_thread import ServerThread
from app.web.server import ServiceConfig
from tests.readers import SMALL_BUFFER, socket_that_stops_reading, websocket_that_stops_reading
from tests.service.conftest import TEST_SETTINGS

WRITE_TIMEOUT = 0.5
# An introspection answer of about 40 KB; a socket is sent many.
LARGE_QUERY = "{ __schema { types { name description fields { name description } } } }"


class Drops(logging.Handler):
    """Sets ``dropped`` when the server logs that it dropped a client that stopped reading."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict) and record.msg.get("event") == "client_stopped_reading":
            self.dropped.set()


@pytest.fixture
def drops() -> Iterator[Drops]:
    handler = Drops()
    logger = logging.getLogger("app.web.server")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def live(endpoint: BackgroundEndpoint) -> Iterator[tuple[str, int]]:
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, write_timeout=WRITE_TIMEOUT
    )
    listener = socket.socket()
    # Accepted sockets take their buffer sizes from the listening one.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    config = ServiceConfig(create_app(settings), settings.server(), lifespan="on")
    server = ServerThread(config, sock=listener)
    server.start()
    yield listener.getsockname()
    server.stop()
    listener.close()


def _read_to_the_end(client: socket.socket) -> int:
    """Bytes the server sent before it ended the connection (by a reset or a close)."""
    client.settimeout(10)
    received = 0
    try:
        while chunk := client.recv(65536):
            received += len(chunk)
    except ConnectionResetError:
        pass
    return received


def test_an_http_client_that_stops_reading_is_dropped(live: tuple[str, int], drops: Drops) -> None:
    size = (HERE / "node_modules" / ASSETS["graphiql.min.js"]).stat().st_size
    with socket_that_stops_reading(live) as client:
        client.sendall(b"GET /graphiql/graphiql.min.js HTTP/1.1\r\nHost: x\r\n\r\n")
        assert drops.dropped.wait(timeout=30)
        assert _read_to_the_end(client) < size
    host, port = live
    assert httpx.get(f"http://{host}:{port}/healthz").status_code == 200


def test_a_websocket_client_that_stops_reading_is_dropped(
    live: tuple[str, int], drops: Drops
) -> None:
    payloads = [{"query": LARGE_QUERY}] * 20
    with websocket_that_stops_reading(live, payloads):
        # Read nothing until the server has given up on this client.
        assert drops.dropped.wait(timeout=30)
    host, port = live
    assert httpx.get(f"http://{host}:{port}/healthz").status_code == 200
