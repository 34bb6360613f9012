"""Knobs that make the local endpoint behave like a slow or struggling AWS, and the counters that
let tests and benchmarks see what reached it.

Everything is off by default. Faults are spread evenly instead of drawn at random: a throttle rate
of 0.5 throttles every other call, so a test of botocore's retries is deterministic (the retry of
a throttled call always goes through) and a rate of 1.0 throttles every call. A plan may be limited
to calls signed for some regions, so a test can make one region's endpoint fail and no other.
STS calls are counted apart and never faulted: the plan plays a struggling SageMaker.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from app.local_sagemaker.protocol import AwsError
from app.local_sagemaker.targets import Target


@dataclass(frozen=True)
class FaultPlan:
    """What the endpoint does to each call before serving it."""

    latency: float = 0.0
    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    rejected_access_keys: frozenset[str] = field(default_factory=frozenset)
    # The regions whose calls the plan applies to; empty, every region.
    regions: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Written so that NaN, which fails every comparison, fails the check too.
        if not 0.0 <= self.latency <= 60.0:
            raise ValueError("latency must be between 0 and 60 seconds")
        for name in ("throttle_rate", "server_error_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")

    @classmethod
    def from_json(cls, body: Any) -> FaultPlan:
        """Parse the control API's camelCase JSON; raises ValueError with a readable reason."""
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        known = {"latencyMs", "throttleRate", "serverErrorRate", "rejectedAccessKeys", "regions"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}; known: {sorted(known)}")
        keys = body.get("rejectedAccessKeys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError("rejectedAccessKeys must be a list of strings")
        regions = body.get("regions", [])
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise ValueError("regions must be a list of strings")
        latency_ms, throttle_rate, server_error_rate = (
            _number(body, member) for member in ("latencyMs", "throttleRate", "serverErrorRate")
        )
        return cls(
            latency_ms / 1000, throttle_rate, server_error_rate, frozenset(keys), frozenset(regions)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "latencyMs": self.latency * 1000,
            "throttleRate": self.throttle_rate,
            "serverErrorRate": self.server_error_rate,
            "rejectedAccessKeys": sorted(self.rejected_access_keys),
            "regions": sorted(self.regions),
        }

    def applies_to(self, target: Target | None) -> bool:
        return not self.regions or target is None or target.region in self.regions


def _number(body: dict[str, Any], member: str) -> float:
    """A member of the control API's JSON as a float; 0 when absent."""
    value = body.get(member, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{member} must be a number")
    try:
        return float(value)
    except OverflowError:
        # An integer of hundreds of digits: JSON allows it, a float cannot hold it.
        raise ValueError(f"{member} is out of range") from None


class _EvenSpread:
    """Says yes to ``rate`` of its calls, evenly spaced and starting with a yes, so that any rate
    above zero shows from the first call: 0.5 -> yes, no, yes, no; 0.25 -> yes, no, no, no, yes."""

    def __init__(self) -> None:
        self._credit = 0.0

    def fire(self, rate: float) -> bool:
        if rate <= 0:
            return False
        fired = self._credit <= 1e-9
        if fired:
            self._credit += 1.0
        self._credit -= rate
        return fired


class Faults:
    """The current :class:`FaultPlan` plus the call counters. Thread-safe."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self.plan = plan or FaultPlan()
        self._throttle = _EvenSpread()
        self._server_error = _EvenSpread()
        self._calls: Counter[str] = Counter()
        self._calls_by_target: dict[Target, Counter[str]] = {}
        self._sts_calls: Counter[str] = Counter()
        self._in_flight = 0
        self._peak_in_flight = 0
        # Notified as each call arrives, for whoever waits for one to be in flight.
        self._arrivals = threading.Condition(self._lock)

    def configure(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan = plan
            self._throttle = _EvenSpread()
            self._server_error = _EvenSpread()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self._calls),
                "byTarget": {
                    str(target): dict(calls) for target, calls in self._calls_by_target.items()
                },
                "sts": dict(self._sts_calls),
                "inFlight": self._in_flight,
                "peakInFlight": self._peak_in_flight,
            }

    def wait_in_flight(self, timeout: float) -> bool:
        """Block until a call is in flight; False if none came within ``timeout`` seconds."""
        with self._arrivals:
            return self._arrivals.wait_for(lambda: self._in_flight > 0, timeout)

    def reset_stats(self) -> None:
        with self._lock:
            self._calls.clear()
            self._calls_by_target.clear()
            self._sts_calls.clear()
            self._peak_in_flight = self._in_flight

    def count_sts(self, action: str) -> None:
        with self._lock:
            self._sts_calls[action] += 1

    @asynccontextmanager
    async def call(
        self, operation: str, access_key: str | None, target: Target | None = None
    ) -> AsyncIterator[None]:
        """Count one call, hold it for the planned latency, then maybe fail it.

        The latency is an ``asyncio.sleep``, so concurrent calls overlap instead of queueing, as
        they would against AWS; the in-flight count spans it, which is what lets a test see that
        a client really ran its calls concurrently.
        """
        with self._lock:
            self._calls[operation] += 1
            if target is not None:
                self._calls_by_target.setdefault(target, Counter())[operation] += 1
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            self._arrivals.notify_all()
            plan = self.plan if self.plan.applies_to(target) else FaultPlan()
        try:
            if plan.latency:
                await asyncio.sleep(plan.latency)
            self._raise_planned_fault(plan, access_key)
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _raise_planned_fault(self, plan: FaultPlan, access_key: str | None) -> None:
        if access_key is not None and access_key in plan.rejected_access_keys:
            raise AwsError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                status=403,
            )
        with self._lock:
            throttled = self._throttle.fire(plan.throttle_rate)
            broken = not throttled and self._server_error.fire(plan.server_error_rate)
        if throttled:
            raise AwsError("ThrottlingException", "Rate exceeded")
        if broken:
            raise AwsError("InternalFailure", "The local endpoint failed on purpose", status=500)
