"""``python -m app serve``: the service on one port, in this process or in worker processes.

The port is bound here, before anything serves on it, so the service knows the port it really
has (``--port 0`` binds a free one) and says it once it has started. With ``SMGQL_WORKERS``
above 1, uvicorn's supervisor runs that many processes on it, each building the app from
the environment (uvicorn's factory mode): so the embedded local endpoint, when it is the backend,
starts here, once for all of them, and the settings the command line changed and the endpoint's
URL are exported for them; prometheus-client is given a folder where their metrics meet. Each
serving process, the one or every worker, freezes what its start-up built once it has started
(``app.assembly.collector``).

Each worker serves a listening socket of its own, all bound to the port with ``SO_REUSEPORT``, so
that the kernel spreads new connections over the workers (:class:`WorkerSockets`); one socket
that all of them accepted from went mostly to whichever woke first, as uvloop accepts everything
pending at once, and that worker's queue made the service's p99 while the other idled. The
supervisor holds every socket: the connections the kernel puts on a dead worker's socket wait in
its backlog for the worker started in its place (its start-up's seconds), rather than being reset
or taken by another worker. A worker told to stop closes its socket at once and finishes its
requests; the supervisor closes its copies as soon as it is told to stop (:class:`Supervisor`),
so that from then on a new connection is refused, instead of waiting in a backlog that no process
accepts from until it is reset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import resource
import socket
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

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

# Beside uvicorn's own lines about its workers.
log = logging.getLogger("uvicorn.error")


def serve(settings: Settings) -> None:
    """Serve until stopped."""
    raise_file_limit()
    return_freed_memory()
    sockets = _listening_sockets(settings)
    # The port bound (a free one for --port 0) is the one the service says it serves on.
    settings = dataclasses.replace(settings, port=sockets[0].getsockname()[1])
    try:
        if settings.workers == 1:
            app = frozen_after_start(create_app(settings))
            uvicorn.Server(ServiceConfig(app, settings.server())).run(sockets)
            return
        with contextlib.ExitStack() as stack:
            # One embedded endpoint for every worker, and the settings as the workers' app
            # reads them: from the environment.
            settings = with_embedded_endpoint(settings, stack)
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="smgql-metrics-"))
            os.environ.update(environment_of(settings))
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
            claims = stack.enter_context(tempfile.TemporaryDirectory(prefix="smgql-sockets-"))
            config = ServiceConfig(FACTORY, settings.server(), factory=True)
            supervisor = Supervisor(config, sockets=WorkerSockets(sockets, Path(claims)))
            supervisor.run()
            if supervisor.failed_to_start:
                # As one process whose app cannot start ends.
                sys.exit(STARTUP_FAILURE)
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl-C it handled once it has shut down: a clean stop.
        pass


class Supervisor(Multiprocess):
    """uvicorn's supervisor of the worker processes, which stops listening before it tells them
    to stop (SIGTERM, or Ctrl-C), and keeps a worker on every socket."""

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

    def handle_ttou(self) -> None:
        # uvicorn would stop its last worker, and the socket that worker served would keep
        # taking its share of new connections with no process to accept them.
        if self.processes_num <= len(self.sockets):
            log.warning("Received SIGTTOU: every worker serves a socket of its own, none stops.")
            return
        super().handle_ttou()

    def _stop_listening(self) -> None:
        # No worker is started after this: the supervisor is exiting.
        for sock in self.sockets:
            sock.close()


class WorkerSockets(list[socket.socket]):
    """The supervisor's listening sockets, one per worker, as uvicorn's supervisor hands them to
    every worker it starts (at start, in place of one that died, on SIGHUP and SIGTTIN): whole.

    So each worker claims its socket as it unpickles the list (multiprocessing's spawn pickles a
    worker's arguments into it): the first socket whose file in ``claims`` it can lock
    (``flock``), holding that lock for its life, and closing its copies of the others, which the
    supervisor still holds. The kernel releases a worker's lock when it dies, so the worker
    uvicorn starts in its place claims the same socket, whose backlog waited for it. A worker
    that finds every socket claimed (started beside the one it replaces on SIGHUP, or an extra
    one on SIGTTIN) accepts from all of them, as every worker did from the one socket before: after
    a SIGHUP the first new worker does, and so takes more than its share of connections until it
    is replaced (51 of 64, with two workers).
    """

    def __init__(self, sockets: Iterable[socket.socket], claims: Path) -> None:
        super().__init__(sockets)
        self.claims = claims

    def __reduce__(self) -> tuple[object, ...]:
        return _claimed, (self.claims, list(self))


def _claimed(claims: Path, sockets: list[socket.socket]) -> list[socket.socket]:
    """What a worker serves of ``sockets``: the first it can claim, else all of them."""
    for index, sock in enumerate(sockets):
        claim = os.open(claims / str(index), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(claim)
            continue
        # The descriptor stays open, unreferenced, so that the lock lasts as long as the worker.
        for other in sockets:
            if other is not sock:
                other.close()
        return [sock]
    return sockets


def _listening_sockets(settings: Settings) -> list[socket.socket]:
    """One socket per worker, bound to the service's port and listening from now on: a client
    that connects while the service starts waits in a backlog instead of being refused.

    The first is bound as a single process's is, without ``SO_REUSEPORT``, so it fails as that
    one does when anything already listens on the port (another service started on it). It is
    opened to the others only once it listens: a service starting at the same moment either
    bound before it, and then this one fails, or binds after it listens, and then fails itself.
    """
    config = ServiceConfig(FACTORY, settings.server())
    first = config.bind_socket()
    first.listen(config.backlog)
    if settings.workers == 1:
        return [first]
    first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sockets = [first]
    for _ in range(settings.workers - 1):
        sock = socket.socket(first.family)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(first.getsockname())
        sock.listen(config.backlog)
        sockets.append(sock)
    return sockets


def raise_file_limit() -> None:
    """Let the process open as many descriptors as the system allows it (the soft limit is
    often 1,024, below ``SMGQL_MAX_CONNECTIONS``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard and hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
