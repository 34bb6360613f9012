"""The transport's HTTP/1.1: keep-alive connections to one origin, for signed POSTs.

aiohttp carried these requests before. Profiled on this service with its caches off (every
GraphQL request one ``DescribeImageVersion`` to the local endpoint), aiohttp took about 23 % of
the service's CPU per request: its session and request objects, the stream writer, the response
handler, the payload registry, per-request timers, yarl URLs and multidict headers. Almost none
of that is needed here: the transport's requests are all alike, a body and headers botocore
serialized and the signer signed, POSTed to one origin; and their answers are small, read
whole, and parsed by botocore. So this module writes a request as one buffer and reads the
answer with httptools (uvicorn's parser, llhttp): one asyncio :class:`asyncio.Protocol` per
connection with a future per exchange, and a pool of them.

What it does:

* at most ``size`` connections, and callers beyond them wait their turn, first come first
  served (an ``asyncio.Semaphore`` is FIFO);
* keep-alive: an answered connection goes back to the pool, unless the answer said
  ``Connection: close`` (or was delimited by the close); a pooled connection idle for
  ``idle_lifetime`` seconds by the injected ``clock``, or one its peer closed, is closed when a
  request next asks for a connection, instead of being handed out;
* a request whose *reused* connection was closed before any of the answer arrived is sent again
  at once on a new connection (why, and why it is harmless here: :mod:`.transport`);
* answers with a ``Content-Length``, chunked, or delimited by the close of the connection; the
  headers in a dict with lower-case names (every reader, botocore's parsers and retry handlers
  included, asks for lower-case names), repeated headers joined with ``", "``;
* HTTPS verified against the given ``ssl.SSLContext`` (and the endpoint's host name), and a
  proxy: an ``http://`` endpoint through it by absolute-form requests, an ``https://`` one
  through a ``CONNECT`` tunnel and TLS inside it (``loop.start_tls``), with ``Proxy-
  Authorization: Basic`` when the proxy's URL names a user; the proxy itself over HTTP or HTTPS;
* a connect timeout (TCP, the tunnel and the TLS handshake together) and a read timeout: the
  longest wait for the next bytes of an answer. One timer per exchange carries it: a read only
  notes its time, and the timer, when it fires early, is set again for the moved deadline.

What it deliberately does not do: other methods than POST, a body sent in parts, pipelining,
``Expect: 100-continue`` (no interim answer is expected, and none is read), redirects,
decompression (``Content-Encoding`` is left to the reader; AWS's JSON answers have none),
cookies, any header beyond what the caller gives, ``Host`` and ``Content-Length`` (the SigV4
signature covers the headers sent; ``Host`` is the endpoint's host and port, the port left out
when it is the scheme's, as botocore signs it), and a cap on an answer's size (the answers come
from AWS, or the endpoint the operator configured).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import SplitResult, unquote, urlsplit

import httptools

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(slots=True)
class Response:
    """An answer, under the names botocore's ``AWSResponse`` gives them (its retry handlers and
    parsers read these)."""

    status_code: int
    # Lower-case names.
    headers: dict[str, str]
    content: bytes


class HttpFailure(Exception):
    """An exchange that ended without an answer."""


class CouldNotConnect(HttpFailure):
    """No connection: refused, an unknown host, a certificate that failed verification, or a
    proxy that would not open the tunnel."""


class ConnectTimedOut(HttpFailure):
    """The connection (with its tunnel and TLS handshake) took longer than the connect
    timeout."""


class ReadTimedOut(HttpFailure):
    """The answer's next bytes took longer than the read timeout to arrive."""


class ConnectionLost(HttpFailure):
    """The connection ended before the answer was whole (closed, reset, a body cut off), or
    the answer was not HTTP."""


class _ClosedBeforeAnswer(ConnectionLost):
    """The connection was closed or reset before any of the answer arrived."""


