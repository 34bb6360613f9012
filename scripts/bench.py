"""Benchmark: the service against two baselines measured in the same run, printed as one table.

It starts, each as a subprocess on 127.0.0.1 with free ports: the local SageMaker endpoint (no
demo catalog; it serves ``us-east-1`` and ``eu-west-1``, and one image ``bench`` with 200
versions is created in each, then a fixed latency per call is set with ``PUT /_local/faults``), a
Redis server (``redis-server``, nothing saved), the service (``python -m app serve``) six times
(cache off; cache memory; two replicas on the Redis; cache off with a targets file naming both
regions; cache memory with ``SMGQL_WORKERS=2``), and the baselines of ``scripts/bench_peers.py``
(the lean peer twice, the naive one once, and the ceiling: a fixed-bytes server). Every server
but the two-worker service is one process; a server's CPU time is its process's plus that of
every process under it (the two-worker service's supervisor and workers). The service runs at
its default log level, as it is deployed: a JSON line per request, to its log file (the peers
log nothing per request; ``--service-log-level warning`` leaves the line out). The endpoint's
``/_local/stats`` counts the DescribeImageVersion calls. Rows 1-6 and 8 use one target,
``us-east-1``.

Rows (the service, the lean peer, the naive one where it applies, service/peer, and on a
cache-on row's req/s service/ceiling, the ceiling being row 8's fixed-bytes server):

1. 200 unique refs in one ``imageVersions`` query (cache off): upstream calls, wall time (median
   of ``--rounds``; the naive one runs once), and the ratio to the physical limit
   ceil(unique / 32) x latency;
2. the same with 200 refs over 100 unique;
3. the same 200-ref query a second time, cache memory: upstream calls (target 0), wall time;
4. load at 0 ms latency, ``--clients`` keep-alive clients for ``--seconds`` each: req/s, p50,
   p99 and the server's CPU ms per request (from /proc/<pid>/stat) of a single-version query
   (every field, by version) and of a 10-ref query; the service with cache off and with cache
   memory, each against the lean peer;
5. the peak RSS (VmHWM) of each server process;
6. two replicas (the service on Redis; two lean peers) at ``--latency-ms``, the clients
   alternating between them, the single-version query: req/s and the upstream calls it made
   (target 1: the first fetch is shared through the Redis);
7. 2 targets, 100 refs: the service serving both regions (cache off), one ``imageVersions`` query
   of 100 unique refs split 50/50 between them (each ref names its ``region``), at
   ``--latency-ms`` and again at ``--far-latency-ms`` in both regions: upstream calls, wall time
   and server CPU (median of ``--rounds``) against the same 100 refs all in one target and
   against the sum of the two halves run separately. Each target has its own connection pool and
   the targets' calls run at once, so where the waits outweigh the service's CPU the two-target
   wall approaches the slower half's (ratio 1), not the sum's (ratio 0.5); where CPU dominates
   (the service parses every answer in one process) it approaches the sum. The lean peer serves
   one region: no column;
8. against the ceiling, 0 ms per call, ``--clients`` for ``--seconds`` like row 4: the ceiling
   (a bare ASGI app on the service's stack, uvicorn with httptools and uvloop, answering every
   POST with the service's own single-version answer; measured just before row 4, beside the
   lean peer's single version): req/s, p50, p99, CPU ms per request and the load generator's
   own CPU; the pure response-cache hit (row 4's single version, cache memory, not measured
   again); the warm mix, 997 different ``imageVersion`` bodies (the 200 versions, each with up
   to five selection sets) cycled on the cache-memory service after warm-up rounds over all of
   them until every worker has answered every body (a worker is known by its request ids'
   prefix) and a round was answered with kept answers only (no upstream call, no record looked
   up, as ``/metrics`` counts them), then
   the same on the two-worker service (its CPU summed over its processes), and on the lean peer
   (which fetches each): req/s, p50, p99, CPU and upstream calls per request, and the load
   generator's CPU per request (it runs on the same cores as the servers), then two workers'
   req/s and CPU per request over one worker's; and last the ceiling on two worker processes
   (uvicorn's, as the service's are) under the single-version load, with the same two ratios:
   what a second process costs the bare stack on this machine.
   Row 8 runs after row 5 reads the peaks, so the mix's kept answers are not in them. The
   cache-memory services keep a settled record for ``MIX_TTL`` seconds, not 30, so that the mix
   stays warm through its warm-up and its load.

Progress goes to stderr, the table to stdout. Every process is stopped at the end (SIGINT, then
wait), also on error or Ctrl-C. Everything runs on loopback and stops by itself. The exit code is
1 if any request failed (a non-200, an error in the GraphQL answer, a wrong answer, a transport
error), 2 if the stack did not start, 130 if interrupted.

    .venv/bin/python scripts/bench.py [--seconds 15] [--latency-ms 20] [--far-latency-ms 100]
                                      [--clients 32]
    .venv/bin/python scripts/bench.py --quick     # short runs, a smoke test
    .venv/bin/python scripts/bench.py --service-log-level warning   # no line per request
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from bench_peers import POOL, make_client
from load import (
    HOST,
    ROOT,
    Child,
    Connection,
    StartError,
    TransportError,
    cpu_seconds,
    fetch,
    free_port,
    hwm_bytes,
    log_dir,
    percentile,
    tree_cpu_seconds,
    wait_until_ok,
)

STARTUP_SECONDS = 120.0
PROGRESS_SECONDS = 5.0
IMAGE = "bench"
VERSIONS = 200
# The endpoint's regions: the home one (rows 1-6, and the default target) first.
REGIONS = ("us-east-1", "eu-west-1")
# Row 7's targets file: both regions, in the account the endpoint gives any unmapped key.
TARGETS = [{"region": region, "account": "123456789012"} for region in REGIONS]
TWO_TARGET_REFS = 100
FIELDS = (
    "imageVersionArn imageArn imageName version imageVersionStatus creationTime lastModifiedTime"
    " failureReason baseImage containerImage vendorGuidance jobType mlFramework programmingLang"
    " processor horovod releaseNotes"
)
# Row 8's warm mix: these selection sets (every field first) times the versions, MIX_BODIES of
# them, a prime, so that the clients' turns do not fall into step with the cycle.
SELECTIONS = (
    FIELDS,
    "imageVersionArn imageName version imageVersionStatus",
    "imageName version baseImage containerImage creationTime",
    "imageName version jobType mlFramework programmingLang processor horovod",
    "imageName version releaseNotes vendorGuidance lastModifiedTime failureReason",
)
MIX_BODIES = 997
# Rounds of the warm-up pass over the mix, at most: it ends at the first round in which every
# answer was a kept one (no record was looked up). With two workers each one keeps its own, from
# the requests on the connections it accepts: the kernel spreads a round's connections over the
# workers' sockets by a hash, so it takes several rounds until each holds every answer.
WARM_ROUNDS = 40
# Seconds a settled record stays fresh on the cache-memory services, longer than row 8 takes.
MIX_TTL = 600
# The service's counter of record-cache lookups: only a request that was not answered with kept
# bytes (one the schema executed) looks a record up.
LOOKUPS_METRIC = "smgql_cache_lookups_total"
MANY_QUERY = (
    f"query BenchMany($refs: [ImageVersionRef!]!) {{ imageVersions(refs: $refs) {{ {FIELDS} }} }}"
)

Json = Any
Check = Callable[[Json], str | None]


# --- Requests and their checks ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Call:
    body: bytes
    check: Check


def one_call(version: int, fields: str = FIELDS) -> Call:
    """One ``imageVersion`` query by ``version``, selecting ``fields``."""

    def check(data: Json) -> str | None:
        got = data.get("imageVersion")
        if not isinstance(got, dict) or (got.get("imageName"), got.get("version")) != (
            IMAGE,
            version,
        ):
            return f"imageVersion: not {IMAGE} {version}"
        return None

    query = (
        "query BenchOne($name: String!, $version: Int) "
        f"{{ imageVersion(imageName: $name, version: $version) {{ {fields} }} }}"
    )
    variables = {"name": IMAGE, "version": version}
    return Call(json.dumps({"query": query, "variables": variables}).encode(), check)


def mix_calls() -> list[Call]:
    """Row 8's MIX_BODIES distinct bodies: every version with each selection set in turn."""
    pairs = [(version, fields) for fields in SELECTIONS for version in range(1, VERSIONS + 1)]
    return [one_call(version, fields) for version, fields in pairs[:MIX_BODIES]]


