"""WebSockets as uvicorn serves them, over real sockets: each operation is a request of its own,
a message outside the protocol closes the socket with 4400, an idle socket is closed, and a
process holds a bounded number of sockets.

Two tests wait on a real timer, each for the server to close a socket: the idle timeout
(IDLE_TIMEOUT, a fraction of a second) and a JWT session's end (SESSION_LEFT, two seconds).
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from app.assembly.build import create_app
from app.assembly.settings import Settings
from app.local_sagemaker import BackgroundEndpoint
from app.server_thread import ServerThread
from app.web.server import ServiceConfig
from tests.conftest import EndpointControl
from tests.issuer import AUDIENCE, ISSUER, Issuer
from tests.log_lines import logged
from tests.service.conftest import TEST_SETTINGS

GRAPHQL_WS = Subprotocol("graphql-transport-ws")
IDLE_TIMEOUT = 0.5
MAX_WEBSOCKETS = 3
SESSION_LEFT = 2.0
QUERY = '{ imageVersion(imageName: "sklearn-kernel", version: 1) { version } }'


@contextmanager
def _serving(settings: Settings, clock: Callable[[], float] = time.time) -> Iterator[str]:
    server = ServerThread(
        ServiceConfig(create_app(settings, clock), settings.server(), port=0, lifespan="on")
    )
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def settings(endpoint: BackgroundEndpoint) -> Settings:
    return dataclasses.replace(
        TEST_SETTINGS,
        endpoint_url=endpoint.url,
        websocket_idle_timeout=IDLE_TIMEOUT,
        max_websockets=MAX_WEBSOCKETS,
    )


@pytest.fixture
def live_url(settings: Settings) -> Iterator[str]:
    with _serving(settings) as url:
        yield url


@contextmanager
def _open(url: str, **payload: str) -> Iterator[ClientConnection]:
    """A socket past connection_init (with ``payload``), acknowledged."""
    with connect(_ws(url), subprotocols=[GRAPHQL_WS]) as socket_:
        socket_.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(socket_.recv(timeout=10)) == {"type": "connection_ack"}
        yield socket_


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/graphql"


def _run(socket_: ClientConnection, id_: str, query: str) -> dict[str, Any]:
    """The one result of a query sent over ``socket_`` (then its complete)."""
    socket_.send(json.dumps({"id": id_, "type": "subscribe", "payload": {"query": query}}))
    result = json.loads(socket_.recv(timeout=10))
    assert result["type"] == "next", result
    assert json.loads(socket_.recv(timeout=10)) == {"id": id_, "type": "complete"}
    payload: dict[str, Any] = result["payload"]
    return payload


def _close_code(socket_: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        socket_.recv(timeout=10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_each_operation_over_one_socket_asks_afresh(
    live_url: str, control: EndpointControl
) -> None:
    # One socket's operations are requests of their own: the second is not answered from the
    # first one's loaders (which would also hold the first one's deadline).
    with _open(live_url) as socket_:
        first = _run(socket_, "1", QUERY)
        second = _run(socket_, "2", QUERY)
    assert first == second == {"data": {"imageVersion": {"version": 1}}}
    assert control.calls("DescribeImageVersion") == 2


@pytest.mark.parametrize(
    "message",
    [
        ["subscribe"],
        "subscribe",
        {"type": 7},
        {"type": "subscribe", "id": "1", "payload": "{ __typename }"},
        {"type": "subscribe", "id": "1", "payload": {"query": 7}},
        {"type": "subscribe", "id": "1", "payload": {"query": "{ a }", "variables": []}},
        {"type": "subscribe", "id": 1, "payload": {"query": "{ __typename }"}},
        {"type": "complete", "id": ["1"]},
        {"type": "ping", "payload": "hello"},
        {"type": "hello"},
    ],
    ids=repr,
)
def test_a_message_outside_the_protocol_closes_with_4400(live_url: str, message: object) -> None:
    with _open(live_url) as socket_:
        socket_.send(json.dumps(message))
        code, _ = _close_code(socket_)
    assert code == 4400
    # And the server goes on serving.
    assert httpx.get(f"{live_url}/healthz").status_code == 200


def test_a_lone_surrogate_in_a_message_closes_with_4400(live_url: str) -> None:
    with _open(live_url) as socket_:
        socket_.send('{"type": "subscribe", "id": "\\ud800", "payload": {"query": "{ a }"}}')
        code, reason = _close_code(socket_)
    assert (code, reason) == (4400, "WebSocket message must be valid JSON")


def test_a_socket_running_no_operation_is_closed_when_idle(live_url: str) -> None:
    with _open(live_url) as socket_:
        # Busy (an operation ran) then idle: the clock starts again when the operation ends.
        _run(socket_, "1", QUERY)
        ended = time.monotonic()
        code, reason = _close_code(socket_)
        idle_for = time.monotonic() - ended
    assert (code, reason) == (1000, "Idle")
    assert idle_for >= IDLE_TIMEOUT * 0.9


def test_sockets_beyond_the_limit_are_refused_and_http_still_served(live_url: str) -> None:
    with ExitStack() as held:
        for _ in range(MAX_WEBSOCKETS):
            held.enter_context(_open(live_url))
        with pytest.raises(InvalidStatus) as refused:
            held.enter_context(connect(_ws(live_url), subprotocols=[GRAPHQL_WS]))
        response = refused.value.response
        assert response.status_code == 503
        assert json.loads(response.body or b"")["errors"][0]["extensions"]["retryable"] is True
        assert httpx.get(f"{live_url}/healthz").status_code == 200
    # A slot freed is a slot taken again.
    with _open(live_url):
        pass


def test_a_session_without_a_valid_credential_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    issuer = Issuer.in_folder(tmp_path)
    secured = dataclasses.replace(
        settings, jwks_file=str(issuer.jwks_file), jwt_audience=AUDIENCE, jwt_issuer=ISSUER
    )
    with _serving(secured) as url, connect(_ws(url), subprotocols=[GRAPHQL_WS]) as socket_:
        socket_.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "x"}}))
        assert _close_code(socket_) == (4403, "Forbidden")


def test_a_session_ends_when_its_jwt_expires(settings: Settings, tmp_path: Path) -> None:
    # The service's clock runs SESSION_LEFT seconds short of the token's expiry: the socket is
    # let in, then closed (4403, which graphql-ws answers by opening a new session with a
    # fresh token) when the expiry comes, in real time.
    issuer = Issuer.in_folder(tmp_path)
    secured = dataclasses.replace(
        settings,
        jwks_file=str(issuer.jwks_file),
        jwt_audience=AUDIENCE,
        jwt_issuer=ISSUER,
        websocket_idle_timeout=60,
    )
    clock_offset = 600.0 - SESSION_LEFT
    with _serving(secured, lambda: time.time() + clock_offset) as url:
        bearer = f"Bearer {issuer.token(exp=time.time() + 600.0)}"
        with _open(url, Authorization=bearer) as socket_:
            opened = time.monotonic()
            assert _run(socket_, "1", QUERY)["data"] == {"imageVersion": {"version": 1}}
            assert _close_code(socket_) == (4403, "Session expired")
            lasted = time.monotonic() - opened
    assert SESSION_LEFT * 0.5 <= lasted <= SESSION_LEFT + 5


def test_a_result_over_the_response_limit_is_one_error(settings: Settings) -> None:
    # The HTTP limit holds over WebSocket too: a larger result is not sent.
    limited = dataclasses.replace(settings, max_response_bytes=2048)
    with _serving(limited) as url, _open(url) as socket_:
        small = _run(socket_, "1", QUERY)
        large = _run(socket_, "2", "{ __schema { types { name description } } }")
    assert small == {"data": {"imageVersion": {"version": 1}}}
    assert large["data"] is None
    [error] = large["errors"]
    assert error["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    assert error["extensions"]["responseBytes"] > 2048


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_a_subscription_is_counted_and_logged_from_start_to_end(live_url: str) -> None:
    # The server runs in this process: its metrics and log lines are this process's.
    active, events = (
        _sample("smgql_subscriptions_active"),
        _sample("smgql_subscription_events_total"),
    )
    subscription = """subscription Follow {
      imageVersionStatus(imageName: "sklearn-kernel", version: 1) { imageVersionStatus } }"""
    with logged("app.subscriptions") as logs, _open(live_url) as socket_:
        socket_.send(
            json.dumps(
                {
                    "id": "s",
                    "type": "subscribe",
                    "payload": {"query": subscription, "operationName": "Follow"},
                }
            )
        )
        # A settled version: its one state, then the end.
        event = json.loads(socket_.recv(timeout=10))
        assert event["payload"]["data"]["imageVersionStatus"]["imageVersionStatus"] == "CREATED"
        assert json.loads(socket_.recv(timeout=10)) == {"id": "s", "type": "complete"}
    completed = logs.wait_for("subscription_completed")
    started = logs.wait_for("subscription_started")
    for line in started, completed:
        assert (line["operationName"], line["operationId"]) == ("Follow", "s")
        assert len(line["requestId"]) == 32
    assert completed["events"] == 1
    assert completed["durationMs"] >= 0
    assert _sample("smgql_subscription_events_total") == events + 1
    assert _sample("smgql_subscriptions_active") == active


def _frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (the mask of zeros leaves the payload as it is)."""
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def test_a_text_frame_not_utf8_is_closed_by_a_handshake_not_a_drop(live_url: str) -> None:
    """The server sends 1007 and then waits for the client's close frame, reading on: closing
    the connection at once made a client that was still sending draw a reset, which can
    discard the close frame before the client reads it."""
    host, port = live_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            b"GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += raw.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        raw.sendall(_frame(0x1, b"\xc3"))
        close = raw.recv(4096)
        assert close[:4] == bytes([0x88, 2]) + (1007).to_bytes(2, "big")
        # Still open, and reading: a ping is answered, until the client closes too.
        raw.sendall(_frame(0x9, b"ping"))
        assert raw.recv(4096) == bytes([0x8A, 4]) + b"ping"
        raw.sendall(_frame(0x8, (1007).to_bytes(2, "big")))
        assert raw.recv(4096) == b""