class ConnectionPool:
    """Keep-alive HTTP/1.1 connections to the origin of ``url``, for POSTs.

    The pool belongs to the event loop of its first request (its connections are that loop's
    transports); :meth:`aclose` closes every connection.
    """

    def __init__(
        self,
        url: str,
        *,
        size: int,
        connect_timeout: float,
        read_timeout: float,
        idle_lifetime: float,
        ssl_context: ssl.SSLContext | None,
        proxy: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``ssl_context`` verifies an ``https://`` endpoint and an ``https://`` proxy (it is
        required when either is HTTPS). ``clock`` times how long pooled connections idle."""
        endpoint = urlsplit(url)
        self._endpoint_ssl = _verifying(endpoint, ssl_context)
        self._origin = f"{endpoint.scheme}://{endpoint.netloc}"
        self._host = endpoint.hostname or ""
        default_port = _DEFAULT_PORTS[endpoint.scheme]
        self._port = endpoint.port or default_port
        # The Host header: as botocore signs it, the port only when it is not the scheme's.
        named = f"[{self._host}]" if ":" in self._host else self._host
        self._authority = (
            named if endpoint.port in (None, default_port) else f"{named}:{self._port}"
        )
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._idle_lifetime = idle_lifetime
        self._clock = clock
        self._turns = asyncio.Semaphore(size)
        # Answered connections, the longest idle first, with the time each went idle.
        self._idle: collections.deque[tuple[_Connection, float]] = collections.deque()
        self._open: set[_Connection] = set()
        # Through a proxy: an http:// endpoint gets absolute-form requests, each with the
        # proxy's credentials; an https:// one a tunnel, whose CONNECT carries them.
        self._proxy: tuple[str, int] | None = None
        self._proxy_ssl: ssl.SSLContext | None = None
        self._tunnel: bytes | None = None
        self._absolute_form = False
        credentials = ""
        if proxy is not None:
            via = urlsplit(proxy)
            if via.scheme not in _DEFAULT_PORTS or not via.hostname:
                raise ValueError(
                    f"Unsupported proxy {via.scheme}://{via.hostname}: the transport speaks to"
                    " http:// and https:// proxies only"
                )
            self._proxy_ssl = _verifying(via, ssl_context)
            self._proxy = (via.hostname or "", via.port or _DEFAULT_PORTS[via.scheme])
            if via.username is not None:
                user = f"{unquote(via.username)}:{unquote(via.password or '')}"
                credentials = (
                    f"Proxy-Authorization: Basic {base64.b64encode(user.encode()).decode()}\r\n"
                )
            if endpoint.scheme == "https":
                target = f"{named}:{self._port}"
                connect = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{credentials}\r\n"
                self._tunnel = connect.encode("latin-1")
                credentials = ""
            else:
                self._absolute_form = True
        self._proxy_credentials = credentials

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Response:
        """POST ``body`` to ``url`` (on this pool's origin) with ``headers`` for its answer,
        whatever its status. Raises an :class:`HttpFailure` when there is no whole answer.

        A reused connection closed before any of the answer arrived was most likely closed by
        its peer while it idled: the request goes again at once on a new connection, in the
        same turn. Only requests that are safe to send twice belong here."""
        request = self._request(url, headers, body)
        async with self._turns:
            reused = self._reusable_connection()
            if reused is not None:
                try:
                    return await self._exchange(reused, request)
                except _ClosedBeforeAnswer:
                    pass
            return await self._exchange(await self._connect(), request)

    async def aclose(self) -> None:
        """Close every connection, busy or idle (a busy one's request fails as lost)."""
        for connection in list(self._open):
            connection.close()
        self._idle.clear()

    def _request(self, url: str, headers: Mapping[str, str], body: bytes) -> bytes:
        if not url.startswith(self._origin):
            raise ValueError(f"{url!r} is not on this pool's origin, {self._origin}")
        target = url if self._absolute_form else url[len(self._origin) :] or "/"
        head = [f"POST {target} HTTP/1.1\r\nHost: {self._authority}\r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in headers.items())
        head.append(f"{self._proxy_credentials}Content-Length: {len(body)}\r\n\r\n")
        return "".join(head).encode("latin-1") + body

    def _reusable_connection(self) -> _Connection | None:
        """The connection that went idle last, if one is still open and young enough; the
        ones that idled too long are closed (decided now, by the clock, not by a timer)."""
        now = self._clock()
        idle = self._idle
        while idle and now - idle[0][1] >= self._idle_lifetime:
            idle.popleft()[0].close()
        while idle:
            connection, _ = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _exchange(self, connection: _Connection, request: bytes) -> Response:
        try:
            response = await connection.exchange(request)
        except BaseException:
            # Failed, timed out or cancelled: whatever is left of the answer is on the way.
            connection.close()
            raise
        if connection.reusable:
            self._idle.append((connection, self._clock()))
        else:
            connection.close()
        return response

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection(loop, self._read_timeout, self._open.discard)
        self._open.add(connection)
        try:
            async with asyncio.timeout(self._connect_timeout):
                if self._proxy is None:
                    await loop.create_connection(
                        lambda: connection, self._host, self._port, ssl=self._endpoint_ssl
                    )
                else:
                    host, port = self._proxy
                    await loop.create_connection(
                        lambda: connection, host, port, ssl=self._proxy_ssl
                    )
                    if self._tunnel is not None:
                        assert self._endpoint_ssl is not None
                        await connection.tunnel(self._tunnel, self._endpoint_ssl, self._host)
        except TimeoutError as error:  # before OSError: it is one
            connection.close()
            raise ConnectTimedOut(f"no connection to {self._origin} in time") from error
        except (OSError, HttpFailure) as error:
            connection.close()
            raise CouldNotConnect(f"no connection to {self._origin}: {error}") from error
        except BaseException:
            connection.close()
            raise
        return connection


class _Connection(asyncio.Protocol):
    """One connection: one exchange at a time, its answer parsed by httptools as it arrives
    (this object is the parser's callbacks too)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        read_timeout: float,
        forget: Callable[[_Connection], None],
    ) -> None:
        self._loop = loop
        self._read_timeout = read_timeout
        self._forget = forget
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[Response] | None = None
        # With the tunnel's answer, its head is all there is to wait for.
        self._head_only = False
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._head_arrived = False
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        # Whether the last answer leaves the connection open for another request.
        self.reusable = False

    def exchange(self, request: bytes, *, head_only: bool = False) -> asyncio.Future[Response]:
        """Send ``request``; the future is its answer (only its head with ``head_only``), or
        the failure."""
        answer = self._loop.create_future()
        self._answer = answer
        self._head_only = head_only
        self._headers = {}
        self._body = []
        self._head_arrived = False
        self.reusable = False
        if self.closed or self._transport is None:
            answer.set_exception(_ClosedBeforeAnswer("the connection was closed"))
            return answer
        self._transport.write(request)
        if not head_only:
            self._last_read = self._loop.time()
            self._timer = self._loop.call_at(self._last_read + self._read_timeout, self._read_due)
        return answer

    async def tunnel(self, connect: bytes, context: ssl.SSLContext, host: str) -> None:
        """Through the proxy at the other end, a tunnel to the endpoint (``connect`` asks for
        it), then TLS with the endpoint inside it."""
        head = await self.exchange(connect, head_only=True)
        if not 200 <= head.status_code < 300:
            raise CouldNotConnect(f"the proxy answered CONNECT with {head.status_code}")
        # What follows the tunnel's head is the endpoint's, in a new conversation.
        self._parser = httptools.HttpResponseParser(self)
        assert self._transport is not None
        secure = await self._loop.start_tls(self._transport, self, context, server_hostname=host)
        assert secure is not None  # None only for a server-side handshake
        self._transport = secure

    def close(self) -> None:
        """Close: plainly, with TLS's close_notify first (an upstream that gets no notice
        may keep its side open, waiting for one)."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()  # connection_lost follows
        else:
            self._forget(self)

    # asyncio's callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream's transport (uvloop's are not asyncio.Transport's subclasses).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        answer = self._answer
        if answer is None or answer.done():
            # Bytes nobody asked for (or the rest of an answer given up on): the connection
            # no longer says where an answer starts.
            self.close()
            return
        self._last_read = self._loop.time()
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as error:
            self._fail(ConnectionLost(f"the answer is not HTTP/1.1: {error}"))
            self.close()

    def eof_received(self) -> None:
        # The transport closes itself; connection_lost finishes the exchange.
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._forget(self)
        if self._head_arrived and exc is None and self._delimited_by_close():
            self._finish()
        elif self._head_arrived:
            self._fail(ConnectionLost("the connection ended before the whole answer arrived"))
        else:
            self._fail(_ClosedBeforeAnswer(f"the connection ended unanswered: {exc or 'closed'}"))

    # httptools' callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        kept = self._headers.get(key)
        self._headers[key] = text if kept is None else f"{kept}, {text}"

    def on_headers_complete(self) -> None:
        self._head_arrived = True
        if self._head_only:
            self._finish()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self._parser.should_keep_alive()
        self._finish()

    # the exchange's end

    def _delimited_by_close(self) -> bool:
        """Whether the answer's body ends where the connection does (it has no length)."""
        return (
            "content-length" not in self._headers
            and "chunked" not in self._headers.get("transfer-encoding", "").lower()
        )

    def _read_due(self) -> None:
        due = self._last_read + self._read_timeout
        if self._loop.time() < due:
            self._timer = self._loop.call_at(due, self._read_due)
            return
        self._timer = None
        self._fail(ReadTimedOut(f"no bytes of the answer for {self._read_timeout} s"))
        self.close()

    def _finish(self) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            status = self._parser.get_status_code()
            answer.set_result(Response(status, self._headers, b"".join(self._body)))
        self._stop_timer()

    def _fail(self, error: HttpFailure) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(error)
        self._stop_timer()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _verifying(url: SplitResult, context: ssl.SSLContext | None) -> ssl.SSLContext | None:
    """The TLS context to reach ``url`` with: ``context`` for HTTPS, none for HTTP."""
    if url.scheme == "http":
        return None
    if url.scheme != "https" or context is None:
        raise ValueError(f"cannot reach {url.geturl()!r}: HTTP, or HTTPS with a TLS context")
    return context