def many_call(versions: list[int], regions: list[str] | None = None) -> Call:
    """One ``imageVersions`` query of ``versions``; ``regions``, one per ref, name each ref's
    region (without them, each goes to the default target)."""
    where: list[str | None] = [None] * len(versions) if regions is None else list(regions)

    def check(data: Json) -> str | None:
        got = data.get("imageVersions")
        if not isinstance(got, list) or len(got) != len(versions):
            return "imageVersions: wrong length"
        for want, region, item in zip(versions, where, got, strict=True):
            if not isinstance(item, dict) or item.get("version") != want:
                return f"imageVersions: not version {want} at its index"
            if region is not None and f":{region}:" not in str(item.get("imageVersionArn")):
                return f"imageVersions: version {want} not from {region}"
        return None

    refs: list[dict[str, Any]] = [{"imageName": IMAGE, "version": v} for v in versions]
    for ref, region in zip(refs, where, strict=True):
        if region is not None:
            ref["region"] = region
    return Call(json.dumps({"query": MANY_QUERY, "variables": {"refs": refs}}).encode(), check)


@dataclasses.dataclass
class Failures:
    count: int = 0
    examples: list[str] = dataclasses.field(default_factory=list)

    def note(self, where: str, what: str) -> None:
        self.count += 1
        if len(self.examples) < 8:
            self.examples.append(f"{where}: {what}"[:400])

    def judge(self, where: str, call: Call, status: int, payload: bytes, parse: bool) -> None:
        """Every answer: 200 and no ``errors``; parsed and checked when ``parse``."""
        if status != 200:
            self.note(where, f"HTTP {status}: {payload[:300]!r}")
        elif b'"errors"' in payload:
            self.note(where, f"errors: {payload[:300]!r}")
        elif parse:
            try:
                document = json.loads(payload)
                problem = call.check(document["data"])
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                problem = f"unexpected answer ({type(error).__name__}): {payload[:200]!r}"
            if problem:
                self.note(where, problem)


# --- The processes ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Server:
    label: str
    child: Child
    port: int
    ready_path: str
    workers: int = 1

    @property
    def pid(self) -> int:
        return self.child.pid


