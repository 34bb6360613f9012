"""Load and soak generator: many concurrent clients over a realistic mix of queries.

It starts the local SageMaker endpoint (its demo catalog, with a fixed latency per call, like a
real AWS round trip) and the service against it, each as a subprocess on 127.0.0.1 with free
ports, waits until both are ready, then runs N clients until the deadline. Each client is an
asyncio task with one persistent HTTP/1.1 keep-alive connection (raw asyncio streams, so the
generator costs little next to what it measures), looping over the README's queries:

* ``imageVersion``: one version by alias, every field;
* ``imageVersions``: 10 refs (by version, by alias, latest, repeats) and one missing image;
* ``images``: a page of images with their latest versions, then the next page by its cursor;
* ``history``: an image's versions with their aliases, and a version's image;
* ``bad-input``: now and then a deliberate mistake that must come back with its error code.

Before the load, it asks the service once for the catalog (images, versions, aliases) and checks
every answer under load against it: the right version at the right index, the right page. Error
codes are counted from ``errors[].extensions.code``: the expected ones (the missing image's
``NOT_FOUND``, the bad inputs' codes) apart from the unexpected ones.

Progress goes to stderr every 5 s; at the end one table goes to stdout: requests, req/s, latency
percentiles (overall and per query), HTTP statuses, error codes, transport errors, the service's
RSS (before, after, peak, from /proc) and CPU time per request. ``--soak`` is a long run that
also samples the RSS every 10 s and prints the series. Both processes are stopped at the end
(SIGINT, then wait), also on error or Ctrl-C (the first Ctrl-C ends the run early and still
reports; a second one aborts). Everything runs on loopback and stops by itself. The exit code is
1 if anything unexpected happened (a 5xx or other unexpected status, a transport error, an
unexpected or missing error code, a wrong answer), 2 if the stack did not start, 130 if
interrupted.

    .venv/bin/python scripts/load.py [--clients 64] [--seconds 60] [--latency-ms 20]
    .venv/bin/python scripts/load.py --soak [--seconds 300]
    .venv/bin/python scripts/load.py --redis [--stall-redis-at 20 --stall-for 20]
    .venv/bin/python scripts/load.py --idle-gaps 6 [--idle-every 15]
    .venv/bin/python scripts/load.py --url http://127.0.0.1:8000 [--pid PID]

With ``--redis`` the service keeps its cache in a Redis started here too (``redis-server`` on the
PATH, on loopback, saving nothing). ``--stall-redis-at T --stall-for D`` then stalls that Redis
for D seconds, T seconds into the load (``DEBUG SLEEP D`` on a connection of its own), asks
``/readyz`` in the middle of the stall, and reports req/s, latency and unexpected answers before,
during and after it: the service must keep answering, from SageMaker, while Redis sleeps.

``--idle-gaps D`` makes every client pause at the same time for D seconds after each
``--idle-every`` seconds of load (each gap starts once the requests in flight are answered).
Longer than the upstream's keep-alive (the local endpoint's uvicorn drops a connection idle for
5 s), a gap leaves the service's pooled connections to SageMaker idle until the upstream closes
them, which is when a pool that reuses them anyway answers the first requests after the gap with
errors. Each client closes its own connection as it pauses, as a client with a shorter idle
lifetime than the service's keep-alive would, so that what the gap exposes is the service's side
only. The gaps are left out of req/s (overall, per query, per stall phase and in the progress
lines); the report says how many there were and how long they lasted.

With ``--url`` it drives a service that is already running (it expects a catalog with at least
one image with versions, such as the demo one); ``--latency-ms`` then does not apply, and the
RSS and CPU are measured only when ``--pid`` names the service's process.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import ctypes
import dataclasses
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
STARTUP_SECONDS = 60.0
PROGRESS_SECONDS = 5.0
RSS_SAMPLE_SECONDS = 1.0
SOAK_SAMPLE_SECONDS = 10.0
MISSING_IMAGE = "no-such-image-load-test"

KIND_VERSION = "imageVersion"
KIND_VERSIONS = "imageVersions"
KIND_IMAGES = "images"
KIND_HISTORY = "history"
KIND_BAD = "bad-input"
# How often each kind of query is sent, relative to the others.
MIX = {KIND_VERSION: 35, KIND_VERSIONS: 20, KIND_IMAGES: 15, KIND_HISTORY: 25, KIND_BAD: 5}

Json = Any
Check = Callable[[Json], str | None]


class StartError(Exception):
    """The stack did not come up."""


# --- A minimal HTTP/1.1 client over asyncio streams --------------------------------------------


class TransportError(Exception):
    """The request got no complete HTTP answer; the connection is dropped."""


@dataclasses.dataclass
class Connection:
    """One persistent keep-alive connection; reconnects on the next request once dropped."""

    host: str
    port: int
    timeout: float
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    # The last response's headers, names in lower case.
    headers: dict[bytes, bytes] = dataclasses.field(default_factory=dict)

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if body or method in ("POST", "PUT"):
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(head.encode("latin-1") + b"\r\n" + body)
        except TimeoutError as error:
            self.close()
            raise TransportError("timeout") from error
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            self.close()
            raise TransportError(type(error).__name__) from error
        except ValueError as error:  # a malformed chunk size
            self.close()
            raise TransportError("malformed chunked body") from error
        except TransportError:
            self.close()
            raise

    async def _exchange(self, data: bytes) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        writer.write(data)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise TransportError("closed before the status line")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise TransportError("malformed status line")
        status = int(parts[1])
        length: int | None = None
        chunked = close = False
        self.headers = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise TransportError("closed in the headers")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            self.headers[name] = value.strip()
            value = value.strip().lower()
            if name == b"content-length":
                if not value.isdigit():
                    raise TransportError("malformed Content-Length")
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.endswith(b"chunked")
            elif name == b"connection":
                close = b"close" in value
        if status < 200 or status in (204, 304):
            payload = b""
        elif chunked:
            payload = await self._read_chunks(reader)
        elif length is not None:
            payload = await reader.readexactly(length)
        else:  # no framing: the body runs to the end of the connection
            payload = await reader.read()
            close = True
        if close or parts[0] == b"HTTP/1.0":
            self.close()
        return status, payload

    @staticmethod
    async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
        payload = bytearray()
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(payload)
            payload += await reader.readexactly(size)
            await reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def fetch(
    host: str, port: int, method: str, path: str, body: bytes = b"", wait_seconds: float = 10.0
) -> tuple[int, bytes]:
    """One request on a connection of its own (setup and probes, not the load)."""
    connection = Connection(host, port, wait_seconds)
    try:
        return await connection.request(method, path, body)
    finally:
        connection.close()


# --- The processes under test -------------------------------------------------------------------


def _child_setup() -> None:
    """In the child, before exec: SIGINT stops it even when we were started with SIGINT ignored
    (a background job of a script), and it gets SIGTERM if we die without stopping it (Linux)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Child:
    """A subprocess in a session of its own (Ctrl-C reaches only us), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_child_setup,  # safe: no threads exist yet
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise StartError(f"{self.name} exited with {code}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> str:
        """SIGINT and wait; escalate if it hangs. Returns what happened, for the log."""
        process = self.process
        if process.poll() is not None:
            outcome = f"had already exited with {process.returncode}"
        else:
            outcome = "stopped"
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.terminate()
                outcome = "did not stop within 15 s of SIGINT; stopped by SIGTERM"
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    outcome = "did not stop on SIGINT or SIGTERM; killed"
        self._log.close()
        return outcome


async def wait_until_ok(
    child: Child | None, host: str, port: int, path: str, deadline: float
) -> None:
    last = "no answer"
    while time.monotonic() < deadline:
        if child is not None:
            child.check_alive()
        try:
            status, body = await fetch(host, port, "GET", path, wait_seconds=5.0)
            if status == 200:
                return
            last = f"{status} {body[:200]!r}"
        except TransportError as error:
            last = str(error)
        await asyncio.sleep(0.2)
    where = f"{child.name} " if child else ""
    raise StartError(f"{where}http://{host}:{port}{path} not ready in time ({last})")


# --- /proc ------------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int | None:
    """VmRSS of a process, None when it is gone."""
    return _status_kib(pid, "VmRSS:")


def hwm_bytes(pid: int) -> int | None:
    """VmHWM: the process's peak RSS since it started."""
    return _status_kib(pid, "VmHWM:")


