"""How uvicorn serves the service: bounded connections, and clients that cannot hold a socket.

uvicorn closes idle keep-alive connections, but a client that connects and sends nothing, or
sends a request a byte at a time, holds its socket (and a file descriptor) for as long as it
likes: a thousand such sockets exhaust a process's descriptors and take ``/healthz`` down with
it. :class:`RequestReadGuard` gives uvicorn's HTTP protocol a clock that runs from the moment a
connection opens or a request begins until the request is fully received, and closes the
connection when it runs out. A client that stops reading is the same trouble the other way: the
app's ``send`` waits (uvicorn's flow control) with the whole response in memory, for as long as
the client likes. :class:`WriteTimeout` gives both protocols, HTTP and WebSocket, a clock that
runs while the client lets the write buffer stay full, and drops the connection when it runs
out, which ends the waiting ``send`` and frees what it held. ``limit_concurrency`` answers 503
beyond a bound instead of queueing without end, and on SIGTERM uvicorn lets requests in flight
finish (for at most ``timeout_graceful_shutdown``) before it stops.

Which processes serve, and what they serve, is the assembly's business (``app.assembly.serving``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from app.errors import Refusal

log = logging.getLogger("app.web.server")

# Bytes of reason a WebSocket close frame holds (RFC 6455: 125 of payload, 2 of them the code).
MAX_CLOSE_REASON = 123


@dataclass(frozen=True)
class ServerOptions:
    host: str
    # 0: a free port, which the server's socket tells.
    port: int
    workers: int
    # Seconds a client has to send a whole request once it connects or starts one.
    request_read_timeout: float
    # Seconds a client may leave the server's write buffer full (not reading) before it is
    # dropped.
    write_timeout: float
    keep_alive_timeout: float
    # Connections and requests at once; beyond it requests get 503.
    max_connections: int
    # Seconds a stopping server lets requests in flight finish.
    shutdown_timeout: float
    # Largest WebSocket message: a larger one closes the socket (1009), as a larger request body
    # is refused (413).
    max_message_bytes: int
    # Largest request head (request line and headers): beyond it 414 or 431, and the connection
    # is closed before the parser sees more.
    max_head_bytes: int


class ServiceConfig(uvicorn.Config):
    """uvicorn's config for the service, with its one addition: how long a request may take
    to arrive (read by :class:`RequestReadGuard`). A plain class at module level, so that
    uvicorn can hand it to worker processes."""

    def __init__(self, app: Any, options: ServerOptions, **overrides: Any) -> None:
        config: dict[str, Any] = {
            "host": options.host,
            "port": options.port,
            "workers": options.workers,
            "http": f"{__name__}:RequestReadGuard",
            "ws": f"{__name__}:GuardedWebSockets",
            "timeout_keep_alive": options.keep_alive_timeout,
            "limit_concurrency": options.max_connections,
            "timeout_graceful_shutdown": options.shutdown_timeout,
            "ws_max_size": options.max_message_bytes,
            "log_config": None,
            # The service logs one structured line per request itself.
            "access_log": False,
            # Nothing here reads a client's address or scheme, which uvicorn would otherwise
            # rewrite from X-Forwarded-* headers on every request from a trusted peer.
            "proxy_headers": False,
            # No "server: uvicorn" on every answer: it tells a client nothing it needs, and
            # names the software to anyone probing for it (and is one more header uvicorn
            # checks with two regular expressions per answer).
            "server_header": False,
        }
        super().__init__(app, **{**config, **overrides})
        self.request_read_timeout = options.request_read_timeout
        self.write_timeout = options.write_timeout
        self.max_head_bytes = options.max_head_bytes


class WriteTimeout(asyncio.Protocol):
    """Drops a connection whose write buffer stays full for the config's ``write_timeout``:
    mixed into a uvicorn protocol (first among its bases), which asyncio tells when its buffer
    fills (``pause_writing``) and drains (``resume_writing``)."""

    config: uvicorn.Config
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _write_timer: asyncio.TimerHandle | None = None

    def pause_writing(self) -> None:
        super().pause_writing()
        assert isinstance(self.config, ServiceConfig)
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.config.write_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._stop_write_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_write_clock()
        super().connection_lost(exc)

    def _stop_write_clock(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _stalled(self) -> None:
        self._write_timer = None
        client = self.transport.get_extra_info("peername")
        log.warning({"event": "client_stopped_reading", "client": str(client)})
        # Not close(): that would wait to flush the very buffer the client does not read.
        self.transport.abort()


class GuardedWebSockets(WriteTimeout, WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, dropping clients that stop reading, and three fixes to
    how it meets what clients and the app do (found by tests/fuzz/test_fuzz_websockets.py):

    * a text message that is not UTF-8 closes the socket with 1007 without a traceback in the
      log (it is the client's error), by a closing handshake as the app's close does: uvicorn
      closed the connection at once, so a client still sending drew a reset that could discard
      the close frame before it was read (a "drop" the WebSocket fuzz saw now and then);
    * a close reason is cut to the 123 bytes a close frame holds (a longer one, such as a
      syntax error naming a long token, made the frame invalid and dropped the connection);
    * once the socket is closing, the app's sends are a disconnection and its close is done
      already, not errors; a refused handshake (a denial response) is a completed one, not a
      failure to log.
    """

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError:
                self.frames = []
                self._start_closing(1007)
                return
        super().send_receive_event_to_app()

    def _start_closing(self, code: int) -> None:
        """Send a close frame and wait for the client's (or the close timeout) before the
        connection closes, reading on meanwhile (uvicorn discards what comes)."""
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": ""})
        self.conn.send_close(code)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if self.close_sent and kind == "websocket.close":
            return
        if self.close_sent and kind == "websocket.send":
            raise ClientDisconnected()
        if kind == "websocket.close" and message.get("reason"):
            message = {**message, "reason": _close_reason(message["reason"])}
        await super().send(message)
        if kind == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True