@dataclasses.dataclass
class Stack:
    logs: Path
    service_log_level: str
    children: list[Child] = dataclasses.field(default_factory=list)
    endpoint_port: int = 0
    redis_port: int = 0
    servers: dict[str, Server] = dataclasses.field(default_factory=dict)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        slug = "".join(c if c.isalnum() else "-" for c in name)
        child = Child(name, argv, env, self.logs / f"{slug}.log")
        self.children.append(child)
        return child

    def start_base(self) -> None:
        redis = shutil.which("redis-server")
        if redis is None:
            raise StartError("redis-server is missing (scripts/bootstrap --test installs it)")
        self.endpoint_port, self.redis_port = free_port(), free_port()
        argv = [python(), "-m", "app", "local-sagemaker", "--host", HOST]
        argv += ["--port", str(self.endpoint_port), "--no-seed", "--log-level", "warning"]
        argv += ["--regions", ",".join(REGIONS)]
        self.spawn("local endpoint", argv, base_env())
        argv = [redis, "--port", str(self.redis_port), "--bind", HOST]
        argv += ["--save", "", "--appendonly", "no"]
        self.spawn("redis", argv, base_env())

    def start_servers(self) -> None:
        endpoint = f"http://{HOST}:{self.endpoint_port}"
        redis = f"redis://{HOST}:{self.redis_port}/0"
        targets = self.logs / "targets.json"
        targets.write_text(json.dumps(TARGETS), encoding="utf-8")
        for key, label, cache, workers in (
            ("off", "service, cache off", "off", 1),
            ("memory", "service, cache memory", "memory", 1),
            ("redis-a", "service A, cache redis", "redis", 1),
            ("redis-b", "service B, cache redis", "redis", 1),
            ("targets", "service, 2 targets, cache off", "off", 1),
            ("workers-2", "service, 2 workers, cache memory", "memory", 2),
        ):
            env = base_env() | {
                "SMGQL_BACKEND": "local",
                "SMGQL_ENDPOINT_URL": endpoint,
                "SMGQL_CACHE": cache,
                "SMGQL_LOG_LEVEL": self.service_log_level,
                "SMGQL_WORKERS": str(workers),
                "SMGQL_MAX_REFS": "200",
                "SMGQL_MAX_OBJECTS": "100000",
            }
            if cache == "memory":
                # Row 8's warm mix stays warm through its warm-up rounds and its load: with the
                # default 30 s, the records the first round fetched would expire during it.
                env["SMGQL_CACHE_TTL"] = str(MIX_TTL)
            if cache == "redis":
                env["SMGQL_REDIS_URL"] = redis
            if key == "targets":
                env["SMGQL_TARGETS_FILE"] = str(targets)
            port = free_port()
            argv = [python(), "-m", "app", "serve", "--host", HOST, "--port", str(port)]
            child = self.spawn(label, argv, env)
            self.servers[key] = Server(label, child, port, "/readyz", workers)
        for key, label, kind in (
            ("lean", "lean peer", "lean"),
            ("lean-b", "lean peer B", "lean"),
            ("naive", "naive peer", "naive"),
            ("fixed", "fixed-bytes server", "fixed"),
        ):
            options = [] if kind == "fixed" else ["--endpoint-url", endpoint]
            self.servers[key] = self.start_peer(label, kind, options)

    def start_peer(self, label: str, kind: str, options: list[str], workers: int = 1) -> Server:
        """A ``scripts/bench_peers.py`` server of ``kind`` on a free port."""
        port = free_port()
        argv = [python(), str(ROOT / "scripts" / "bench_peers.py"), kind, "--host", HOST]
        argv += ["--port", str(port), *options]
        return Server(label, self.spawn(label, argv, base_env()), port, "/healthz", workers)

    def start_ceiling_on_workers(self, workers: int, answer: bytes) -> Server:
        """The fixed-bytes server on ``workers`` processes, answering with ``answer``."""
        answer_file = self.logs / "ceiling-answer.json"
        answer_file.write_bytes(answer)
        options = ["--workers", str(workers), "--answer-file", str(answer_file)]
        return self.start_peer(f"fixed-bytes server, {workers} workers", "fixed", options, workers)

    @property
    def endpoint_pid(self) -> int:
        return self.children[0].pid

    def stop(self) -> None:
        for child in reversed(self.children):
            outcome = child.stop()
            if outcome != "stopped":
                print(f"{child.name} {outcome}", file=sys.stderr)


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SMGQL_")}


