"""Clients that stop reading, for the tests of what the server does about them.

Kernel buffers on loopback hold megabytes, which would hide a client that does not read: these
clients' sockets get a small receive buffer, and the WebSocket client library (which reads in
the background into a queue) is held to one message and sends no pings.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import connect
from websockets.typing import Subprotocol

SMALL_BUFFER = 4096


def socket_that_stops_reading(address: tuple[str, int]) -> socket.socket:
    """A connected socket with a small receive buffer: read nothing, and the server's fills."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    client.connect(address)
    return client


@contextmanager
def websocket_that_stops_reading(
    address: tuple[str, int], payloads: Sequence[Mapping[str, Any]]
) -> Iterator[None]:
    """A graphql-transport-ws session that subscribes with each of ``payloads`` and reads
    nothing after its acknowledgement."""
    host, port = address
    with connect(
        f"ws://{host}:{port}/graphql",
        sock=socket_that_stops_reading(address),
        subprotocols=[Subprotocol("graphql-transport-ws")],
        compression=None,
        max_queue=1,
        ping_interval=None,
        # The server drops the connection without a closing handshake: do not wait for one.
        close_timeout=0.1,
    ) as session:
        session.send(json.dumps({"type": "connection_init"}))
        assert json.loads(session.recv(timeout=10)) == {"type": "connection_ack"}
        for id_, payload in enumerate(payloads):
            session.send(json.dumps({"id": str(id_), "type": "subscribe", "payload": payload}))
        yield
