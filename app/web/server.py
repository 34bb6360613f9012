"""How uvicorn serves the service: its workers, bounded connections, and clients that cannot
hold a socket.

uvicorn closes idle keep-alive connections, but a client that connects and sends nothing, or
sends a request a byte at a time, holds its socket (and a file descriptor) for as long as it
likes: a thousand such sockets exhaust a process's descriptors and take ``/healthz`` down with
it. :class:`RequestReadGuard` gives uvicorn's HTTP protocol a clock that runs from the moment a
connection opens or a request begins until the request is fully received, and closes the
connection when it runs out. ``limit_concurrency`` answers 503 beyond a bound instead of
queueing without end, and on SIGTERM uvicorn lets requests in flight finish (for at most
``timeout_graceful_shutdown``) before it stops.

With ``SMGQL_WORKERS`` above 1, uvicorn's supervisor runs that many processes on one socket.
Each builds the app from the environment, so :func:`serve` exports what the command line
changed, starts the embedded local endpoint once (in the supervisor, for every worker to share)
and gives prometheus-client a folder where the workers' metrics meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import resource
import tempfile
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from app.settings import VARIABLES, Settings


class ServiceConfig(uvicorn.Config):
    """uvicorn's config for the service, with its one addition: how long a request may take
    to arrive (read by :class:`RequestReadGuard`). A plain class at module level, so that
    uvicorn can hand it to worker processes."""

    def __init__(self, app: Any, settings: Settings, **overrides: Any) -> None:
        options: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "workers": settings.workers,
            "http": f"{__name__}:RequestReadGuard",
            "timeout_keep_alive": settings.keep_alive_timeout,
            "limit_concurrency": settings.max_connections,
            "timeout_graceful_shutdown": settings.shutdown_timeout,
            "log_config": None,
            # The service logs one structured line per request itself.
            "access_log": False,
        }
        super().__init__(app, **{**options, **overrides})
        self.request_read_timeout = settings.request_read_timeout


class RequestReadGuard(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections that take longer than the config's
    ``request_read_timeout`` to deliver a request."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        assert isinstance(config, ServiceConfig)
        self.request_read_timeout = config.request_read_timeout
        self._read_timer: asyncio.TimerHandle | None = None

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
        self._read_timer = self.loop.call_later(self.request_read_timeout, self._too_slow)

    def _stop_read_clock(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _too_slow(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def serve(settings: Settings) -> None:
    """Serve until stopped: in this process, or in ``settings.workers`` worker processes."""
    raise_file_limit()
    try:
        if settings.workers == 1:
            from app.main import create_app

            uvicorn.Server(ServiceConfig(create_app(settings), settings)).run()
            return
        with contextlib.ExitStack() as stack:
            settings = _shared_endpoint(settings, stack)
            metrics_folder = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="smgql-metrics-")
            )
            os.environ.update(_environment(settings))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_folder
            config = ServiceConfig("app.main:app", settings)
            Multiprocess(config, sockets=[config.bind_socket()]).run()
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl-C it handled once it has shut down: a clean stop.
        pass


def _shared_endpoint(settings: Settings, stack: contextlib.ExitStack) -> Settings:
    """With the embedded local endpoint, start it here, once, for every worker (and stop it
    with ``stack``)."""
    if settings.backend != "local" or settings.endpoint_url is not None:
        return settings
    from app.local_sagemaker import BackgroundEndpoint, EndpointOptions

    options = EndpointOptions(db=settings.local_db, region=settings.region)
    endpoint = stack.enter_context(BackgroundEndpoint(options))
    return dataclasses.replace(settings, endpoint_url=endpoint.url)


def _environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the variables a worker reads them from (set ones only)."""
    exported = {}
    for variable in VARIABLES:
        value = getattr(settings, variable.field)
        if value is None or value == ():
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, tuple):
            value = ",".join(value)
        exported[variable.name] = str(value)
    return exported


def raise_file_limit() -> None:
    """Let the process open as many descriptors as the system allows it (the soft limit is
    often 1,024, below ``SMGQL_MAX_CONNECTIONS``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard and hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