def _status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After "pid (comm)": state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process and of every live process under it (a supervisor's workers);
    None when the process itself is gone."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(entry))
    total = cpu_seconds(pid)
    if total is None:
        return None
    pending = list(children.get(pid, ()))
    while pending:
        child = pending.pop()
        total += cpu_seconds(child) or 0.0
        pending += children.get(child, ())
    return total


def mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f} MiB"


# --- The query mix ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Call:
    """One request of the mix and what its answer must be."""

    kind: str
    body: bytes
    status: int = 200
    expected_codes: frozenset[str] = frozenset()  # codes that may come back
    required_codes: frozenset[str] = frozenset()  # codes that must come back
    check: Check | None = None


@dataclasses.dataclass(frozen=True)
class Catalog:
    """What the service answered before the load: (image, [(version, aliases)]) in name order."""

    images: list[tuple[str, list[tuple[int, list[str]]]]]

    def names(self) -> list[str]:
        return [name for name, _ in self.images]

    def refs(self) -> list[tuple[dict[str, Any], tuple[str, int | None]]]:
        """Every ref the catalog answers: (ref, (image, version)); None for 'latest'."""
        refs: list[tuple[dict[str, Any], tuple[str, int | None]]] = []
        for name, versions in self.images:
            if versions:
                refs.append(({"imageName": name}, (name, None)))
            for number, aliases in versions:
                refs.append(({"imageName": name, "version": number}, (name, number)))
                refs.extend(({"imageName": name, "alias": a}, (name, number)) for a in aliases)
        return refs


DISCOVER = """query LoadDiscover {
  images(first: 20, sortBy: IMAGE_NAME, sortOrder: ASCENDING) {
    edges { node { imageName versions(first: 50, sortBy: VERSION, sortOrder: ASCENDING) {
      edges { node { version aliases } } } } }
    pageInfo { hasNextPage }
  }
}"""

VERSION_QUERY = """query LoadStableVersion($name: String!, $alias: String) {
  imageVersion(imageName: $name, alias: $alias) {
    imageVersionArn imageArn imageName version imageVersionStatus creationTime lastModifiedTime
    failureReason baseImage containerImage vendorGuidance jobType mlFramework programmingLang
    processor horovod releaseNotes aliases
  }
}"""

VERSIONS_QUERY = """query LoadKernels($refs: [ImageVersionRef!]!) {
  imageVersions(refs: $refs) { imageName version imageVersionStatus failureReason }
}"""

