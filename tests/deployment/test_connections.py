"""The service as uvicorn serves it, over real sockets: clients that hold a connection without
finishing a request are cut off, a refused body keeps the connection, and a stopping server
lets the requests in flight finish.

The sleeps here are real time on a real socket: a request sent in two parts, half the read
timeout apart, must still be cut off at the timeout (test_a_request_sent_too_slowly_is_closed),
a kept-alive connection's next request has the whole timeout from its own start, not from the
first request's (test_a_slow_request_after_another_has_its_own_timeout), and an idle kept-alive
connection is closed at its keep-alive timeout but not while a request on it is arriving.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.assembly.build import create_app
from app.local_sagemaker import BackgroundEndpoint
from app.server_thread import ServerThread
from app.web.server import ServiceConfig
from tests.conftest import EndpointControl, free_port
from tests.processes import SERVICE_READY, started
from tests.service.conftest import TEST_SETTINGS

READ_TIMEOUT = 0.5
KEEP_ALIVE = 0.3
HEAD_LIMIT = 8 * 1024
BODY_LIMIT = 1024
GRAPHQL_WS = Subprotocol("graphql-transport-ws")


@pytest.fixture
def live(endpoint: BackgroundEndpoint) -> Iterator[tuple[str, int]]:
    yield from _serving(endpoint, request_read_timeout=READ_TIMEOUT, max_head_bytes=HEAD_LIMIT)


@pytest.fixture
def short_keep_alive(endpoint: BackgroundEndpoint) -> Iterator[tuple[str, int]]:
    """A server whose keep-alive timeout is a tenth of its read timeout."""
    yield from _serving(
        endpoint, request_read_timeout=KEEP_ALIVE * 10, keep_alive_timeout=KEEP_ALIVE
    )


def _serving(endpoint: BackgroundEndpoint, **changes: Any) -> Iterator[tuple[str, int]]:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url, **changes)
    server = ServerThread(
        ServiceConfig(create_app(settings), settings.server(), port=0, lifespan="on")
    )
    url = server.start()
    host, port = url.removeprefix("http://").split(":")
    yield host, int(port)
    server.stop()


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (reading whatever it sends first)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    while sock.recv(65536):
        pass
    return time.monotonic() - started


def test_a_connection_that_sends_nothing_is_closed(live: tuple[str, int]) -> None:
    with socket.create_connection(live) as silent:
        assert _closed_within(silent, 5) < READ_TIMEOUT + 1


def test_a_request_sent_too_slowly_is_closed(live: tuple[str, int]) -> None:
    with socket.create_connection(live) as slow:
        slow.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        time.sleep(READ_TIMEOUT / 2)
        slow.sendall(b"Content-Type: application/json\r\n")
        assert _closed_within(slow, 5) < READ_TIMEOUT + 1


@contextmanager
def _answered_once(server: tuple[str, int]) -> Iterator[socket.socket]:
    """A connection to ``server`` whose first request has been answered, kept alive."""
    with socket.create_connection(server) as sock:
        sock.settimeout(5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        yield sock


def test_a_slow_request_after_another_has_its_own_timeout(live: tuple[str, int]) -> None:
    with _answered_once(live) as sock:
        time.sleep(READ_TIMEOUT * 0.6)
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        # Past the first request's deadline, within the second's.
        closed_after = _closed_within(sock, 5)
    assert READ_TIMEOUT * 0.8 < closed_after < READ_TIMEOUT + 1


def test_an_idle_kept_alive_connection_is_closed_at_the_keep_alive_timeout(
    short_keep_alive: tuple[str, int],
) -> None:
    with _answered_once(short_keep_alive) as sock:
        # The connection's clock was set for the request's read timeout, ten times later.
        assert KEEP_ALIVE * 0.8 < _closed_within(sock, 5) < KEEP_ALIVE * 5


def test_a_request_begun_within_the_keep_alive_has_the_read_timeout(
    short_keep_alive: tuple[str, int],
) -> None:
    with _answered_once(short_keep_alive) as sock:
        time.sleep(KEEP_ALIVE / 2)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        # Past the keep-alive deadline of the first answer, well within the read timeout.
        time.sleep(KEEP_ALIVE * 2)
        sock.sendall(b"Host: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_silent_sockets_do_not_stop_others_being_served(live: tuple[str, int]) -> None:
    silent = [socket.create_connection(live) for _ in range(200)]
    try:
        assert httpx.get(f"http://{live[0]}:{live[1]}/healthz").status_code == 200
    finally:
        for sock in silent:
            sock.close()


def _exchange(sock: socket.socket, body: bytes) -> bytes:
    request = (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    sock.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    rest = b""
    while len(rest) < length:
        rest += sock.recv(length - len(rest))
    return head + rest


def test_a_refused_body_keeps_the_connection(live: tuple[str, int]) -> None:
    with socket.create_connection(live) as sock:
        sock.settimeout(5)
        for body in (b"null", b"42", b'"x"', b"true", b"1" * 5_000):
            answer = _exchange(sock, body)
            assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
            assert b'"BAD_REQUEST"' in answer
        answer = _exchange(sock, b'{"query": "{ __typename }"}')
        assert answer.startswith(b"HTTP/1.1 200")


@pytest.fixture
def small_bodies(endpoint: BackgroundEndpoint) -> Iterator[tuple[str, int]]:
    yield from _serving(endpoint, max_body_bytes=BODY_LIMIT)


def _chunked_post(body: bytes) -> bytes:
    """A POST of ``body`` in two chunks, its size declared nowhere."""
    half = len(body) // 2
    chunks = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in (body[:half], body[half:]))
    return (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
    )


def test_a_chunked_body_is_counted_against_the_limit(small_bodies: tuple[str, int]) -> None:
    # No Content-Length to judge it by: the body is refused once its parts pass the limit.
    padded = json.dumps({"query": "{ __typename }", "padding": "x" * BODY_LIMIT}).encode()
    answer = _answer_to(small_bodies, _chunked_post(padded))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
    assert b'"code":"BAD_REQUEST"' in answer
    answer = _answer_to(small_bodies, _chunked_post(b'{"query": "{ __typename }"}'))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]
    assert answer.endswith(b'{"data":{"__typename":"Query"}}')


def test_a_stopping_server_finishes_the_requests_in_flight(
    endpoint: BackgroundEndpoint, control: EndpointControl
) -> None:
    port = free_port()
    control.set_faults(latencyMs=1_000)
    args = [sys.executable, "-m", "app", "serve", "--port", str(port)]
    env = {"SMGQL_BACKEND": "local", "SMGQL_ENDPOINT_URL": endpoint.url}
    with started(args, SERVICE_READY, env) as running:
        url = f"http://127.0.0.1:{port}"
        answers: list[httpx.Response] = []
        query = {"query": '{ imageVersion(imageName: "sklearn-kernel") { version } }'}
        in_flight = threading.Thread(
            target=lambda: answers.append(httpx.post(f"{url}/graphql", json=query, timeout=30))
        )
        in_flight.start()
        assert endpoint.endpoint.faults.wait_in_flight(30), "the request never reached SageMaker"
        running.process.send_signal(signal.SIGTERM)
        in_flight.join(30)
        # uvicorn drains, then ends by the signal it caught, as the default handler would.
        assert running.process.wait(30) in (0, -signal.SIGTERM)
    [answer] = answers
    assert answer.json() == {"data": {"imageVersion": {"version": 2}}}


def test_a_websocket_message_over_the_body_limit_closes_the_socket(
    live: tuple[str, int],
) -> None:
    # The body limit (SMGQL_MAX_BODY_BYTES, 256 KiB by default) holds for WebSocket messages
    # too: a larger connection_init is refused as too big (1009), not parsed and acknowledged.
    host, port = live
    init = {"type": "connection_init", "payload": {"padding": "x" * (300 * 1024)}}
    with connect(f"ws://{host}:{port}/graphql", subprotocols=[GRAPHQL_WS]) as socket_:
        socket_.send(json.dumps(init))
        with pytest.raises(ConnectionClosed) as closed:
            socket_.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


def test_a_websocket_message_within_the_limit_is_served(live: tuple[str, int]) -> None:
    host, port = live
    init = {"type": "connection_init", "payload": {"padding": "x" * (200 * 1024)}}
    with connect(f"ws://{host}:{port}/graphql", subprotocols=[GRAPHQL_WS]) as socket_:
        socket_.send(json.dumps(init))
        assert json.loads(socket_.recv(timeout=10)) == {"type": "connection_ack"}


def _answer_to(live: tuple[str, int], head: bytes) -> bytes:
    """What the server sends back for ``head`` (all it sends, until it closes)."""
    with socket.create_connection(live, timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_a_url_longer_than_the_head_limit_is_414_at_once(live: tuple[str, int]) -> None:
    # Still in the request line when the limit is passed: the URL is what is too long.
    answer = _answer_to(live, b"GET /graphql?query=" + b"x" * (HEAD_LIMIT + 1))
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:100]
    assert b'"code":"BAD_REQUEST"' in answer


def test_headers_larger_than_the_head_limit_are_431_at_once(live: tuple[str, int]) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"x" * (HEAD_LIMIT + 1)
    answer = _answer_to(live, head)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


def test_a_head_within_the_limit_is_served_on_a_kept_alive_connection(
    live: tuple[str, int],
) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"x" * (HEAD_LIMIT // 2)
    with socket.create_connection(live, timeout=10) as sock:
        for _ in range(3):
            sock.sendall(request + b"\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_a_body_larger_than_the_head_limit_sent_with_its_head_is_served(
    live: tuple[str, int],
) -> None:
    query = json.dumps({"query": "{ __typename }", "padding": "x" * (HEAD_LIMIT * 3)})
    head = (
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(query)}\r\nConnection: close\r\n\r\n"
    )
    answer = _answer_to(live, head.encode() + query.encode())
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]
    assert answer.endswith(b'{"data":{"__typename":"Query"}}')


def _one_read(live: tuple[str, int], request: bytes) -> bytes:
    """What one read gets of the answer to ``request`` on a fresh connection: the read waits
    before the server writes anything, so it returns with the server's first write."""
    with socket.create_connection(live, timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(65536)


def test_an_answer_comes_in_one_write_with_its_head(endpoint: BackgroundEndpoint) -> None:
    # A server process of its own: one in this process would write both parts while the
    # reading thread waits for the interpreter's lock, and the read would see both either way.
    port = free_port()
    args = [sys.executable, "-m", "app", "serve", "--port", str(port)]
    env = {"SMGQL_BACKEND": "local", "SMGQL_ENDPOINT_URL": endpoint.url}
    with started(args, SERVICE_READY, env):
        answer = _one_read(("127.0.0.1", port), b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), answer[:100]
    assert json.loads(body) == {"status": "ok"}
    # The served process names no software to a client.
    assert b"\r\nserver:" not in head.lower(), head


def test_a_head_request_is_answered_with_its_head_alone(live: tuple[str, int]) -> None:
    with socket.create_connection(live, timeout=10) as sock:
        sock.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert answer.endswith(b"\r\n\r\n"), answer
        # The connection is kept, and serves the next request whole.
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).endswith(b'{"status":"ok"}')


def test_a_client_that_expects_100_continue_gets_it_before_the_answer(
    live: tuple[str, int],
) -> None:
    body = b'{"query": "{ __typename }"}'
    head = (
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(live, timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b'{"data":{"__typename":"Query"}}')
