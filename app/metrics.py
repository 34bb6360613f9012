"""The service's Prometheus metrics, served at ``/metrics``.

One module names every metric, so an operator can read here what the service measures:

* upstream: SageMaker calls by operation and outcome, their latency, botocore's retries, calls
  in flight, rate-limit waits;
* cache: hits, misses and stale answers by store, waits coalesced onto another's fetch, and
  whether the store (Redis) is bypassed, with its failures and the calls that skipped it;
* loaders: how many keys each batch held;
* GraphQL and HTTP: requests by operation name and outcome, request latency;
* subscriptions: those running, the version pollers they share, the events sent.

What one request cost is its ledger's to say (``app.ledger``), not this module's.

With several worker processes (``SMGQL_WORKERS``), prometheus-client's multiprocess mode sums
their values: ``app.web.server.serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before the workers start (and removes it when they stop), and ``/metrics`` reads every worker's
file from it. The two metrics every request moves (GraphQL requests, HTTP latency) are counted
in bulk, at most :data:`COUNT_INTERVAL` after the request: a scrape sees the scraped worker's
requests all, and another worker's up to that interval late.

Label values are bounded: operation names come from a client, so only the first
:data:`MAX_OPERATION_NAMES` distinct ones get a label of their own and the rest count as
``other``; paths are the service's routes or ``other``.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import functools
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from threading import Lock
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MAX_OPERATION_NAMES = 200

T = TypeVar("T")

log = logging.getLogger("app.metrics")

UPSTREAM_CALLS = Counter(
    "smgql_upstream_calls_total",
    "SageMaker calls by operation and outcome.",
    ["operation", "outcome"],
)
UPSTREAM_SECONDS = Histogram(
    "smgql_upstream_call_seconds",
    "Seconds a SageMaker call took, retries included.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
UPSTREAM_RETRIES = Counter(
    "smgql_upstream_retries_total", "Retries botocore made of SageMaker calls.", ["operation"]
)
UPSTREAM_IN_FLIGHT = Gauge(
    "smgql_upstream_in_flight", "SageMaker calls in flight.", multiprocess_mode="livesum"
)
RATE_LIMIT_WAITS = Counter(
    "smgql_rate_limit_waits_total", "Calls that waited for the rate limit.", ["operation"]
)
CACHE_LOOKUPS = Counter(
    "smgql_cache_lookups_total",
    "Cache lookups by store and result (hit, miss, stale).",
    ["store", "result"],
)
CACHE_COALESCED = Counter(
    "smgql_cache_coalesced_total", "Misses that waited for another caller's fetch.", ["store"]
)
CACHE_STORE_BYPASSED = Gauge(
    "smgql_cache_store_bypassed",
    "1 while the cache store is bypassed (its breaker is open: it failed or stalled), summed"
    " over workers.",
    ["store"],
    multiprocess_mode="livesum",
)
CACHE_STORE_BYPASSED_CALLS = Counter(
    "smgql_cache_store_bypassed_calls_total",
    "Store calls skipped while the store is bypassed, by action (get, put, lock, unlock).",
    ["store", "action"],
)
CACHE_STORE_FAILURES = Counter(
    "smgql_cache_store_failures_total",
    "Store calls that failed, by action and failure (error, or timeout: past its time box).",
    ["store", "action", "failure"],
)
BATCH_SIZE = Histogram(
    "smgql_loader_batch_keys",
    "Keys in one DataLoader batch.",
    ["loader"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200),
)
GRAPHQL_REQUESTS = Counter(
    "smgql_graphql_requests_total",
    "GraphQL requests by operation name and outcome (ok, or the first error code).",
    ["operation", "outcome"],
)
HTTP_SECONDS = Histogram(
    "smgql_http_request_seconds",
    "Seconds from request to response, by route and status class.",
    ["route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

SUBSCRIPTIONS_ACTIVE = Gauge(
    "smgql_subscriptions_active",
    "Subscriptions running over WebSocket, summed over workers.",
    multiprocess_mode="livesum",
)
SUBSCRIPTION_EVENTS = Counter(
    "smgql_subscription_events_total", "Events (next messages) sent to subscriptions."
)
WATCH_POLLERS = Gauge(
    "smgql_watch_pollers",
    "Image versions polled for subscriptions (one poller each, however many follow it), summed"
    " over workers.",
    multiprocess_mode="livesum",
)

_names: set[str] = set()
_names_lock = Lock()


def operation_label(name: str | None) -> str:
    """A bounded label for a client-given operation name."""
    if not name:
        return "anonymous"
    with _names_lock:
        if name in _names:
            return name
        if len(_names) < MAX_OPERATION_NAMES and len(name) <= 100:
            _names.add(name)
            return name
    return "other"


class WaitingRequests:
    """The two metrics every request moves, waiting to be counted in bulk (:meth:`count`):
    before every exposition, and every :data:`COUNT_INTERVAL` while the app runs
    (:func:`counting_waiting`).

    Each value prometheus-client keeps takes a lock to move, and with several workers writes
    its file: through it, a request's count and time were 16,000 of an answer from the response
    cache's 300,000 instructions under callgrind (four locks). An append to a deque takes none
    and is atomic, from any thread."""

    def __init__(self) -> None:
        self.graphql: deque[tuple[str | None, str]] = deque()
        self.http: deque[tuple[str, int, float]] = deque()

    def graphql_request(self, operation: str | None, outcome: str) -> None:
        """Count a GraphQL request of ``operation`` (a client's name) that ended in
        ``outcome``."""
        self.graphql.append((operation, outcome))

    def http_request(self, route: str, status: int, seconds: float) -> None:
        """Time an HTTP request to ``route`` (a bounded label) answered with ``status``."""
        self.http.append((route, status, seconds))

    def count(self) -> None:
        """Count the requests waiting since the last time into their metrics."""
        requests = collections.Counter(_taken(self.graphql))
        for (operation, outcome), count in requests.items():
            _graphql_requests(operation_label(operation), outcome).inc(count)
        timings: dict[tuple[str, int], list[float]] = collections.defaultdict(list)
        for route, status, seconds in _taken(self.http):
            timings[route, status].append(seconds)
        for (route, status), observed in timings.items():
            observe_all(_http_seconds(route, status), observed)


# The process's waiting requests.
WAITING = WaitingRequests()
graphql_request = WAITING.graphql_request
http_request = WAITING.http_request

# Seconds a request may wait to be counted: at most this stale is another worker's count at a
# scrape (the scraped worker counts its own first).
COUNT_INTERVAL = 1.0


@contextlib.asynccontextmanager
async def counting_waiting(
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    waiting: WaitingRequests = WAITING,
) -> AsyncIterator[None]:
    """While it lasts, ``waiting`` requests are counted every :data:`COUNT_INTERVAL` (as
    ``sleep`` waits it), and once more at its end (a stopping worker's last requests; what a
    worker killed, or stopped at once by a second signal, had not counted yet is lost)."""

    async def every_interval() -> None:
        while True:
            await sleep(COUNT_INTERVAL)
            try:
                waiting.count()
            except Exception:
                # A count that failed (a metrics file that cannot be written) loses what it
                # took; the next ones go on.
                log.exception({"event": "metrics_count_failed"})

    task = asyncio.create_task(every_interval())
    try:
        yield
    finally:
        task.cancel()
        waiting.count()


def observe_all(histogram: Histogram, observed: list[float]) -> None:
    """``histogram.observe`` of each of ``observed``, with one update of each bucket.

    prometheus-client has no public way to observe many values at once, so this moves the
    labelled histogram's own values (its bounds, buckets and sum); the unit tests check that it
    leaves the histogram as ``observe`` one value at a time does."""
    bounds = histogram._upper_bounds
    counts = [0] * len(bounds)
    for seconds in observed:
        # The first bound at or above it (the last bound is +Inf); NaN is below or above no
        # bound, and observe() counts it in none.
        if seconds == seconds:
            counts[bisect.bisect_left(bounds, seconds)] += 1
    histogram._sum.inc(sum(observed))
    for bucket, count in enumerate(counts):
        if count:
            histogram._buckets[bucket].inc(count)


def _taken(waiting: deque[T]) -> list[T]:
    """What ``waiting`` held, taken from it (a popleft at a time: another thread may add)."""
    taken = []
    try:
        while True:
            taken.append(waiting.popleft())
    except IndexError:
        return taken


# Each labelled child is looked up once: prometheus-client's labels() takes a lock and builds
# its key on every call. The labels are bounded, so are these caches.


@functools.cache
def _graphql_requests(operation: str, outcome: str) -> Counter:
    return GRAPHQL_REQUESTS.labels(operation, outcome)


@functools.cache
def _http_seconds(route: str, status: int) -> Histogram:
    return HTTP_SECONDS.labels(route, f"{status // 100}xx")


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, summed over workers when there are several."""
    WAITING.count()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def upstream_call(operation: str, outcome: str, seconds: float, retries: int) -> None:
    UPSTREAM_CALLS.labels(operation, outcome).inc()
    UPSTREAM_SECONDS.labels(operation).observe(seconds)
    if retries:
        UPSTREAM_RETRIES.labels(operation).inc(retries)