class HeadWithBody(asyncio.Transport):
    """A response's transport, as uvicorn's response cycle writes to it: the response's head
    is held until the first bytes of its body, and both go in one write.

    uvicorn writes a head when the app starts its response and the body when the app sends
    it, each at once: two send(2) calls for every answer. On loopback, where the kernel hands
    the bytes to the reader within the call, the second one was a tenth of the CPU of an answer
    from the response cache. A HEAD response writes no body, so its head is not held.
    """

    CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

    def __init__(self, transport: asyncio.Transport, hold: bool) -> None:
        super().__init__()
        self.transport = transport
        self.holding = hold
        self.held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        # The head is the cycle's first write but an interim "100 Continue".
        if self.holding and data != self.CONTINUE:
            self.holding = False
            self.held = bytes(data)
            return
        if self.held is not None:
            data, self.held = self.held + data, None
        self.transport.write(data)

    def close(self) -> None:
        # A response the app gave up on: what uvicorn would have written goes first.
        if self.held is not None:
            self.transport.write(self.held)
            self.held = None
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


def _close_reason(reason: str) -> str:
    """``reason`` cut to fit a close frame (123 bytes of UTF-8), on a character boundary."""
    encoded = reason.encode()
    if len(encoded) <= MAX_CLOSE_REASON:
        return reason
    return encoded[: MAX_CLOSE_REASON - 3].decode(errors="ignore") + "..."


