"""Memory a client cannot make the service hold: the service as ``serve`` runs it, asked to keep
what it must not (2,000 persisted queries of 250 KB, 60 responses of 5,000 objects) and sent
large answers by WebSocket clients that never read them. Its resident memory stays within the
configured byte budgets plus MARGIN, and comes back down once the clients are dropped.

The clients that stop reading are dropped by a real timer (WRITE_TIMEOUT, two seconds): the test
waits for the service's log record of each drop.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from app.local_sagemaker import BackgroundEndpoint
from tests.conftest import free_port, running_command
from tests.processes import Running
from tests.readers import websocket_that_stops_reading

MIB = 1024 * 1024
CACHE_BYTES = 64 * MIB
PERSISTED_BYTES = 16 * MIB
MARGIN = 100 * MIB
# What three dropped clients may leave in the process: freed memory a malloc arena keeps.
LEFT_BEHIND = 16 * MIB
WRITE_TIMEOUT = 2
REFS = [{"imageName": "sklearn-kernel", "version": 1}] * 100
# Every field of a version: an answer of 1,000 is about 700 KB, and 20 of them are more than the
# kernel's buffers on loopback hold (4 MB), so the server's own buffer fills.
EVERY_FIELD = (
    "version imageVersionArn imageArn imageVersionStatus baseImage containerImage creationTime"
    " lastModifiedTime jobType processor programmingLang mlFramework horovod releaseNotes"
    " vendorGuidance"
)


def _objects_query(aliases: int, tag: str, fields: str = "version imageVersionArn") -> str:
    """A query for ``fields`` of ``aliases`` x 100 image versions (``tag`` makes it a request
    of its own)."""
    selections = " ".join(
        f"{tag}{i}: imageVersions(refs: $refs) {{ {fields} }}" for i in range(aliases)
    )
    return f"query($refs: [ImageVersionRef!]!) {{ {selections} }}"


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Peak:
    """The highest resident memory of a process, sampled while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.highest = _rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.highest = max(self.highest, _rss(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.highest


@pytest.fixture
def service(endpoint: BackgroundEndpoint) -> Iterator[tuple[str, Running]]:
    port = free_port()
    env = {
        "SMGQL_BACKEND": "local",
        "SMGQL_ENDPOINT_URL": endpoint.url,
        "SMGQL_CACHE": "memory",
        "SMGQL_CACHE_MAX_BYTES": str(CACHE_BYTES),
        "SMGQL_PERSISTED_QUERIES_MAX_BYTES": str(PERSISTED_BYTES),
        "SMGQL_WRITE_TIMEOUT": str(WRITE_TIMEOUT),
        # Not measured for coverage (pyproject's patch = subprocess): tracing would add its
        # own memory and time to what this test measures.
        "COVERAGE_PROCESS_CONFIG": "",
    }
    with running_command(["serve", "--port", str(port)], env=env) as running:
        yield f"http://127.0.0.1:{port}", running


# About 3 minutes on 2 cores, most of it graphql-core lexing 500 MB of persisted queries.
@pytest.mark.timeout(600)
def test_what_clients_send_and_leave_unread_stays_within_the_budgets(
    service: tuple[str, Running],
) -> None:
    url, running = service
    pid = running.process.pid
    with httpx.Client(base_url=url, timeout=60) as http:
        warm = http.post("/graphql", json={"query": "{ __typename }"})
        assert warm.status_code == 200
        baseline = _rss(pid)
        peak = Peak(pid)
        ceiling = baseline + CACHE_BYTES + PERSISTED_BYTES + MARGIN

        # 2,000 persisted queries of 250 KB, each valid, each registered and run.
        padding = "#" + "x" * (250 * 1024) + "\n"
        for index in range(2000):
            query = f"{padding}query Q{index} {{ __typename }}"
            digest = _sha256(query)
            extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
            answer = http.post("/graphql", json={"query": query, "extensions": extensions})
            assert answer.json() == {"data": {"__typename": "Query"}}

        # 60 different responses of 5,000 objects each.
        for index in range(60):
            query = _objects_query(50, f"r{index}_")
            answer = http.post("/graphql", json={"query": query, "variables": {"refs": REFS}})
            assert len(answer.json()["data"]) == 50
        after_requests = _rss(pid)

        # Three WebSocket clients that ask for 20 answers of 1,000 objects and read none.
        with ExitStack() as readers:
            address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
            payloads = [
                {"query": _objects_query(10, f"w{n}_", EVERY_FIELD), "variables": {"refs": REFS}}
                for n in range(20)
            ]
            for _ in range(3):
                readers.enter_context(websocket_that_stops_reading(address, payloads))
            assert running.wait_for("client_stopped_reading", timeout=120, count=3)
        highest = peak.stop()
        assert http.get("/healthz").status_code == 200
        after_readers = _rss(pid)

    report = {
        "baseline": baseline,
        "after_requests": after_requests,
        "peak": highest,
        "after_readers": after_readers,
    }
    print({name: f"{value / MIB:.0f} MiB" for name, value in report.items()})
    assert highest <= ceiling, report
    # What the dropped clients' answers held goes back to the system: they leave at most
    # LEFT_BEHIND (before app.assembly.allocator and the per-socket turns: 91 MiB).
    assert after_readers - after_requests <= LEFT_BEHIND, report


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
