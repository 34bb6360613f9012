"""``serve --workers 2``: two worker processes on one port, one embedded local endpoint that
both use, and metrics summed over both."""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.processes import SERVICE_READY, started

QUERY = {"query": '{ imageVersion(imageName: "sklearn-kernel") { version } }'}


def _workers(pid: int) -> list[int]:
    """The worker processes of the supervisor ``pid``: its children that multiprocessing
    spawned to run a worker (not its resource tracker)."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in command:
            workers.append(int(stat.parent.name))
    return workers


def test_two_workers_share_one_port_one_endpoint_and_their_metrics() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"]
    env = {"PATH": "/usr/bin:/bin"}
    with started(args, SERVICE_READY, env, stop=signal.SIGTERM, inherit_env=False) as running:
        with httpx.Client(base_url=url) as http:
            answers = [http.post("/graphql", json=QUERY).json() for _ in range(20)]
            metrics = http.get("/metrics").text
        # Once one worker answers, the supervisor has started them all.
        assert len(_workers(running.process.pid)) == 2
        assert answers == [{"data": {"imageVersion": {"version": 2}}}] * 20
        served = sum(
            float(value)
            for value in re.findall(
                r'smgql_graphql_requests_total\{[^}]*outcome="ok"\} (\S+)', metrics
            )
        )
        assert served == 20