IMAGES_QUERY = """query LoadCatalog($after: String) {
  images(first: 3, after: $after, sortBy: IMAGE_NAME, sortOrder: ASCENDING) {
    edges { node { imageName displayName imageStatus
      latestVersion { version vendorGuidance aliases } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

HISTORY_QUERY = """query LoadHistory($name: String!, $other: String!, $alias: String) {
  image(imageName: $name) {
    description roleArn
    versions(first: 10, sortBy: VERSION, sortOrder: ASCENDING) {
      edges { cursor node { version imageVersionStatus failureReason aliases } }
    }
  }
  imageVersion(imageName: $other, alias: $alias) { version image { displayName } }
}"""

IMAGES_PAGE = 3


def _body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def _data(document: Json) -> dict[str, Any]:
    data = document.get("data") if isinstance(document, dict) else None
    return data if isinstance(data, dict) else {}


async def discover(host: str, port: int, wait_seconds: float) -> Catalog:
    status, payload = await fetch(host, port, "POST", "/graphql", _body(DISCOVER), wait_seconds)
    document = json.loads(payload)
    if status != 200 or document.get("errors"):
        raise StartError(f"the catalog query failed: {status} {payload[:500]!r}")
    images = []
    for edge in document["data"]["images"]["edges"]:
        node = edge["node"]
        versions = [
            (v["node"]["version"], sorted(v["node"]["aliases"])) for v in node["versions"]["edges"]
        ]
        images.append((node["imageName"], versions))
    catalog = Catalog(images)
    if not any(versions for _, versions in images):
        raise StartError("the catalog has no image with versions to query")
    if MISSING_IMAGE in catalog.names():
        raise StartError(f"the catalog holds {MISSING_IMAGE}, which the load expects missing")
    return catalog


def _version_call(name: str, alias: str | None, number: int) -> Call:
    def check(document: Json) -> str | None:
        got = _data(document).get("imageVersion")
        if not isinstance(got, dict):
            return "imageVersion: null"
        if (got.get("imageName"), got.get("version")) != (name, number):
            return "imageVersion: wrong version"
        return None

    return Call(KIND_VERSION, _body(VERSION_QUERY, {"name": name, "alias": alias}), check=check)


def _versions_call(
    rng: random.Random, refs: list[tuple[dict[str, Any], tuple[str, int | None]]]
) -> Call:
    picked = [rng.choice(refs) for _ in range(9)]
    picked.insert(rng.randrange(10), ({"imageName": MISSING_IMAGE}, (MISSING_IMAGE, None)))
    expected = [want for _, want in picked]

    def check(document: Json) -> str | None:
        got = _data(document).get("imageVersions")
        if not isinstance(got, list) or len(got) != len(expected):
            return "imageVersions: wrong length"
        for (name, number), item in zip(expected, got, strict=True):
            if name == MISSING_IMAGE:
                if item is not None:
                    return "imageVersions: missing image not null"
            elif not isinstance(item, dict) or item.get("imageName") != name:
                return "imageVersions: wrong image at an index"
            elif number is not None and item.get("version") != number:
                return "imageVersions: wrong version at an index"
        return None

    body = _body(VERSIONS_QUERY, {"refs": [ref for ref, _ in picked]})
    not_found = frozenset({"NOT_FOUND"})
    return Call(
        KIND_VERSIONS, body, expected_codes=not_found, required_codes=not_found, check=check
    )


def images_call(catalog: Catalog, after: str | None) -> Call:
    """A page of images: the first when ``after`` is None, else the one after that cursor."""
    names = catalog.names()
    start = 0 if after is None else IMAGES_PAGE
    want = names[start : start + IMAGES_PAGE]

    def check(document: Json) -> str | None:
        images = _data(document).get("images")
        if not isinstance(images, dict):
            return "images: null"
        got = [edge["node"]["imageName"] for edge in images.get("edges", [])]
        return None if got == want else "images: wrong page"

    return Call(KIND_IMAGES, _body(IMAGES_QUERY, {"after": after}), check=check)


def end_cursor(document: Json) -> str | None:
    """The next page's cursor from an images answer, None on the last page."""
    page = (_data(document).get("images") or {}).get("pageInfo") or {}
    cursor = page.get("endCursor") if page.get("hasNextPage") else None
    return cursor if isinstance(cursor, str) else None


def _history_call(
    name: str, numbers: list[int], other: str, alias: str | None, number: int
) -> Call:
    def check(document: Json) -> str | None:
        data = _data(document)
        image = data.get("image")
        if not isinstance(image, dict):
            return "history: image null"
        got = [edge["node"]["version"] for edge in image["versions"]["edges"]]
        if got != numbers[:10]:
            return "history: wrong versions"
        version = data.get("imageVersion")
        if not isinstance(version, dict) or version.get("version") != number:
            return "history: wrong imageVersion"
        return None

    variables = {"name": name, "other": other, "alias": alias}
    return Call(KIND_HISTORY, _body(HISTORY_QUERY, variables), check=check)


