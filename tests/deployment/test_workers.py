"""``serve --workers 2``: two worker processes on one port, one embedded local endpoint that
both use, and metrics summed over both (each worker's counted within a second); the kernel
spreads connections over the workers, each on a socket of its own, and a worker's replacement
takes its socket over; a supervisor told to stop refuses new connections while its workers
finish the requests in flight.

One wait here is real time: the other worker's requests reach the shared metrics by a timer in
that process, so a scrape is repeated, a tenth of the interval apart, until it sees them."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.config import STARTUP_FAILURE

from app.local_sagemaker import BackgroundEndpoint
from app.metrics import COUNT_INTERVAL
from tests.conftest import EndpointControl, free_port, insert_version_of_the_future
from tests.processes import ROOT, SERVICE_READY, started

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


def _serving_workers(port: int, connections: int) -> list[str]:
    """Which worker served each of ``connections`` keep-alive connections opened at once: the
    process prefix of the request id it gave (app.web.middleware.request_id_of)."""
    with contextlib.ExitStack() as stack:
        opened = [
            stack.enter_context(contextlib.closing(http.client.HTTPConnection("127.0.0.1", port)))
            for _ in range(connections)
        ]
        for connection in opened:
            connection.connect()
        workers = []
        for connection in opened:
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
            workers.append(answer.headers["X-Request-ID"][:16])
        return workers


def test_the_kernel_spreads_connections_over_the_workers() -> None:
    port = free_port()
    args = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"]
    # Connected once the port listens and the supervisor starts the workers: on one socket that
    # both accept from, the first to start took every connection waiting; each worker on a
    # socket of its own gets those the kernel put there. Both get some unless the kernel's hash
    # put all 32 on one socket (a chance of 2**-31).
    with started(args, "Started parent process", stop=signal.SIGTERM) as running:
        served = _serving_workers(port, 32)
        assert len(set(served)) == 2, (served, running.log)
        # Each worker counts its requests into the shared metrics within a second (the
        # scraped one at once): scrapes of one worker (one kept-alive connection) soon see
        # all 32, the other worker's too.
        deadline = time.monotonic() + 10 * COUNT_INTERVAL
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as scraper:
            while (counted := _healthz_counted(scraper)) < 32 and time.monotonic() < deadline:
                time.sleep(COUNT_INTERVAL / 10)
        assert counted == 32


def _healthz_counted(scraper: httpx.Client) -> float:
    """The /healthz requests a scrape counts, over the workers."""
    metrics = scraper.get("/metrics").text
    pattern = r'smgql_http_request_seconds_count\{[^}]*route="/healthz"[^}]*\} (\S+)'
    return sum(float(value) for value in re.findall(pattern, metrics))


def test_the_supervisor_keeps_a_worker_on_every_socket() -> None:
    port = free_port()
    args = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"]
    with started(args, SERVICE_READY, stop=signal.SIGTERM) as running:
        before = set(_serving_workers(port, 32))
        assert len(before) == 2, (before, running.log)
        victim = _workers(running.process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        assert running.wait_for(rf"Child process \[{victim}\] died"), running.log
        # The dead worker's socket keeps the connections the kernel puts there until its
        # replacement serves them; the other worker does not take them.
        after = set(_serving_workers(port, 32))
        assert len(after) == 2, (after, running.log)
        assert len(after - before) == 1, (before, after)
        # Told to run one worker fewer, it keeps both: one socket would have none.
        running.process.send_signal(signal.SIGTTOU)
        assert running.wait_for("Received SIGTTOU: every worker serves"), running.log
        assert set(_serving_workers(port, 32)) == after


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_service_on_the_same_port_fails_to_start(workers: int) -> None:
    port = free_port()
    args = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers"]
    with started([*args, "2"], SERVICE_READY, stop=signal.SIGTERM):
        second = subprocess.run(
            [*args, str(workers)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
        assert second.returncode == STARTUP_FAILURE, second.stdout
        assert "Address already in use" in second.stdout
        # The first service still has all its port: every connection reaches one of its workers.
        assert len(set(_serving_workers(port, 32))) == 2


def test_a_stopping_supervisor_refuses_new_connections_while_workers_drain(
    endpoint: BackgroundEndpoint, control: EndpointControl
) -> None:
    port = free_port()
    control.set_faults(latencyMs=5_000)
    args = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"]
    env = {"SMGQL_BACKEND": "local", "SMGQL_ENDPOINT_URL": endpoint.url}
    with started(args, SERVICE_READY, env, stop=signal.SIGTERM) as running:
        answers: list[httpx.Response] = []
        in_flight = threading.Thread(
            target=lambda: answers.append(
                httpx.post(f"http://127.0.0.1:{port}/graphql", json=QUERY, timeout=30)
            )
        )
        in_flight.start()
        assert endpoint.endpoint.faults.wait_in_flight(30), "the request never reached SageMaker"
        running.process.send_signal(signal.SIGTERM)
        # Each worker has closed its listening socket once it says so: the one serving the
        # request waits for its connection, the other goes on to stop its app.
        assert running.wait_for("Waiting for connections to close"), running.log
        assert running.wait_for("Waiting for application shutdown"), running.log
        # Nothing listens any more: a new connection is refused at once, not left in a backlog
        # that no process accepts from, to be reset when the supervisor exits.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        in_flight.join(30)
        assert running.process.wait(30) == 0
    [answer] = answers
    assert answer.json() == {"data": {"imageVersion": {"version": 2}}}


def _records(log: str) -> list[dict[str, Any]]:
    """Every line of ``log`` as the JSON object it must be."""
    records = []
    for line in log.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}\n{log}") from None
    return records


def test_workers_log_requests_and_unexpected_errors_as_json_lines(
    endpoint: BackgroundEndpoint,
) -> None:
    port = free_port()
    name = insert_version_of_the_future(endpoint)
    query = {
        "query": "query($name: String!) { imageVersion(imageName: $name) { vendorGuidance } }",
        "variables": {"name": name},
    }
    args = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"]
    env = {"SMGQL_BACKEND": "local", "SMGQL_ENDPOINT_URL": endpoint.url}
    with started(args, SERVICE_READY, env, stop=signal.SIGTERM) as running:
        answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json=query, timeout=30).json()
        assert running.wait_for('"event":"http_request"'), running.log
    assert answer["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    records = _records(running.log)
    [error] = [record for record in records if record.get("event") == "unexpected_error"]
    assert error["errorId"] == answer["errors"][0]["extensions"]["errorId"]
    assert "UnexpectedAnswer" in error["exception"]
    [request] = [record for record in records if record.get("event") == "http_request"]
    assert request["errorCodes"] == ["INTERNAL_SERVER_ERROR"]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_app_that_cannot_be_built_logs_its_traceback_as_json_and_stops(
    workers: int, tmp_path: Path
) -> None:
    # A JWKS file that exists (the settings check that) but holds no JSON: the app's build
    # fails, in this process or in each worker.
    jwks = tmp_path / "jwks.json"
    jwks.write_text("not JSON")
    args = [sys.executable, "-m", "app", "serve", "--port", "0", "--workers", str(workers)]
    env = {**os.environ, "SMGQL_JWKS_FILE": str(jwks)}
    # A supervisor whose workers cannot start stops, rather than starting them again forever.
    stopped = subprocess.run(
        args,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    assert stopped.returncode != 0, stopped.stdout
    failures = [record for record in _records(stopped.stdout) if "exception" in record]
    assert failures, stopped.stdout
    assert all("JSONDecodeError" in failure["exception"] for failure in failures)