class RequestReadGuard(WriteTimeout, HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections that take longer than the config's
    ``request_read_timeout`` to deliver a request (and, as uvicorn does, those idle for
    ``timeout_keep_alive`` after an answer), refusing a request head (request line and
    headers) larger than ``max_head_bytes``, and dropping clients that stop reading.

    The head is counted as its bytes arrive, before the parser sees them: httptools gathers a
    URL or a header value by appending each piece it is given, which costs the square of its
    size, so a limit checked once the parser is done would come after the cost.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        assert isinstance(config, ServiceConfig)
        self.request_read_timeout = config.request_read_timeout
        self.max_head_bytes = config.max_head_bytes
        # When the request being read must have arrived (None between requests), when an idle
        # kept-alive connection is closed (None but between an answer and the next bytes), and
        # the one timer that checks both.
        self._read_deadline: float | None = None
        self._idle_deadline: float | None = None
        self._clock_timer: asyncio.TimerHandle | None = None
        # Bytes of the head being read (None once its headers are complete), and whether the
        # request line has ended within them.
        self._head_bytes: int | None = 0
        self._request_line_ended = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_read_clock()

    def data_received(self, data: bytes) -> None:
        if self._head_bytes is None:
            super().data_received(data)
            return
        # The parser gets no more of a head than the limit allows; what follows the head (a
        # body, the next request) goes on as usual.
        room = self.max_head_bytes - self._head_bytes
        head, rest = data[:room], data[room:]
        self._head_bytes += len(head)
        self._request_line_ended = self._request_line_ended or b"\n" in head
        super().data_received(head)
        if not rest or self.transport.is_closing():
            return
        if self._head_bytes is None or self._head_bytes == 0:
            self.data_received(rest)
        else:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_read_clock()

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()
        # The request's response cycle, just made (none for a WebSocket upgrade).
        if self.cycle is not None and self.cycle.scope is self.scope:
            hold = self.scope["method"] != "HEAD"
            self.cycle.transport = HeadWithBody(self.transport, hold)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._read_deadline = None
        # What arrives next on this connection is the next request's head.
        self._head_bytes, self._request_line_ended = 0, False

    def on_response_complete(self) -> None:
        # uvicorn's, but for the keep-alive wait, which goes on the connection's clock instead
        # of a timer of its own.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._idle_deadline = self.loop.time() + self.timeout_keep_alive
            self._arm_clock(self._idle_deadline)

    def _unset_keepalive_if_required(self) -> None:
        # uvicorn calls it as bytes arrive and as the connection is lost: the wait is over.
        self._idle_deadline = None

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over from here.
        self._drop_clock()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._drop_clock()
        super().connection_lost(exc)

    # One timer per connection, not one per request and one per answer, as uvicorn has it: a
    # kept-alive connection's requests and answers only move a deadline on, and the timer, when
    # it fires, looks at the deadlines then. Making and cancelling those timers was about 3 % of
    # a kept answer's CPU (2 % the read timer's, 1 % of its instructions the keep-alive's); this
    # timer is made again about once per keep-alive timeout.

    def _start_read_clock(self) -> None:
        self._read_deadline = self.loop.time() + self.request_read_timeout
        self._arm_clock(self._read_deadline)

    def _arm_clock(self, deadline: float) -> None:
        timer = self._clock_timer
        if timer is not None and timer.when() <= deadline:
            return
        if timer is not None:
            timer.cancel()
        self._clock_timer = self.loop.call_at(deadline, self._check_clock)

    def _drop_clock(self) -> None:
        self._read_deadline = self._idle_deadline = None
        if self._clock_timer is not None:
            self._clock_timer.cancel()
            self._clock_timer = None

    def _check_clock(self) -> None:
        self._clock_timer = None
        deadlines = [d for d in (self._read_deadline, self._idle_deadline) if d is not None]
        if not deadlines:
            return
        due = min(deadlines)
        if self.loop.time() < due:
            self._clock_timer = self.loop.call_at(due, self._check_clock)
            return
        self._read_deadline = self._idle_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        """Answer 414 (the URL is still arriving) or 431, and close the connection."""
        self._head_bytes = None
        if self._request_line_ended:
            status, reason = 431, "Request Header Fields Too Large"
            message = f"The request's headers exceed {self.max_head_bytes} bytes."
        else:
            status, reason = 414, "URI Too Long"
            message = f"The request's URL exceeds {self.max_head_bytes} bytes."
        refusal = Refusal(status, message, headers={"Connection": "close"})
        body = refusal.body()
        head = [f"HTTP/1.1 {status} {reason}".encode()]
        head += [name + b": " + value for name, value in refusal.raw_headers(body)]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self._drop_clock()
        self.transport.close()