def _bad_calls(name: str) -> list[Call]:
    """Deliberate mistakes, each with the one code it must come back with."""

    def bad(query: str, variables: dict[str, Any] | None = None, code: str = "") -> Call:
        codes = frozenset({code or "BAD_USER_INPUT"})
        return Call(KIND_BAD, _body(query, variables), 200, codes, codes)

    one = "query LoadBad($v: Int, $a: String, $n: String!) { imageVersion(imageName: $n, "
    one += "version: $v, alias: $a) { version } }"
    page = "query LoadBadPage($first: Int!, $after: String) { images(first: $first, after: $after)"
    page += " { edges { node { imageName } } } }"
    not_json = frozenset({"BAD_REQUEST"})
    return [
        bad(one, {"n": name, "v": -1}),  # a negative version
        bad(one, {"n": name, "v": 1, "a": "stable"}),  # both version and alias
        bad(one, {"n": "Not An Image Name!"}),  # the ImageName pattern
        bad(one, {"n": name, "v": "two"}),  # a variable of the wrong type
        bad(page, {"first": 0}),  # first out of range
        bad(page, {"first": 3, "after": "bogus"}),  # a cursor not from this connection
        bad(
            "query LoadBadField { images { edges { node { nope } } } }",
            code="GRAPHQL_VALIDATION_FAILED",
        ),  # a field the schema does not have
        Call(KIND_BAD, b"{not json", 400, not_json, not_json),
    ]


@dataclasses.dataclass(frozen=True)
class Mix:
    """The prepared calls of each kind (images pages are built per client, for its cursor)."""

    catalog: Catalog
    calls: dict[str, list[Call]]
    kinds: list[str]
    weights: list[int]

    @classmethod
    def build(cls, catalog: Catalog) -> Mix:
        rng = random.Random(7)
        refs = catalog.refs()
        with_versions = [(n, vs) for n, vs in catalog.images if vs]
        aliased: list[tuple[str, str | None, int]] = [
            (n, a, v) for n, vs in with_versions for v, aliases in vs for a in aliases
        ]
        if not aliased:  # no aliases anywhere: ask for the latest instead
            aliased = [(n, None, max(v for v, _ in vs)) for n, vs in with_versions]
        calls: dict[str, list[Call]] = {
            KIND_VERSION: [_version_call(n, a, v) for n, a, v in aliased],
            KIND_VERSIONS: [_versions_call(rng, refs) for _ in range(16)],
            KIND_HISTORY: [
                _history_call(name, [v for v, _ in versions], *rng.choice(aliased))
                for name, versions in with_versions
                for _ in range(3)
            ],
            KIND_BAD: _bad_calls(with_versions[0][0]),
        }
        return cls(catalog, calls, list(MIX), list(MIX.values()))


# --- Counting ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Stats:
    latencies: dict[str, array.array[float]] = dataclasses.field(default_factory=dict)
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)
    expected_codes: Counter[str] = dataclasses.field(default_factory=Counter)
    unexpected_codes: Counter[str] = dataclasses.field(default_factory=Counter)
    wrong_answers: Counter[str] = dataclasses.field(default_factory=Counter)
    transport: Counter[str] = dataclasses.field(default_factory=Counter)
    examples: list[str] = dataclasses.field(default_factory=list)
    requests: int = 0
    unexpected: int = 0

    def note(self, example: str) -> None:
        self.unexpected += 1
        if len(self.examples) < 5:
            self.examples.append(example[:400])

    def record(self, call: Call, status: int, payload: bytes, seconds: float) -> Json:
        self.requests += 1
        self.latencies.setdefault(call.kind, array.array("d")).append(seconds)
        self.statuses[status] += 1
        if status != call.status:
            self.note(f"{call.kind}: HTTP {status}: {payload[:300]!r}")
        try:
            document = json.loads(payload)
        except ValueError:
            self.wrong_answers["not JSON"] += 1
            self.note(f"{call.kind}: not JSON: {payload[:300]!r}")
            return None
        errors = document.get("errors") if isinstance(document, dict) else None
        codes = set()
        for error in errors if isinstance(errors, list) else []:
            extensions = error.get("extensions") if isinstance(error, dict) else None
            code = extensions.get("code") if isinstance(extensions, dict) else None
            code = code if isinstance(code, str) else "<no code>"
            codes.add(code)
            if code in call.expected_codes:
                self.expected_codes[code] += 1
            else:
                self.unexpected_codes[code] += 1
                self.note(f"{call.kind}: {code}: {json.dumps(error)}")
        for code in call.required_codes - codes:
            self.unexpected_codes[f"missing {code}"] += 1
            self.note(f"{call.kind}: no {code} in {payload[:300]!r}")
        if call.check is not None and status == 200:
            try:
                problem = call.check(document)
            except (KeyError, TypeError, AttributeError) as error:
                problem = f"{call.kind}: unexpected shape ({type(error).__name__})"
            if problem:
                self.wrong_answers[problem] += 1
                self.note(f"{call.kind}: {problem}: {payload[:300]!r}")
        return document

    def transport_error(self, call: Call, error: TransportError) -> None:
        self.transport[str(error)] += 1
        self.note(f"{call.kind}: transport: {error}")


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# --- The run ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Target:
    host: str
    port: int
    pid: int | None
    started_here: bool
    endpoint_pid: int | None = None
    endpoint_port: int = 0
    redis_port: int = 0


@dataclasses.dataclass
class Timeline:
    """When each request ended (seconds into the load), how long it took (NaN: no answer), and
    how many unexpected things it brought: what the report splits around a Redis stall."""

    ends: array.array[float] = dataclasses.field(default_factory=lambda: array.array("d"))
    seconds: array.array[float] = dataclasses.field(default_factory=lambda: array.array("d"))
    unexpected: array.array[int] = dataclasses.field(default_factory=lambda: array.array("l"))

    def note(self, run: Run, seconds: float | None, unexpected: int) -> None:
        self.ends.append(time.monotonic() - run.started)
        self.seconds.append(math.nan if seconds is None else seconds)
        self.unexpected.append(unexpected)


