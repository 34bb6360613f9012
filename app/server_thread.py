"""Serve an ASGI app with uvicorn on a background thread that has its own event loop.

The embedded local endpoint runs this way beside the service, and tests run the service this way
to talk to it over a real socket. Port 0 binds a free ephemeral port; :attr:`url` tells which.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Literal

import uvicorn
from starlette.types import ASGIApp


class ServerThread:
    def __init__(
        self,
        app: ASGIApp | uvicorn.Config,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["on", "off"] = "off",
        quiet: bool = False,
        sock: socket.socket | None = None,
    ) -> None:
        """Serve ``app``, or a config built elsewhere (the service's ``ServiceConfig``), on a
        socket of its own or on ``sock``, bound already.

        ``quiet`` drops uvicorn's own lines below WARNING from this thread: beside the service,
        "Uvicorn running on http://127.0.0.1:<port>" would name a port nobody should open.
        """
        if isinstance(app, uvicorn.Config):
            config = app
        else:
            # The access log is off: the apps log one structured line per request themselves.
            config = uvicorn.Config(
                app, host=host, port=port, lifespan=lifespan, log_config=None, access_log=False
            )
        self._server = uvicorn.Server(config)
        sockets = None if sock is None else [sock]
        self._thread = threading.Thread(
            target=self._server.run, args=(sockets,), name="uvicorn", daemon=True
        )
        self._quiet = _QuietThread(self._thread) if quiet else None
        self.url = ""

    def start(self) -> str:
        """Start serving; return once the socket accepts connections."""
        if self._quiet is not None:
            UVICORN_LOG.addFilter(self._quiet)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server thread stopped before it started serving")
            self._thread.join(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self._quiet is not None:
            UVICORN_LOG.removeFilter(self._quiet)


# Where uvicorn logs its start, stop and errors (shared by every uvicorn in the process).
UVICORN_LOG = logging.getLogger("uvicorn.error")


class _QuietThread(logging.Filter):
    """Lets through what ``thread`` logs at WARNING and above, and all other threads' lines."""

    def __init__(self, thread: threading.Thread) -> None:
        super().__init__()
        self._thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.thread != self._thread.ident
