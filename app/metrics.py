"""The service's Prometheus metrics, served at ``/metrics``.

One module names every metric, so an operator can read here what the service measures:

* upstream: SageMaker calls by operation and outcome, their latency, botocore's retries, calls
  in flight, rate-limit waits;
* cache: hits, misses and stale answers by store, and waits coalesced onto another's fetch;
* loaders: how many keys each batch held;
* GraphQL and HTTP: requests by operation name and outcome, request latency;

and, for one request, what it cost (:class:`RequestCost`: upstream calls, cache hits, waits,
retries, the budget's estimate), which a response may carry as ``extensions.cost``.

With several worker processes (``SMGQL_WORKERS``), prometheus-client's multiprocess mode sums
their values: ``app.web.server.serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before the workers start (and removes it when they stop), and ``/metrics`` reads every worker's
file from it.

Label values are bounded: operation names come from a client, so only the first
:data:`MAX_OPERATION_NAMES` distinct ones get a label of their own and the rest count as
``other``; paths are the service's routes or ``other``.
"""

from __future__ import annotations

import math
import os
from contextvars import ContextVar
from dataclasses import dataclass
from threading import Lock

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


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, summed over workers when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


@dataclass
class RequestCost:
    """What one request cost, for its ``extensions.cost`` (``SMGQL_COST_EXTENSION``)."""

    upstream_calls: int = 0
    cache_hits: int = 0
    coalesced_waits: int = 0
    retries: int = 0
    estimated_objects: int | None = None
    response_cache_hit: bool = False
    # Seconds the shortest-lived answer the request used stays fresh: how long the response
    # may be reused (inf until an answer is noted; 0 once a stale one is).
    fresh_for: float = math.inf

    def as_extension(self) -> dict[str, int | None]:
        return {
            "upstreamCalls": self.upstream_calls,
            "cacheHits": self.cache_hits,
            "coalescedWaits": self.coalesced_waits,
            "retries": self.retries,
            "estimatedObjects": self.estimated_objects,
            "responseCacheHit": self.response_cache_hit,
        }


# The cost of the request being served. Tasks started while serving it (loader batches, a
# coalesced fetch) inherit it, so their calls count for the request that caused them.
current_cost: ContextVar[RequestCost | None] = ContextVar("current_cost", default=None)


def upstream_call(operation: str, outcome: str, seconds: float, retries: int) -> None:
    UPSTREAM_CALLS.labels(operation, outcome).inc()
    UPSTREAM_SECONDS.labels(operation).observe(seconds)
    if retries:
        UPSTREAM_RETRIES.labels(operation).inc(retries)
    if (cost := current_cost.get()) is not None:
        cost.upstream_calls += 1
        cost.retries += retries


def cache_lookup(store: str, result: str) -> None:
    CACHE_LOOKUPS.labels(store, result).inc()
    if result != "miss" and (cost := current_cost.get()) is not None:
        cost.cache_hits += 1


def coalesced_wait(store: str) -> None:
    CACHE_COALESCED.labels(store).inc()
    if (cost := current_cost.get()) is not None:
        cost.coalesced_waits += 1


def answer_fresh_for(seconds: float) -> None:
    """Note that the request used an answer fresh for ``seconds`` more."""
    if (cost := current_cost.get()) is not None:
        cost.fresh_for = min(cost.fresh_for, max(seconds, 0.0))


def estimated_objects(count: int) -> None:
    if (cost := current_cost.get()) is not None:
        cost.estimated_objects = count
