"""Server processes the tests start: each is ready when its log says so, not when a poll finds
it answering.

A server writes a line when it accepts connections (the service: "GraphQL ... at http://", after
it has bound and started listening on its socket; uvicorn: "Uvicorn running on"; Redis: "Ready to
accept connections"). :func:`started` reads the process's output on a thread of its own (so a
chatty process never blocks on a full pipe), and returns as soon as that line appears, or fails
with the log when the process exits first or the line does not come within ``timeout``. A test
waits for a later state of a running process the same way: :meth:`Running.wait_for` a line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def answer_of_fresh_python(program: str, *arguments: str, **environ: str) -> Any:
    """What ``program`` prints last, as JSON, run with ``arguments`` in an interpreter of its
    own (so what it imports or sets up is its alone), with no ``OTEL_*`` variable but
    ``environ``'s."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    ended = subprocess.run(
        [sys.executable, "-c", program, *arguments],
        cwd=ROOT,
        env={**inherited, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(ended.stdout.splitlines()[-1])


# What each kind of server logs once it accepts connections.
SERVICE_READY = r"GraphQL \(and GraphiQL in a browser\) at http://"
UVICORN_READY = r"Uvicorn running on http://"
REDIS_READY = r"Ready to accept connections"


@dataclass
class Running:
    """A started process and its output so far (all of it, once it has stopped)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    # Whether the output has ended (the process is gone), and what its reader notifies as each
    # line arrives and when the output ends.
    ended: bool = False
    arrivals: threading.Condition = field(default_factory=threading.Condition)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 30, count: int = 1) -> bool:
        """Block until ``count`` lines of the output match ``pattern``; False when the output
        ends without them or they do not come within ``timeout``."""
        matching = re.compile(pattern)

        def found() -> bool:
            return sum(1 for line in self.lines if matching.search(line)) >= count

        with self.arrivals:
            self.arrivals.wait_for(lambda: self.ended or found(), timeout)
            return found()

    # As a finished command is read: its exit code (None while it runs) and what it wrote.
    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def stderr(self) -> str:
        return self.log


@contextmanager
def started(
    args: Sequence[str],
    ready: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    stop: signal.Signals = signal.SIGINT,
    inherit_env: bool = True,
) -> Iterator[Running]:
    """Run ``args`` (from the project's root, with ``env`` added to this environment, or alone
    without ``inherit_env``) until its output matches ``ready``; on exit, send it ``stop`` and
    wait for it (killed after 20 s)."""
    process = subprocess.Popen(
        list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**(os.environ if inherit_env else {}), **(env or {})},
        cwd=ROOT,
    )
    running = Running(process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with running.arrivals:
                running.lines.append(line)
                running.arrivals.notify_all()
        with running.arrivals:
            running.ended = True
            running.arrivals.notify_all()

    reader = threading.Thread(target=read, name=f"log of {args[0]}", daemon=True)
    reader.start()
    try:
        if not running.wait_for(ready, timeout) or process.poll() is not None:
            raise AssertionError(f"{' '.join(args)} did not start:\n{running.log}")
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(stop)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(10)