@dataclasses.dataclass
class Stall:
    """A Redis stall during the load: when it began and ended (seconds into the load), and what
    ``/readyz`` said in its middle."""

    began: float | None = None
    ended: float | None = None
    readyz: str = "not asked"


@dataclasses.dataclass
class Gaps:
    """``--idle-gaps``: the gate the clients pass before each request (closed during a gap), the
    requests in flight (a gap starts once they are answered), and the gaps so far as (start, end)
    seconds into the load, the end None while one lasts."""

    open: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    drained: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    in_flight: int = 0
    spans: list[tuple[float, float | None]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.open.set()

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        """Around one request: counted in flight until it is answered (or fails)."""
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self.drained.set()

    def idle_within(self, start: float, end: float) -> float:
        """Seconds of gaps between ``start`` and ``end`` (seconds into the load)."""
        return sum(
            max(0.0, min(end, stop if stop is not None else end) - max(start, began))
            for began, stop in self.spans
        )


@dataclasses.dataclass
class Run:
    target: Target
    args: argparse.Namespace
    stats: Stats = dataclasses.field(default_factory=Stats)
    stop: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    interrupted: bool = False
    rss_peak: int = 0
    rss_series: list[tuple[float, int, int]] = dataclasses.field(default_factory=list)
    started: float = 0.0
    endpoint_stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    rss_before: int | None = None
    timeline: Timeline = dataclasses.field(default_factory=Timeline)
    stall: Stall | None = None
    gaps: Gaps | None = None

    def busy_seconds(self, start: float, end: float) -> float:
        """Seconds of load between ``start`` and ``end``: the idle gaps left out of req/s."""
        idle = self.gaps.idle_within(start, end) if self.gaps is not None else 0.0
        return max(end - start - idle, 1e-9)


async def client(run: Run, mix: Mix, index: int) -> None:
    rng = random.Random(index)
    connection = Connection(run.target.host, run.target.port, run.args.timeout)
    cursor: str | None = None
    stats, gaps = run.stats, run.gaps
    try:
        while not run.stop.is_set():
            if gaps is not None and not gaps.open.is_set():
                connection.close()
                await gaps.open.wait()
                continue
            kind = rng.choices(mix.kinds, mix.weights)[0]
            if kind == KIND_IMAGES:
                call = images_call(mix.catalog, cursor)
            else:
                call = rng.choice(mix.calls[kind])
            started = time.perf_counter()
            unexpected = stats.unexpected
            try:
                with gaps.sending() if gaps is not None else contextlib.nullcontext():
                    status, payload = await connection.request("POST", "/graphql", call.body)
            except TransportError as error:
                stats.transport_error(call, error)
                run.timeline.note(run, None, stats.unexpected - unexpected)
                await asyncio.sleep(0.05)  # do not spin on a refused connection
                continue
            seconds = time.perf_counter() - started
            document = stats.record(call, status, payload, seconds)
            run.timeline.note(run, seconds, stats.unexpected - unexpected)
            if kind == KIND_IMAGES:
                cursor = end_cursor(document) if cursor is None else None
    finally:
        connection.close()


async def sample_rss(run: Run) -> None:
    """Every second: the peak; every 10 s in a soak: the series (and a line on stderr)."""
    pid = run.target.pid
    assert pid is not None
    next_soak = SOAK_SAMPLE_SECONDS
    while True:
        await asyncio.sleep(RSS_SAMPLE_SECONDS)
        rss = rss_bytes(pid)
        if rss is None:
            continue
        run.rss_peak = max(run.rss_peak, rss)
        elapsed = time.monotonic() - run.started
        if run.args.soak and elapsed >= next_soak:
            next_soak += SOAK_SAMPLE_SECONDS
            run.rss_series.append((elapsed, run.stats.requests, rss))


async def progress(run: Run) -> None:
    while True:
        await asyncio.sleep(PROGRESS_SECONDS)
        elapsed = time.monotonic() - run.started
        requests = run.stats.requests
        rate = requests / run.busy_seconds(0.0, elapsed)
        line = f"[{elapsed:6.1f}s] {requests} requests, {rate:.1f} req/s"
        line += f", {run.stats.unexpected} unexpected"
        if run.target.pid is not None:
            line += f", service RSS {mib(rss_bytes(run.target.pid))}"
        print(line, file=sys.stderr, flush=True)


async def stall_redis(run: Run, stall: Stall) -> None:
    """``--stall-redis-at``: put Redis to sleep for ``--stall-for`` seconds (``DEBUG SLEEP`` on a
    connection of its own, whose reply comes when Redis wakes), and ask /readyz midway."""
    args, target = run.args, run.target
    await asyncio.sleep(args.stall_redis_at)
    reader, writer = await asyncio.open_connection(HOST, target.redis_port)
    try:
        writer.write(f"DEBUG SLEEP {args.stall_for:g}\r\n".encode())
        await writer.drain()
        stall.began = time.monotonic() - run.started
        print(f"[{stall.began:6.1f}s] Redis stalled for {args.stall_for:g} s", file=sys.stderr)
        await asyncio.sleep(args.stall_for / 2)
        try:
            status, body = await fetch(target.host, target.port, "GET", "/readyz")
            stall.readyz = f"{status} {body.decode(errors='replace')}"
        except TransportError as error:
            stall.readyz = f"no answer ({error})"
        reply = await reader.readline()
        stall.ended = time.monotonic() - run.started
        print(f"[{stall.ended:6.1f}s] Redis awake: {reply!r}", file=sys.stderr, flush=True)
    finally:
        writer.close()


async def idle_gaps(run: Run, gaps: Gaps) -> None:
    """``--idle-gaps``: after each ``--idle-every`` seconds of load, close the gate, wait for the
    requests in flight, and keep the service idle for ``--idle-gaps`` seconds."""
    args = run.args
    while True:
        await asyncio.sleep(args.idle_every)
        gaps.open.clear()
        gaps.drained.clear()
        if gaps.in_flight:
            await gaps.drained.wait()
        began = time.monotonic() - run.started
        gaps.spans.append((began, None))
        print(f"[{began:6.1f}s] idle for {args.idle_gaps:g} s", file=sys.stderr, flush=True)
        await asyncio.sleep(args.idle_gaps)
        gaps.spans[-1] = (began, time.monotonic() - run.started)
        gaps.open.set()


def install_signals(run: Run, main_task: asyncio.Task[Any]) -> None:
    """First Ctrl-C (or SIGTERM) ends the load early and still reports; the next aborts."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if run.started and not run.stop.is_set():
            run.interrupted = True
            run.stop.set()
            print("\ninterrupted: finishing the requests in flight", file=sys.stderr, flush=True)
        else:
            main_task.cancel()

    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, on_signal)


async def drive(run: Run) -> tuple[float, dict[str, float | None]]:
    """Run the clients until the deadline; returns the elapsed time and the CPU seconds used."""
    target, args = run.target, run.args
    mix = Mix.build(await discover(target.host, target.port, args.timeout))
    print(
        f"catalog: {len(mix.catalog.images)} images, "
        f"{sum(len(v) for _, v in mix.catalog.images)} versions; "
        f"{args.clients} clients for {args.seconds:g} s",
        file=sys.stderr,
        flush=True,
    )
    if target.endpoint_port:  # count the SageMaker calls of the load only
        await fetch(HOST, target.endpoint_port, "DELETE", "/_local/stats")
    pids = {"service": target.pid, "endpoint": target.endpoint_pid}
    cpu_before = {name: cpu_seconds(pid) if pid else None for name, pid in pids.items()}
    own_cpu = time.process_time()
    if target.pid is not None:
        run.rss_before = rss_bytes(target.pid)
        run.rss_peak = run.rss_before or 0
        run.rss_series.append((0.0, 0, run.rss_peak))
    run.started = time.monotonic()
    helpers = [asyncio.create_task(progress(run))]
    if target.pid is not None:
        helpers.append(asyncio.create_task(sample_rss(run)))
    if args.stall_redis_at is not None:
        run.stall = Stall()
        helpers.append(asyncio.create_task(stall_redis(run, run.stall)))
    if args.idle_gaps is not None:
        run.gaps = Gaps()
        helpers.append(asyncio.create_task(idle_gaps(run, run.gaps)))
    clients = [asyncio.create_task(client(run, mix, i)) for i in range(args.clients)]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.stop.wait(), args.seconds)
        run.stop.set()
        if run.gaps is not None:  # the clients waiting out a gap see the stop
            run.gaps.open.set()
        await asyncio.gather(*clients)
    finally:
        for task in [*clients, *helpers]:
            task.cancel()
        await asyncio.gather(*clients, *helpers, return_exceptions=True)
    elapsed = time.monotonic() - run.started
    used: dict[str, float | None] = {"load generator": time.process_time() - own_cpu}
    for name, pid in pids.items():
        after = cpu_seconds(pid) if pid else None
        before = cpu_before[name]
        used[name] = after - before if after is not None and before is not None else None
    if target.endpoint_port:
        status, payload = await fetch(HOST, target.endpoint_port, "GET", "/_local/stats")
        if status == 200:
            run.endpoint_stats = json.loads(payload)
    return elapsed, used


def report(run: Run, elapsed: float, cpu: dict[str, float | None]) -> None:
    stats, args, target = run.stats, run.args, run.target
    out: list[str] = []
    mode = "soak" if args.soak else "load"
    where = f"started here on {HOST}" if target.started_here else f"at {args.url}"
    latency = f", endpoint latency {args.latency_ms:g} ms" if target.started_here else ""
    out.append(
        f"{mode}: {args.clients} clients, {elapsed:.1f} s{latency}, service {where}"
        + (" (interrupted)" if run.interrupted else "")
    )
    busy = run.busy_seconds(0.0, elapsed)
    if run.gaps is not None:
        out.append(
            f"idle gaps: {len(run.gaps.spans)}, {elapsed - busy:.1f} s in all, left out of req/s"
            f" ({busy:.1f} s of load)"
        )
    out.append(
        f"{'query':<15}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}"
    )
    everything = sorted(x for values in stats.latencies.values() for x in values)
    rows = [("all", everything)] + [
        (kind, sorted(stats.latencies[kind])) for kind in MIX if kind in stats.latencies
    ]
    for name, ordered in rows:
        if not ordered:
            out.append(f"{name:<15}{0:>10}")
            continue
        cells = [percentile(ordered, p) * 1000 for p in (0.5, 0.9, 0.99)] + [ordered[-1] * 1000]
        out.append(
            f"{name:<15}{len(ordered):>10}{len(ordered) / busy:>9.1f}"
            + "".join(f"{cell:>9.1f}" for cell in cells)
        )

    def counts(counter: Counter[Any]) -> str:
        return ", ".join(f"{key} {n}" for key, n in sorted(counter.items())) or "none"

    if run.stall is not None:
        out.extend(stall_report(run, elapsed))
    out.append(f"{'HTTP statuses':<24}{counts(stats.statuses)}")
    out.append(f"{'expected error codes':<24}{counts(stats.expected_codes)}")
    out.append(f"{'unexpected error codes':<24}{counts(stats.unexpected_codes)}")
    out.append(f"{'wrong answers':<24}{counts(stats.wrong_answers)}")
    out.append(f"{'transport errors':<24}{counts(stats.transport)}")
    if target.pid is not None:
        after = rss_bytes(target.pid)
        out.append(
            f"{'service RSS':<24}before {mib(run.rss_before)}, after {mib(after)}, "
            f"peak {mib(run.rss_peak or None)} (VmHWM since start {mib(hwm_bytes(target.pid))})"
        )
    service_cpu = cpu.get("service")
    if service_cpu is not None:
        per = service_cpu * 1000 / stats.requests if stats.requests else 0.0
        out.append(f"{'service CPU':<24}{service_cpu:.1f} s, {per:.2f} ms per request")
    others = [
        f"{name} {seconds:.1f} s"
        for name, seconds in cpu.items()
        if name != "service" and seconds is not None
    ]
    out.append(f"{'other CPU':<24}{', '.join(others)} (on {os.cpu_count()} CPUs)")
    calls = run.endpoint_stats.get("calls")
    if isinstance(calls, dict) and stats.requests:
        total = sum(calls.values())
        out.append(
            f"{'SageMaker calls':<24}{total} ({total / stats.requests:.1f} per request, "
            f"peak {run.endpoint_stats.get('peakInFlight')} in flight): "
            + ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
        )
    if args.soak and len(run.rss_series) > 1:
        out.append(f"RSS every {SOAK_SAMPLE_SECONDS:g} s:")
        out.append(f"{'t s':>8}{'requests':>10}{'RSS MiB':>10}")
        for at, requests, rss in run.rss_series:
            out.append(f"{at:>8.0f}{requests:>10}{rss / 2**20:>10.1f}")
        half = run.rss_series[len(run.rss_series) // 2]
        last = run.rss_series[-1]
        growth = (last[2] - half[2]) / 2**20
        out.append(
            f"RSS change over the second half ({half[0]:.0f}-{last[0]:.0f} s): {growth:+.1f} MiB"
        )
    verdict = "OK" if stats.unexpected == 0 and stats.requests else "FAILED"
    if not stats.requests:
        verdict += " (no request completed)"
    elif stats.unexpected:
        verdict += f" ({stats.unexpected} unexpected)"
    out.append(f"result: {verdict}")
    print("\n".join(out), flush=True)
    for example in stats.examples:
        print(f"unexpected: {example}", file=sys.stderr)


def stall_report(run: Run, elapsed: float) -> list[str]:
    """req/s, latency and unexpected answers before, during and after the Redis stall."""
    stall = run.stall
    assert stall is not None
    if stall.began is None or stall.ended is None:
        return ["Redis stall: did not happen within the load"]
    seconds = "busy s" if run.gaps is not None else "seconds"
    out = [
        f"Redis stalled {stall.began:.1f}-{stall.ended:.1f} s; /readyz midway: {stall.readyz}",
        f"{'phase':<15}{seconds:>10}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'unexp.':>8}",
    ]
    timeline = run.timeline
    for name, start, end in (
        ("before stall", 0.0, stall.began),
        ("during stall", stall.began, stall.ended),
        ("after stall", stall.ended, elapsed),
    ):
        picked = [i for i, at in enumerate(timeline.ends) if start <= at < end]
        answered = sorted(
            timeline.seconds[i] for i in picked if not math.isnan(timeline.seconds[i])
        )
        unexpected = sum(timeline.unexpected[i] for i in picked)
        span = run.busy_seconds(start, end)
        cells = (
            [percentile(answered, p) * 1000 for p in (0.5, 0.99)] + [answered[-1] * 1000]
            if answered
            else [math.nan] * 3
        )
        out.append(
            f"{name:<15}{span:>10.1f}{len(picked):>10}{len(picked) / span:>9.1f}"
            + "".join(f"{cell:>9.1f}" for cell in cells)
            + f"{unexpected:>8}"
        )
    return out


async def main_async(args: argparse.Namespace, target: Target, children: list[Child]) -> Run:
    run = Run(target, args)
    current = asyncio.current_task()
    assert current is not None
    install_signals(run, current)
    deadline = time.monotonic() + STARTUP_SECONDS
    if target.started_here:
        endpoint, service = children[0], children[-1]
        endpoint_port = target.endpoint_port
        await wait_until_ok(endpoint, HOST, endpoint_port, "/_local/health", deadline)
        plan = json.dumps({"latencyMs": args.latency_ms}).encode()
        status, payload = await fetch(HOST, endpoint_port, "PUT", "/_local/faults", plan)
        if status != 200:
            raise StartError(f"PUT /_local/faults answered {status}: {payload[:300]!r}")
        await wait_until_ok(service, target.host, target.port, "/readyz", deadline)
    else:
        await wait_until_ok(None, target.host, target.port, "/readyz", deadline)
    elapsed, cpu = await drive(run)
    report(run, elapsed, cpu)
    return run


def start_stack(args: argparse.Namespace, logs: Path) -> tuple[Target, list[Child]]:
    python = ROOT / ".venv" / "bin" / "python"
    executable = str(python) if python.exists() else sys.executable
    endpoint_port, service_port = free_port(), free_port()
    children: list[Child] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMGQL_")}
    argv = [executable, "-m", "app", "local-sagemaker", "--host", HOST]
    argv += ["--port", str(endpoint_port), "--log-level", "warning"]
    children.append(
        Child(f"local endpoint on {HOST}:{endpoint_port}", argv, env, logs / "endpoint.log")
    )
    service_env = env | {
        "SMGQL_BACKEND": "local",
        "SMGQL_ENDPOINT_URL": f"http://{HOST}:{endpoint_port}",
    }
    redis_port = 0
    try:
        if args.redis:
            redis_port = free_port()
            children.append(start_redis(redis_port, logs))
            service_env |= {
                "SMGQL_CACHE": "redis",
                "SMGQL_REDIS_URL": f"redis://{HOST}:{redis_port}/0",
            }
        argv = [executable, "-m", "app", "serve", "--host", HOST, "--port", str(service_port)]
        children.append(Child("service", argv, service_env, logs / "service.log"))
    except BaseException:
        for child in reversed(children):
            child.stop()
        raise
    target = Target(
        HOST, service_port, children[-1].pid, True, children[0].pid, endpoint_port, redis_port
    )
    return target, children


def start_redis(port: int, logs: Path) -> Child:
    """``--redis``: a Redis on loopback that saves nothing and lets us ``DEBUG SLEEP`` it, ready
    when it answers PING (the service's start would otherwise race it)."""
    server = shutil.which("redis-server")
    if server is None:
        raise StartError("--redis needs redis-server on the PATH (scripts/bootstrap --test)")
    argv = [server, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    argv += ["--enable-debug-command", "local"]
    redis = Child(f"Redis on {HOST}:{port}", argv, {}, logs / "redis.log")
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        redis.check_alive()
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 1) as probe:
            probe.sendall(b"PING\r\n")
            if probe.recv(64).startswith(b"+PONG"):
                return redis
        time.sleep(0.1)
    redis.stop()
    raise StartError(f"Redis on {HOST}:{port} did not answer PING in time")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients")
    parser.add_argument(
        "--seconds", type=float, help="how long the load runs (default 60, 300 with --soak)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=20, help="local endpoint latency per SageMaker call"
    )
    parser.add_argument(
        "--soak", action="store_true", help="a long run that samples the RSS every 10 s"
    )
    parser.add_argument("--url", help="drive this running service instead of starting one")
    parser.add_argument("--pid", type=int, help="with --url: the service's process, for RSS/CPU")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the processes' logs (always on failure)"
    )
    parser.add_argument(
        "--redis", action="store_true", help="keep the cache in a Redis started here too"
    )
    parser.add_argument(
        "--stall-redis-at",
        type=float,
        metavar="SECONDS",
        help="with --redis: stall it (DEBUG SLEEP) this many seconds into the load",
    )
    parser.add_argument(
        "--stall-for", type=float, default=20.0, metavar="SECONDS", help="how long the stall lasts"
    )
    parser.add_argument(
        "--idle-gaps",
        type=float,
        metavar="SECONDS",
        help="pause all clients this long now and then (longer than the upstream's keep-alive)",
    )
    parser.add_argument(
        "--idle-every",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="with --idle-gaps: seconds of load between two gaps",
    )
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 300.0 if args.soak else 60.0
    if args.clients < 1 or args.seconds <= 0 or args.timeout <= 0:
        parser.error("--clients, --seconds and --timeout must be positive")
    if args.pid is not None and not args.url:
        parser.error("--pid goes with --url")
    if args.redis and args.url:
        parser.error("--redis starts the service here: not with --url")
    if args.stall_redis_at is not None and (not args.redis or args.stall_redis_at < 0):
        parser.error("--stall-redis-at goes with --redis, and is not negative")
    if args.stall_for <= 0:
        parser.error("--stall-for must be positive")
    if (args.idle_gaps is not None and args.idle_gaps <= 0) or args.idle_every <= 0:
        parser.error("--idle-gaps and --idle-every must be positive")
    if args.pid is not None and rss_bytes(args.pid) is None:
        parser.error(f"no process {args.pid} to measure")
    return args


def url_target(args: argparse.Namespace) -> Target:
    url = urlsplit(args.url)
    if url.scheme != "http" or not url.hostname or url.path.rstrip("/") not in ("", "/graphql"):
        raise SystemExit(f"--url: give http://host:port of the service, not {args.url}")
    return Target(url.hostname, url.port or 80, args.pid, False)


@contextlib.contextmanager
def log_dir(keep: bool, prefix: str = "smgql-load-") -> Iterator[tuple[Path, list[bool]]]:
    """A temporary directory for the processes' logs; kept when asked or when the run failed."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    failed = [False]
    try:
        yield path, failed
    except BaseException:
        failed[0] = True
        raise
    finally:
        if keep or failed[0]:
            print(f"logs: {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    args = parse_args()
    with log_dir(args.keep_logs) as (logs, failed):
        children: list[Child] = []
        try:
            if args.url:
                target = url_target(args)
            else:
                target, children = start_stack(args, logs)
            run = asyncio.run(main_async(args, target, children))
        except StartError as error:
            failed[0] = True
            print(f"error: {error}", file=sys.stderr)
            return 2
        except (asyncio.CancelledError, KeyboardInterrupt):
            failed[0] = True
            print("aborted", file=sys.stderr)
            return 130
        finally:
            for child in reversed(children):  # the service first, then its endpoint
                outcome = child.stop()
                if outcome != "stopped":
                    print(f"{child.name} {outcome}", file=sys.stderr)
        if run.stats.unexpected or not run.stats.requests:
            failed[0] = True
            return 1
        return 130 if run.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