async def wait_redis(child: Child, port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        child.check_alive()
        with contextlib.suppress(OSError, TimeoutError):
            reader, writer = await asyncio.open_connection(HOST, port)
            try:
                writer.write(b"PING\r\n")
                async with asyncio.timeout(5):
                    if (await reader.readline()).startswith(b"+PONG"):
                        return
            finally:
                writer.close()
        await asyncio.sleep(0.1)
    raise StartError(f"redis on {HOST}:{port} not ready in time")


async def wait_base(stack: Stack) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    endpoint, redis = stack.children
    await wait_until_ok(endpoint, HOST, stack.endpoint_port, "/_local/health", deadline)
    await wait_redis(redis, stack.redis_port, deadline)


def create_catalog(endpoint_url: str, region: str) -> None:
    """In ``region``'s catalog, one image with VERSIONS versions, every optional field set
    (before any latency)."""
    client = make_client(endpoint_url, region)
    client.create_image(ImageName=IMAGE, RoleArn="arn:aws:iam::123456789012:role/Bench")
    for number in range(1, VERSIONS + 1):
        client.create_image_version(
            ImageName=IMAGE,
            BaseImage=f"repo/bench:{number}",
            ClientToken=f"bench-{number}",
            VendorGuidance="STABLE",
            JobType="TRAINING",
            MLFramework="PyTorch 2.3",
            ProgrammingLang="Python 3.11",
            Processor="GPU",
            Horovod=False,
            ReleaseNotes=f"Release {number}.",
        )


# --- Measuring ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Bench:
    stack: Stack
    args: argparse.Namespace
    failures: Failures = dataclasses.field(default_factory=Failures)

    async def endpoint(self, method: str, path: str, body: Json = None) -> Json:
        data = b"" if body is None else json.dumps(body).encode()
        status, payload = await fetch(HOST, self.stack.endpoint_port, method, path, data)
        if status != 200:
            raise StartError(f"{method} {path} on the endpoint answered {status}: {payload!r}")
        return json.loads(payload) if payload else None

    async def set_latency(self, ms: float, regions: tuple[str, ...] = ()) -> None:
        """``ms`` per call, in ``regions`` (none: every region)."""
        plan: Json = {"latencyMs": ms}
        if regions:
            plan["regions"] = list(regions)
        await self.endpoint("PUT", "/_local/faults", plan)
        where = f" in {', '.join(regions)}" if regions else ""
        print(f"endpoint latency: {ms:g} ms{where}", file=sys.stderr, flush=True)

    async def reset_calls(self) -> None:
        await self.endpoint("DELETE", "/_local/stats")

    async def calls(self) -> int:
        stats = await self.endpoint("GET", "/_local/stats")
        count: int = stats["calls"].get("DescribeImageVersion", 0)
        return count

    async def calls_by_target(self) -> dict[str, int]:
        """DescribeImageVersion calls per ``region/account`` since the last reset."""
        stats = await self.endpoint("GET", "/_local/stats")
        by_target: dict[str, dict[str, int]] = stats["byTarget"]
        return {target: calls.get("DescribeImageVersion", 0) for target, calls in by_target.items()}

    async def once(self, server: Server, call: Call, where: str) -> Single:
        """One request on a fresh connection: its wall time, the upstream calls it made and the
        server's CPU time meanwhile."""
        await self.reset_calls()
        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        try:
            status, payload = await fetch(
                HOST, server.port, "POST", "/graphql", call.body, self.args.timeout
            )
        except TransportError as error:
            self.failures.note(where, f"transport: {error}")
            return Single(math.nan, 0, None)
        seconds = time.perf_counter() - started
        cpu_after = cpu_seconds(server.pid)
        self.failures.judge(where, call, status, payload, parse=True)
        cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return Single(seconds, await self.calls(), cpu)

    async def rounds(
        self, server: Server, call: Call, rounds: int, where: str, warm_up: Call | None = None
    ) -> Single:
        """The median of ``rounds`` timed requests, after one ``warm_up`` (by default, one
        version of the default target) that opens the connections they need."""
        await self.once(server, warm_up or one_call(VERSIONS), f"{where} warm-up")
        results = []
        for number in range(1, rounds + 1):
            result = await self.once(server, call, where)
            results.append(result)
            print(
                f"{where}: {server.label} round {number}/{rounds}: "
                f"{result.seconds * 1000:.0f} ms, {result.calls} calls",
                file=sys.stderr,
                flush=True,
            )
        cpus = [r.cpu for r in results if r.cpu is not None]
        return Single(
            statistics.median(r.seconds for r in results),
            results[-1].calls,
            statistics.median(cpus) if cpus else None,
        )

    async def load(
        self, where: str, targets: list[Server], calls: list[Call], count_warmup: bool = False
    ) -> Load:
        """``--clients`` clients (client i on target i mod n) over the calls, round robin.

        After a warm-up the clients pause until nothing is in flight, the endpoint's counters
        are reset (unless ``count_warmup``: then they count from the first request) and the
        window opens; the answers completed in it give req/s, latencies and CPU. At the end the
        requests in flight finish, so the upstream calls divide exactly by the requests sent
        since the reset."""
        args, failures = self.args, self.failures
        stop, go = asyncio.Event(), asyncio.Event()
        latencies = array.array("d")
        window_start = math.inf
        in_flight = sent = 0
        drained = asyncio.Event()

        async def client(index: int) -> None:
            nonlocal in_flight, sent
            server = targets[index % len(targets)]
            connection = Connection(HOST, server.port, args.timeout)
            turn = index
            try:
                while not stop.is_set():
                    await go.wait()
                    if stop.is_set():
                        break
                    call = calls[turn % len(calls)]
                    turn += 1
                    in_flight += 1
                    sent += 1
                    started = time.perf_counter()
                    try:
                        status, payload = await connection.request("POST", "/graphql", call.body)
                    except TransportError as error:
                        failures.note(where, f"transport: {error}")
                        await asyncio.sleep(0.05)  # do not spin on a refused connection
                        continue
                    finally:
                        in_flight -= 1
                        if not in_flight and not go.is_set():
                            drained.set()
                    ended = time.perf_counter()
                    failures.judge(where, call, status, payload, parse=turn % 32 == 1)
                    if ended >= window_start and not stop.is_set():
                        latencies.append(ended - started)
            finally:
                connection.close()

        if count_warmup:
            await self.reset_calls()
        go.set()
        tasks = [asyncio.create_task(client(i)) for i in range(args.clients)]
        try:
            await asyncio.sleep(args.warmup)
            go.clear()
            if in_flight:
                await drained.wait()
            if not count_warmup:
                await self.reset_calls()
                sent = 0
            pids = [server.pid for server in targets]
            cpu_before = [tree_cpu_seconds(pid) for pid in pids]
            endpoint_before = cpu_seconds(self.stack.endpoint_pid)
            generator_before = time.process_time()
            window_start = started = time.perf_counter()
            go.set()
            deadline = started + args.seconds
            while (left := deadline - time.perf_counter()) > 0:
                await asyncio.sleep(min(PROGRESS_SECONDS, left))
                elapsed = time.perf_counter() - started
                print(
                    f"{where}: {elapsed:5.1f} s, {len(latencies)} requests, "
                    f"{len(latencies) / elapsed:.0f} req/s, {failures.count} failed",
                    file=sys.stderr,
                    flush=True,
                )
            stop.set()
            elapsed = time.perf_counter() - started
            generator_cpu = time.process_time() - generator_before
            cpu_after = [tree_cpu_seconds(pid) for pid in pids]
            endpoint_after = cpu_seconds(self.stack.endpoint_pid)
            await asyncio.gather(*tasks)
            upstream = await self.calls()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        cpu: float | None = 0.0
        for before, after in zip(cpu_before, cpu_after, strict=True):
            cpu = None if cpu is None or before is None or after is None else cpu + after - before
        endpoint_cpu = (
            None
            if endpoint_before is None or endpoint_after is None
            else endpoint_after - endpoint_before
        )
        return Load(sorted(latencies), elapsed, cpu, upstream, sent, endpoint_cpu, generator_cpu)

    async def record_lookups(self, server: Server) -> float:
        """The service's record-cache lookups so far, summed over its workers (``/metrics``)."""
        status, payload = await fetch(HOST, server.port, "GET", "/metrics")
        if status != 200:
            raise StartError(f"GET /metrics on {server.label} answered {status}")
        lines = payload.decode().splitlines()
        return sum(float(line.split()[-1]) for line in lines if line.startswith(LOOKUPS_METRIC))

    async def warm(self, server: Server, calls: list[Call], where: str) -> None:
        """Each of ``calls`` once per round, over ``--clients`` fresh connections, until every
        worker has answered each of them (each round's connections land on workers anew; a
        worker is known by its request ids' prefix, ``app.web.middleware``) and a round was
        answered with kept answers only (no upstream call, no record looked up), or WARM_ROUNDS
        have run.

        A round that made no upstream call is not enough with two workers: a worker that has
        the records but not the answer executes the query (ten times the CPU of a kept answer),
        and did so for 3-5 % of the timed requests, a third of that worker's CPU. Nor is a round
        without a lookup: its connections may all have landed on one worker."""
        answered: dict[str, set[int]] = {}
        for number in range(1, WARM_ROUNDS + 1):
            await self.reset_calls()
            lookups = await self.record_lookups(server)
            queue = iter(enumerate(calls))

            async def client(queue: Iterator[tuple[int, Call]]) -> None:
                connection = Connection(HOST, server.port, self.args.timeout)
                try:
                    for index, call in queue:
                        try:
                            status, payload = await connection.request(
                                "POST", "/graphql", call.body
                            )
                        except TransportError as error:
                            self.failures.note(where, f"transport: {error}")
                            continue
                        self.failures.judge(where, call, status, payload, parse=True)
                        # A request id is the process's prefix and a 16-digit count.
                        worker = connection.headers.get(b"x-request-id", b"")[:-16].decode()
                        answered.setdefault(worker, set()).add(index)
                finally:
                    connection.close()

            await asyncio.gather(*(client(queue) for _ in range(self.args.clients)))
            made = await self.calls()
            executed = await self.record_lookups(server) - lookups
            every = sum(len(indexes) == len(calls) for indexes in answered.values())
            print(
                f"{where}: round {number}, {len(calls)} requests, {made} upstream calls, "
                f"{executed:.0f} record lookups, {every} of {server.workers} workers answered"
                " every request",
                file=sys.stderr,
                flush=True,
            )
            if not made and not executed and every == server.workers:
                return
        print(f"{where}: still not warm after {WARM_ROUNDS} rounds", file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class Single:
    seconds: float
    calls: int
    cpu: float | None  # the server's CPU seconds


@dataclasses.dataclass(frozen=True)
class Load:
    latencies: list[float]
    seconds: float
    cpu: float | None
    calls: int
    sent: int  # requests sent since the counters were reset
    endpoint_cpu: float | None
    generator_cpu: float  # this process's: the load generator shares the cores

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def ms(self, fraction: float) -> float | None:
        return percentile(self.latencies, fraction) * 1000 if self.latencies else None

    @property
    def cpu_ms(self) -> float | None:
        return per_request(self.cpu, self.requests)

    @property
    def endpoint_cpu_ms(self) -> float | None:
        return per_request(self.endpoint_cpu, self.requests)

    @property
    def generator_cpu_ms(self) -> float | None:
        return per_request(self.generator_cpu, self.requests)

    @property
    def calls_per_request(self) -> float | None:
        return self.calls / self.sent if self.sent else None


def per_request(seconds: float | None, requests: int) -> float | None:
    return seconds * 1000 / requests if seconds is not None and requests else None


# --- The table ----------------------------------------------------------------------------------


Cell = float | int | None
# label, service, lean peer, naive peer, and for a cache-on req/s line the ceiling's req/s (its
# svc/ceil column).
Line = tuple[str, Cell, Cell, Cell] | tuple[str, Cell, Cell, Cell, Cell] | str


def cell(value: Cell) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    # Two decimals below 10: a cache hit's CPU ms per request, a ratio within 10 %.
    return f"{value:.{2 if abs(value) < 10 else 1}f}"


def ratio_of(service: Cell, peer: Cell) -> float | None:
    if service is None or peer is None or peer == 0:
        return None
    return service / peer


def ratio(service: Cell, peer: Cell) -> str:
    quotient = ratio_of(service, peer)
    return "-" if quotient is None else f"{quotient:.2f}"


def load_lines(prefix: str, mine: Load, peer: Load | None, ceiling: Load | None) -> list[Line]:
    """req/s (as a fraction of ``ceiling``'s, when given), p50, p99 and the server's CPU per
    request of one load, beside ``peer``'s."""

    def figures(load: Load | None) -> list[Cell]:
        if load is None:
            return [None] * 4
        return [load.rps, load.ms(0.5), load.ms(0.99), load.cpu_ms]

    (rps, *rest), (peer_rps, *peer_rest) = figures(mine), figures(peer)
    lines: list[Line] = [(f"{prefix}req/s", rps, peer_rps, None, figures(ceiling)[0])]
    names = ("p50 ms", "p99 ms", "CPU ms/request")
    for name, value, peer_value in zip(names, rest, peer_rest, strict=True):
        lines.append((f"{prefix}{name}", value, peer_value, None))
    return lines


def scaling_lines(prefix: str, two: Load, one: Load) -> list[Line]:
    """Two workers' req/s and CPU per request (over all their processes) over one's."""
    return [
        (f"{prefix}req/s", two.rps / one.rps, None, None),
        (f"{prefix}CPU ms/request (all processes)", ratio_of(two.cpu_ms, one.cpu_ms), None, None),
    ]


def render(title: str, lines: list[Line]) -> str:
    width = max(len(line[0]) if isinstance(line, tuple) else 0 for line in lines) + 2
    out = [
        title,
        f"{'':<{width}}{'service':>10}{'lean peer':>11}{'naive':>10}{'svc/peer':>10}"
        f"{'svc/ceil':>10}",
    ]
    for line in lines:
        if isinstance(line, str):
            out.append(line)
            continue
        label, service, peer, naive = line[:4]
        ceiling = line[4] if len(line) == 5 else None
        out.append(
            f"{label:<{width}}{cell(service):>10}{cell(peer):>11}{cell(naive):>10}"
            f"{ratio(service, peer):>10}{ratio(service, ceiling):>10}"
        )
    return "\n".join(out)


async def run(bench: Bench) -> str:
    stack, args = bench.stack, bench.args
    servers = stack.servers
    deadline = time.monotonic() + STARTUP_SECONDS
    for server in servers.values():
        await wait_until_ok(server.child, HOST, server.port, server.ready_path, deadline)
    print("every server is ready; creating the catalog", file=sys.stderr, flush=True)
    for region in REGIONS:
        await asyncio.to_thread(create_catalog, f"http://{HOST}:{stack.endpoint_port}", region)
    latency = args.latency_ms
    lines: list[Line] = []

    # Rows 1-2: one big query, cache off.
    await bench.set_latency(latency)
    for number, unique in ((1, VERSIONS), (2, VERSIONS // 2)):
        versions = [1 + i % unique for i in range(VERSIONS)]
        call = many_call(versions)
        where = f"row {number}"
        off = await bench.rounds(servers["off"], call, args.rounds, where)
        lean = await bench.rounds(servers["lean"], call, args.rounds, where)
        naive = await bench.rounds(servers["naive"], call, 1, where)
        waves = math.ceil(unique / POOL)
        limit = waves * latency / 1000
        lines.append(
            f"{number}. {VERSIONS} refs over {unique} unique, one imageVersions query, "
            f"cache off, {latency:g} ms per call"
        )
        lines.append(("   DescribeImageVersion calls", off.calls, lean.calls, naive.calls))
        lines.append(
            (
                f"   wall ms (median of {args.rounds}; naive once)",
                off.seconds * 1000,
                lean.seconds * 1000,
                naive.seconds * 1000,
            )
        )
        cpu_ms = [None if r.cpu is None else r.cpu * 1000 for r in (off, lean, naive)]
        lines.append(("   server CPU ms in that query", cpu_ms[0], cpu_ms[1], cpu_ms[2]))
        lines.append(
            (
                f"   x limit ({waves} x {latency:g} ms = {limit * 1000:g} ms)",
                off.seconds / limit if limit else None,
                lean.seconds / limit if limit else None,
                naive.seconds / limit if limit else None,
            )
        )

    # Row 3: the same 200-ref query twice, cache memory (the peer has no cache).
    call = many_call(list(range(1, VERSIONS + 1)))
    cold = await bench.once(servers["memory"], call, "row 3 1st")
    warm = await bench.once(servers["memory"], call, "row 3 2nd")
    await bench.once(servers["lean"], call, "row 3 1st")
    lean_again = await bench.once(servers["lean"], call, "row 3 2nd")
    print(
        f"row 3: service cold {cold.seconds * 1000:.0f} ms {cold.calls} calls, "
        f"warm {warm.seconds * 1000:.0f} ms {warm.calls} calls",
        file=sys.stderr,
        flush=True,
    )
    lines.append(f"3. the same {VERSIONS}-ref query again, cache memory, {latency:g} ms per call")
    lines.append(("   1st query: DescribeImageVersion calls", cold.calls, None, None))
    again = ("   2nd query: DescribeImageVersion calls (target 0)", warm.calls, lean_again.calls)
    lines.append((*again, None))
    lines.append(("   2nd query: wall ms", warm.seconds * 1000, lean_again.seconds * 1000, None))

    # Row 4: load at 0 ms latency, after the ceiling (row 8 reports it; the cache-on rows are
    # fractions of it): the fixed-bytes server answers with the service's own single-version
    # answer.
    await bench.set_latency(0)
    one = [one_call(1)]
    status, answer = await fetch(
        HOST, servers["memory"].port, "POST", "/graphql", one[0].body, args.timeout
    )
    bench.failures.judge("the ceiling's answer", one[0], status, answer, parse=True)
    await fetch(HOST, servers["fixed"].port, "PUT", "/_answer", answer)
    ceiling = await bench.load("row 4 ceiling, fixed-bytes server", [servers["fixed"]], one)
    ten = [many_call([1 + (10 * block + i) % VERSIONS for i in range(10)]) for block in range(20)]
    lines.append(
        f"4. load: {args.clients} clients x {args.seconds:g} s each, 0 ms per call; "
        "the lean peer has no cache"
    )
    row_4: dict[str, dict[str, Load]] = {}
    for query, calls in (("single version", one), ("10 refs", ten)):
        results = row_4[query] = {}
        for key in ("off", "memory", "lean"):
            server = servers[key]
            results[key] = await bench.load(f"row 4 {query}, {server.label}", [server], calls)
        peer = results["lean"]
        for key, cache in (("off", "cache off"), ("memory", "cache memory")):
            mine = results[key]
            cache_on = ceiling if key == "memory" else None
            lines += load_lines(f"   {query}, {cache}: ", mine, peer, cache_on)
            lines.append(
                (
                    f"   {query}, {cache}: endpoint CPU ms/request",
                    mine.endpoint_cpu_ms,
                    peer.endpoint_cpu_ms,
                    None,
                )
            )
            lines.append(
                (
                    f"   {query}, {cache}: upstream calls/request",
                    mine.calls_per_request,
                    peer.calls_per_request,
                    None,
                )
            )

    # Row 6 (measured before row 5, which reads the peaks at the end).
    await bench.set_latency(latency)
    pair = [servers["redis-a"], servers["redis-b"]]
    peers = [servers["lean"], servers["lean-b"]]
    replicas = await bench.load("row 6 service A+B, redis", pair, one, count_warmup=True)
    lean_pair = await bench.load("row 6 lean peers A+B", peers, one, count_warmup=True)

    lines.append("5. peak RSS MiB (VmHWM), each server process over the whole run")

    def hwm(key: str) -> float | None:
        peak = hwm_bytes(servers[key].pid)
        return None if peak is None else peak / 2**20

    lean_rss, naive_rss = hwm("lean"), hwm("naive")
    for key in ("off", "memory", "redis-a", "redis-b"):
        lines.append((f"   {servers[key].label}", hwm(key), lean_rss, naive_rss))

    lines.append(
        f"6. two replicas, single-version query, clients alternate, {latency:g} ms per call "
        "(service: cache redis; peer: two lean peers)"
    )
    lines.append(("   req/s", replicas.rps, lean_pair.rps, None, ceiling.rps))
    lines.append(("   p50 ms", replicas.ms(0.5), lean_pair.ms(0.5), None))
    lines.append(("   p99 ms", replicas.ms(0.99), lean_pair.ms(0.99), None))
    lines.append(("   CPU ms/request (both processes)", replicas.cpu_ms, lean_pair.cpu_ms, None))
    label = "   DescribeImageVersion calls, from the first request (target 1)"
    lines.append((label, replicas.calls, lean_pair.calls, None))

    # Row 7, last: nothing measured above runs beside it.
    half = TWO_TARGET_REFS // 2
    lines.append(
        f"7. 2 targets, {TWO_TARGET_REFS} refs: {half} in {REGIONS[0]} + {half} in {REGIONS[1]}, "
        f"one imageVersions query, cache off, pool {POOL} per target, median of {args.rounds}"
    )
    for each in (latency, args.far_latency_ms):
        lines += await two_targets(bench, servers["targets"], each)

    # Row 8, after row 5's peaks: the mix's kept answers do not count in them.
    await bench.set_latency(0)
    mix = mix_calls()
    await bench.warm(servers["memory"], mix, "row 8 warm mix, 1 worker, warm-up")
    one_worker = await bench.load("row 8 warm mix, 1 worker", [servers["memory"]], mix)
    await bench.warm(servers["workers-2"], mix, "row 8 warm mix, 2 workers, warm-up")
    two_workers = await bench.load("row 8 warm mix, 2 workers", [servers["workers-2"]], mix)
    lean_mix = await bench.load("row 8 warm mix, lean peer", [servers["lean"]], mix)
    ceiling_two = stack.start_ceiling_on_workers(2, answer)
    await wait_until_ok(
        ceiling_two.child, HOST, ceiling_two.port, "/healthz", time.monotonic() + STARTUP_SECONDS
    )
    two_ceilings = await bench.load("row 8 ceiling, 2 workers", [ceiling_two], one)
    lean_one = row_4["single version"]["lean"]
    lines.append(
        f"8. against the ceiling: a fixed-bytes server (uvicorn, httptools, uvloop, one process)"
        f" answering every POST with the service's single-version answer ({len(answer)} bytes),"
        f" measured before row 4; 0 ms per call; the load generator shares the {os.cpu_count()}"
        " CPUs"
    )
    lines += load_lines("   the ceiling (lean peer: single version): ", ceiling, lean_one, ceiling)
    lines.append(
        ("   the ceiling: load generator CPU ms/request", ceiling.generator_cpu_ms, None, None)
    )
    hit = row_4["single version"]["memory"]
    lines += load_lines(
        "   pure response-cache hit (row 4, cache memory): ", hit, lean_one, ceiling
    )
    lines.append(
        f"   warm mix: {len(mix)} different imageVersion requests cycled ({VERSIONS} versions x"
        f" {len(SELECTIONS)} selections), cache memory, warmed until every worker kept every"
        " answer; the lean peer (one process) fetches each"
    )
    for workers, served in (("1 worker", one_worker), ("2 workers", two_workers)):
        at = f"   warm mix, {workers}: "
        lines += load_lines(at, served, lean_mix, ceiling)
        upstream = served.calls_per_request, lean_mix.calls_per_request
        lines.append((f"{at}upstream calls/request", *upstream, None))
        generator = served.generator_cpu_ms, lean_mix.generator_cpu_ms
        lines.append((f"{at}load generator CPU ms/request", *generator, None))
    lines += scaling_lines("   warm mix, 2 workers / 1: ", two_workers, one_worker)
    lines += load_lines("   the ceiling, 2 workers: ", two_ceilings, None, ceiling)
    lines += scaling_lines("   the ceiling, 2 workers / 1: ", two_ceilings, ceiling)

    title = (
        f"bench: pool {POOL}, {VERSIONS} versions, {args.clients} clients, {args.seconds:g} s per "
        f"load (after {args.warmup:g} s warm-up), {args.rounds} rounds, {os.cpu_count()} CPUs, "
        f"the service logging at {args.service_log_level}" + (" [--quick]" if args.quick else "")
    )
    return render(title, lines)


async def two_targets(bench: Bench, server: Server, latency: float) -> list[Line]:
    """Row 7 at ``latency`` per call in both regions: one query of refs split 50/50 between two
    targets, against the same refs in one target and against each half on its own (on the same
    service, so only the split differs)."""
    await bench.set_latency(latency, REGIONS)
    rounds, half = bench.args.rounds, TWO_TARGET_REFS // 2
    home, other = REGIONS
    first, second = list(range(1, half + 1)), list(range(half + 1, TWO_TARGET_REFS + 1))
    split_call = many_call(first + second, [home] * half + [other] * half)

    async def timed(call: Call, what: str) -> Single:
        # The split query warms every measurement up: both targets open, both pools full.
        where = f"row 7 {latency:g} ms {what}"
        return await bench.rounds(server, call, rounds, where, warm_up=split_call)

    split = await timed(split_call, "2 targets")
    by_target = await bench.calls_by_target()
    expected = {f"{region}/{TARGETS[0]['account']}": half for region in REGIONS}
    if by_target != expected:
        bench.failures.note("row 7 2 targets", f"calls by target {by_target}, not {expected}")
    one = await timed(many_call(first + second, [home] * TWO_TARGET_REFS), "one target")
    halves = [
        await timed(many_call(first, [home] * half), f"{home} half"),
        await timed(many_call(second, [other] * half), f"{other} half"),
    ]
    total = sum(h.seconds for h in halves)
    at = f"   {latency:g} ms:"
    split_cpu = None if split.cpu is None else split.cpu * 1000
    return [
        (f"{at} DescribeImageVersion calls, 2 targets", split.calls, None, None),
        (f"{at} wall ms, 2 targets", split.seconds * 1000, None, None),
        (f"{at} server CPU ms, 2 targets", split_cpu, None, None),
        (f"{at} wall ms, all {TWO_TARGET_REFS} in {home}", one.seconds * 1000, None, None),
        (f"{at} wall ms, {home}'s {half} alone", halves[0].seconds * 1000, None, None),
        (f"{at} wall ms, {other}'s {half} alone", halves[1].seconds * 1000, None, None),
        (f"{at} wall ms, sum of the halves", total * 1000, None, None),
        (f"{at} 2 targets / all in one", split.seconds / one.seconds, None, None),
        (
            f"{at} 2 targets / slower half",
            split.seconds / max(h.seconds for h in halves),
            None,
            None,
        ),
        (f"{at} 2 targets / sum of the halves", split.seconds / total, None, None),
    ]


# --- Main ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, help="each load's length (15; 3 with --quick)")
    parser.add_argument(
        "--latency-ms", type=float, default=20, help="endpoint latency per call, rows 1-3, 6, 7"
    )
    parser.add_argument(
        "--far-latency-ms",
        type=float,
        default=100,
        help="row 7 again at this latency per call: a far region's, where waits outweigh CPU",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients in a load")
    parser.add_argument(
        "--rounds", type=int, help="timed rounds of rows 1-2 and 7 (3; 1 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument(
        "--service-log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="the service's SMGQL_LOG_LEVEL (info, its default, logs a line per request)",
    )
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 3.0 if args.quick else 15.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    args.warmup = 0.5 if args.quick else 2.0
    if args.seconds <= 0 or args.clients < 1 or args.rounds < 1 or args.timeout <= 0:
        parser.error("--seconds, --clients, --rounds and --timeout must be positive")
    if not (0 <= args.latency_ms <= 60_000 and 0 <= args.far_latency_ms <= 60_000):
        parser.error("--latency-ms and --far-latency-ms must be between 0 and 60000")
    return args


def on_sigterm(number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    # Ctrl-C and SIGTERM stop the run and its processes, even in a background job (which
    # starts with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)
    with log_dir(args.keep_logs, prefix="smgql-bench-") as (logs, failed):
        stack = Stack(logs, args.service_log_level)
        bench = Bench(stack, args)
        try:
            # Every child is started while this process has no thread (Child's preexec_fn).
            stack.start_base()
            asyncio.run(wait_base(stack))
            stack.start_servers()
            print(f"started {len(stack.children)} processes", file=sys.stderr, flush=True)
            table = asyncio.run(run(bench))
        except StartError as error:
            failed[0] = True
            print(f"error: {error}", file=sys.stderr)
            return 2
        except (asyncio.CancelledError, KeyboardInterrupt):
            failed[0] = True
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            stack.stop()
        print(table, flush=True)
        failures = bench.failures
        for example in failures.examples:
            print(f"failed: {example}", file=sys.stderr)
        print(f"result: {'OK' if not failures.count else f'FAILED ({failures.count} requests)'}")
        if failures.count:
            failed[0] = True
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main())
