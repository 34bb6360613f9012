"""``python -m app serve``: the service on one socket, in this process or in worker processes.

The socket is bound here, before anything serves on it, so the service knows the port it really
has (``--port 0`` binds a free one) and says it once it has started. With ``SMGQL_WORKERS``
above 1, uvicorn's supervisor runs that many processes on the socket, each building the app from
the environment (uvicorn's factory mode): so the embedded local endpoint, when it is the backend,
starts here, once for all of them, and the settings the command line changed and the endpoint's
URL are exported for them; prometheus-client is given a folder where their metrics meet. Each
serving process, the one or every worker, freezes what its start-up built once it has started
(``app.assembly.collector``).

Every worker holds the listening socket, and so does the supervisor that handed it to them. A
worker told to stop closes its copy at once and finishes its requests; the supervisor closes its
own as soon as it is told to stop (:class:`Supervisor`), so that from then on a new connection is
refused, instead of waiting in a backlog that no process accepts from until it is reset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import socket
import sys
import tempfile

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from app.assembly.allocator import return_freed_memory
from app.assembly.build import create_app, with_embedded_endpoint
from app.assembly.collector import frozen_after_start
from app.assembly.settings import Settings, environment_of
from app.web.server import ServiceConfig

# What each worker process builds its app with (uvicorn's factory mode).
FACTORY = "app.assembly.build:worker_app"


def serve(settings: Settings) -> None:
    """Serve until stopped."""
    raise_file_limit()
    return_freed_memory()
    sock = _listening_socket(settings)
    # The port bound (a free one for --port 0) is the one the service says it serves on.
    settings = dataclasses.replace(settings, port=sock.getsockname()[1])
    try:
        if settings.workers == 1:
            app = frozen_after_start(create_app(settings))
            uvicorn.Server(ServiceConfig(app, settings.server())).run([sock])
            return
        with contextlib.ExitStack() as stack:
            # One embedded endpoint for every worker, and the settings as the workers' app
            # reads them: from the environment.
            settings = with_embedded_endpoint(settings, stack)
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="smgql-metrics-"))
            os.environ.update(environment_of(settings))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
            config = ServiceConfig(FACTORY, settings.server(), factory=True)
            supervisor = Supervisor(config, sockets=[sock])
            supervisor.run()
            if supervisor.failed_to_start:
                # As one process whose app cannot start ends.
                sys.exit(STARTUP_FAILURE)
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl-C it handled once it has shut down: a clean stop.
        pass


class Supervisor(Multiprocess):
    """uvicorn's supervisor of the worker processes, which stops listening before it tells them
    to stop (SIGTERM, or Ctrl-C)."""

    def handle_term(self) -> None:
        self._stop_listening()
        super().handle_term()

    def handle_int(self) -> None:
        self._stop_listening()
        super().handle_int()

    @property
    def failed_to_start(self) -> bool:
        """Whether the supervisor stopped because a worker could not start its app."""
        return any(process.exitcode == STARTUP_FAILURE for process in self.processes)

    def _stop_listening(self) -> None:
        # No worker is started after this: the supervisor is exiting.
        for sock in self.sockets:
            sock.close()


def _listening_socket(settings: Settings) -> socket.socket:
    """The service's socket, bound and listening from now on: a client that connects while the
    service starts waits in the backlog instead of being refused."""
    config = ServiceConfig(FACTORY, settings.server())
    sock = config.bind_socket()
    sock.listen(config.backlog)
    return sock


def raise_file_limit() -> None:
    """Let the process open as many descriptors as the system allows it (the soft limit is
    often 1,024, below ``SMGQL_MAX_CONNECTIONS``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard and hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
