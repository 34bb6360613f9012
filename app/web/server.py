"""How uvicorn serves the service: bounded connections, and clients that cannot hold a socket.

uvicorn closes idle keep-alive connections, but a client that connects and sends nothing, or
sends a request a byte at a time, holds its socket (and a file descriptor) for as long as it
likes: a thousand such sockets exhaust a process's descriptors and take ``/healthz`` down with
it. :func:`guarded_protocol` gives uvicorn's HTTP protocol a clock that runs from the moment a
connection opens or a request begins until the request is fully received, and closes the
connection when it runs out. ``limit_concurrency`` answers 503 beyond a bound instead of
queueing without end, and on SIGTERM uvicorn lets requests in flight finish (for at most
``timeout_graceful_shutdown``) before it stops.
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.settings import Settings


def guarded_protocol(request_read_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, closing connections that take longer than
    ``request_read_timeout`` seconds to deliver a request."""

    class RequestReadGuard(HttpToolsProtocol):
        _read_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._start_read_clock()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._start_read_clock()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._stop_read_clock()

        def handle_websocket_upgrade(self) -> None:
            # The WebSocket protocol takes the connection over from here.
            self._stop_read_clock()
            super().handle_websocket_upgrade()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_read_clock()
            super().connection_lost(exc)

        def _start_read_clock(self) -> None:
            self._stop_read_clock()
            self._read_timer = self.loop.call_later(request_read_timeout, self._too_slow)

        def _stop_read_clock(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def _too_slow(self) -> None:
            self._read_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return RequestReadGuard


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings of the service, beyond host, port and app."""
    return {
        "http": guarded_protocol(settings.request_read_timeout),
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.max_connections,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        "log_config": None,
        # The service logs one structured line per request itself.
        "access_log": False,
    }


def raise_file_limit() -> None:
    """Let the process open as many descriptors as the system allows it (the soft limit is
    often 1,024, below ``SMGQL_MAX_CONNECTIONS``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard and hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
