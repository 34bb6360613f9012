"""The metrics every request moves wait and are counted in bulk (``app.metrics``): counted,
they read as if each request had been counted on its own."""

from __future__ import annotations

import asyncio
import math

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Histogram

from app import metrics
from tests.log_lines import logged

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1)


def _samples(histogram: Histogram) -> dict[str, float]:
    [family] = histogram.collect()
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_observing_all_at_once_is_observing_each() -> None:
    # On a bound, between bounds, past the last finite one, zero, and one value many times.
    observed = [0.005, 0.004, 0.0051, 0.1, 0.2, 30.0, 0.0, 0.025, 0.025, 0.025, 0.07, -1.0]
    one_by_one, all_at_once = (
        Histogram("h", "h", ["route"], buckets=BUCKETS, registry=CollectorRegistry())
        for _ in range(2)
    )
    for seconds in observed:
        one_by_one.labels("/graphql").observe(seconds)
    metrics.observe_all(all_at_once.labels("/graphql"), observed)
    assert _samples(all_at_once) == _samples(one_by_one)
    assert _samples(all_at_once)["h_count[('route', '/graphql')]"] == len(observed)


def test_observing_nan_all_at_once_is_observing_it() -> None:
    # observe() counts NaN in no bucket (it is no bound's <=), and sums it.
    one_by_one, all_at_once = (
        Histogram("h", "h", ["route"], buckets=BUCKETS, registry=CollectorRegistry())
        for _ in range(2)
    )
    for seconds in (0.001, math.nan):
        one_by_one.labels("/graphql").observe(seconds)
    metrics.observe_all(all_at_once.labels("/graphql"), [0.001, math.nan])
    counted, expected = _samples(all_at_once), _samples(one_by_one)
    sums = "h_sum[('route', '/graphql')]"
    assert math.isnan(counted.pop(sums))
    assert math.isnan(expected.pop(sums))
    assert counted == expected
    assert counted["h_count[('route', '/graphql')]"] == 1


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_waiting_requests_are_counted_with_their_labels() -> None:
    # Waiting of their own: an app another test left running counts only the process's.
    waiting = metrics.WaitingRequests()
    requests = ("smgql_graphql_requests_total", {"operation": "anonymous", "outcome": "ok"})
    named = ("smgql_graphql_requests_total", {"operation": "Counted", "outcome": "NOT_FOUND"})
    timed = ("smgql_http_request_seconds_count", {"route": "other", "status": "4xx"})
    before = [_value(name, **labels) for name, labels in (requests, named, timed)]
    for _ in range(3):
        waiting.graphql_request(None, "ok")
        waiting.http_request("other", 404, 0.002)
    waiting.graphql_request("Counted", "NOT_FOUND")
    waiting.http_request("other", 400, 0.2)
    # Waiting: not yet in the metrics.
    assert [_value(name, **labels) for name, labels in (requests, named, timed)] == before
    waiting.count()
    after = [_value(name, **labels) for name, labels in (requests, named, timed)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 1, 4]


def test_an_exposition_counts_what_waits() -> None:
    metrics.graphql_request("Exposed", "ok")
    text = metrics.exposition()[0].decode()
    assert 'smgql_graphql_requests_total{operation="Exposed",outcome="ok"} 1.0' in text


class Intervals:
    """The sleep of :func:`metrics.counting_waiting`, each interval over when the test says."""

    def __init__(self) -> None:
        self.slept: asyncio.Queue[float] = asyncio.Queue()
        self.over: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        self.slept.put_nowait(seconds)
        await self.over.get()

    async def begun(self) -> float:
        """The seconds of the interval the counting sleeps, once it sleeps."""
        return await self.slept.get()

    async def pass_one(self) -> None:
        """End the interval being slept, and wait until the next one begins: its count done."""
        self.over.put_nowait(None)
        await self.slept.get()


async def test_requests_are_counted_every_interval_while_counting_and_at_its_end() -> None:
    labels = {"operation": "Interval", "outcome": "ok"}
    waiting = metrics.WaitingRequests()
    intervals = Intervals()
    async with metrics.counting_waiting(intervals.sleep, waiting):
        assert await intervals.begun() == metrics.COUNT_INTERVAL
        waiting.graphql_request("Interval", "ok")
        assert _value("smgql_graphql_requests_total", **labels) == 0
        await intervals.pass_one()
        assert _value("smgql_graphql_requests_total", **labels) == 1
        waiting.graphql_request("Interval", "ok")
        waiting.graphql_request("Interval", "ok")
    assert _value("smgql_graphql_requests_total", **labels) == 3


async def test_a_count_that_fails_stops_no_later_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labels = {"operation": "AfterFailure", "outcome": "ok"}
    waiting = metrics.WaitingRequests()
    intervals = Intervals()

    def unwritable(observed: object) -> None:
        raise OSError("No space left on device")

    async with metrics.counting_waiting(intervals.sleep, waiting):
        await intervals.begun()
        with monkeypatch.context() as patched, logged("app.metrics") as lines:
            patched.setattr(metrics, "_taken", unwritable)
            await intervals.pass_one()
        assert [line["event"] for line in lines.lines] == ["metrics_count_failed"]
        waiting.graphql_request("AfterFailure", "ok")
        await intervals.pass_one()
        assert _value("smgql_graphql_requests_total", **labels) == 1
