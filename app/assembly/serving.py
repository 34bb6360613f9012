"""``python -m app serve``: the service on one socket, in this process or in worker processes.

The socket is bound here, before anything serves on it, so the log can name the port it really
has (``--port 0`` binds a free one). The embedded local endpoint, when it is the backend, starts
here too, once: with ``SMGQL_WORKERS`` above 1, uvicorn's supervisor runs that many processes on
the socket, each building the app from the environment (uvicorn's factory mode), so the settings
the command line changed and the endpoint's URL are exported for them, and prometheus-client is
given a folder where their metrics meet.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import tempfile

import uvicorn
from uvicorn.supervisors import Multiprocess

from app.assembly.build import create_app, with_embedded_endpoint
from app.assembly.settings import Settings, environment_of
from app.web.app import GRAPHQL_PATH
from app.web.server import ServiceConfig

log = logging.getLogger("app")

FACTORY = "app.assembly.build:create_app"


def serve(settings: Settings) -> None:
    """Serve until stopped."""
    raise_file_limit()
    try:
        with contextlib.ExitStack() as stack:
            settings = with_embedded_endpoint(settings, stack)
            if settings.workers == 1:
                config = ServiceConfig(create_app(settings), settings.server())
            else:
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="smgql-metrics-"))
                os.environ.update(environment_of(settings))
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
                config = ServiceConfig(FACTORY, settings.server(), factory=True)
            sock = config.bind_socket()
            # Listening from now on: a client that connects while the service starts waits in
            # the backlog, where it would otherwise be refused.
            sock.listen(config.backlog)
            host, port = sock.getsockname()[:2]
            log.info(f"GraphQL (and GraphiQL in a browser) at http://{host}:{port}{GRAPHQL_PATH}")
            if settings.workers == 1:
                uvicorn.Server(config).run(sockets=[sock])
            else:
                Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl-C it handled once it has shut down: a clean stop.
        pass


def raise_file_limit() -> None:
    """Let the process open as many descriptors as the system allows it (the soft limit is
    often 1,024, below ``SMGQL_MAX_CONNECTIONS``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard and hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
