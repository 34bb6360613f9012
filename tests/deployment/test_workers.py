"""``serve --workers 2``: two worker processes on one port, one embedded local endpoint that
both use, and metrics summed over both."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port

QUERY = {"query": '{ imageVersion(imageName: "sklearn-kernel") { version } }'}


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def test_two_workers_share_one_port_one_endpoint_and_their_metrics() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SMGQL_LOG_LEVEL": "warning"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the service stopped at start"
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        assert len(_children(process.pid)) >= 2
        with httpx.Client(base_url=url) as http:
            answers = [http.post("/graphql", json=QUERY).json() for _ in range(20)]
            metrics = http.get("/metrics").text
        assert answers == [{"data": {"imageVersion": {"version": 2}}}] * 20
        served = sum(
            float(value)
            for value in re.findall(
                r'smgql_graphql_requests_total\{[^}]*outcome="ok"\} (\S+)', metrics
            )
        )
        assert served == 20
    finally:
        process.terminate()
        process.communicate(timeout=30)
