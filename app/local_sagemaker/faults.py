"""Knobs that make the local endpoint behave like a slow or struggling AWS, and the counters that
let tests and benchmarks see what reached it.

Everything is off by default. Faults are spread evenly instead of drawn at random: a throttle rate
of 0.5 throttles every other call, so a test of botocore's retries is deterministic (the retry of
a throttled call always goes through) and a rate of 1.0 throttles every call. A plan may be limited
to calls signed for some regions, so a test can make one region's endpoint fail and no other.
STS calls are counted apart and never faulted: the plan plays a struggling SageMaker.

Besides throttling and server errors, a plan can give the answers a busy account gives, each only
to the operations whose model lists it, as AWS would: ``ResourceInUse`` for a resource
modified concurrently, ``ResourceLimitExceeded`` for a service quota reached, and
``ExpiredTokenException`` for temporary credentials past their expiry. Base images matching a
planned pattern make versions that end ``CREATE_FAILED``, as a base image SageMaker cannot pull.
"""

from __future__ import annotations

import asyncio
import fnmatch
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from app.local_sagemaker.protocol import AwsError
from app.local_sagemaker.shapes import operation_model
from app.local_sagemaker.targets import Target


@dataclass(frozen=True)
class FaultPlan:
    """What the endpoint does to each call before serving it."""

    latency: float = 0.0
    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    rejected_access_keys: frozenset[str] = field(default_factory=frozenset)
    # Glob patterns (fnmatch) of base images whose versions end CREATE_FAILED.
    failing_base_images: frozenset[str] = field(default_factory=frozenset)
    resource_in_use_rate: float = 0.0
    resource_limit_exceeded_rate: float = 0.0
    expired_access_keys: frozenset[str] = field(default_factory=frozenset)
    # The regions whose calls the plan applies to; empty, every region.
    regions: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Written so that NaN, which fails every comparison, fails the check too.
        if not 0.0 <= self.latency <= 60.0:
            raise ValueError("latency must be between 0 and 60 seconds")
        for name in _RATES.values():
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")

    @classmethod
    def from_json(cls, body: Any) -> FaultPlan:
        """Parse the control API's camelCase JSON; raises ValueError with a readable reason."""
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        known = {"latencyMs", *_RATES, *_STRING_SETS}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}; known: {sorted(known)}")
        fields: dict[str, Any] = {name: _number(body, member) for member, name in _RATES.items()}
        fields.update({name: _strings(body, member) for member, name in _STRING_SETS.items()})
        return cls(latency=_number(body, "latencyMs") / 1000, **fields)

    def to_json(self) -> dict[str, Any]:
        return {
            "latencyMs": self.latency * 1000,
            **{member: getattr(self, name) for member, name in _RATES.items()},
            **{member: sorted(getattr(self, name)) for member, name in _STRING_SETS.items()},
        }

    def applies_to(self, target: Target | None) -> bool:
        return not self.regions or target is None or target.region in self.regions


# The control API's members of the plan, beside latencyMs: JSON member -> field.
_RATES = {
    "throttleRate": "throttle_rate",
    "serverErrorRate": "server_error_rate",
    "resourceInUseRate": "resource_in_use_rate",
    "resourceLimitExceededRate": "resource_limit_exceeded_rate",
}
_STRING_SETS = {
    "rejectedAccessKeys": "rejected_access_keys",
    "expiredAccessKeys": "expired_access_keys",
    "failingBaseImages": "failing_base_images",
    "regions": "regions",
}


def _strings(body: dict[str, Any], member: str) -> frozenset[str]:
    """A member of the control API's JSON that lists strings; empty when absent."""
    values = body.get(member, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{member} must be a list of strings")
    return frozenset(values)


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
        self._spreads = _spreads()
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
            self._spreads = _spreads()

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

    def base_image_failure(self, base_image: str) -> str | None:
        """Why a version of ``base_image`` fails to build under the plan; ``None``: it builds."""
        patterns = self.plan.failing_base_images
        if not any(fnmatch.fnmatchcase(base_image, pattern) for pattern in patterns):
            return None
        return (
            f"ClientError: Unable to pull image {base_image}: the image does not exist or the"
            " image's role is not authorized to pull it."
        )

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
            self._raise_planned_conflict(plan, operation)
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
        if access_key is not None and access_key in plan.expired_access_keys:
            # AWS JSON services answer an expired session token with a 400 of this code.
            raise AwsError(
                "ExpiredTokenException", "The security token included in the request is expired"
            )
        with self._lock:
            throttled = self._spreads["throttle_rate"].fire(plan.throttle_rate)
            broken = not throttled and self._spreads["server_error_rate"].fire(
                plan.server_error_rate
            )
        if throttled:
            raise AwsError("ThrottlingException", "Rate exceeded")
        if broken:
            raise AwsError("InternalFailure", "The local endpoint failed on purpose", status=500)

    def _raise_planned_conflict(self, plan: FaultPlan, operation: str) -> None:
        """ResourceInUse or ResourceLimitExceeded, for the operations whose model lists it."""
        errors = _modelled_errors(operation)
        with self._lock:
            in_use = "ResourceInUse" in errors and self._spreads["resource_in_use_rate"].fire(
                plan.resource_in_use_rate
            )
            limited = (
                not in_use
                and "ResourceLimitExceeded" in errors
                and self._spreads["resource_limit_exceeded_rate"].fire(
                    plan.resource_limit_exceeded_rate
                )
            )
        if in_use:
            raise AwsError(
                "ResourceInUse",
                f"{operation} could not complete: the resource is being modified concurrently."
                " Please try again.",
            )
        if limited:
            # The shape of SageMaker's quota messages.
            raise AwsError(
                "ResourceLimitExceeded",
                f"The account-level service limit for {operation} has been reached, with current"
                " utilization at the limit. Please use AWS Service Quotas to request an"
                " increase for this quota.",
            )


def _spreads() -> dict[str, _EvenSpread]:
    return {name: _EvenSpread() for name in _RATES.values()}


def _modelled_errors(operation: str) -> set[str]:
    # Only operations the endpoint serves reach the faults, and the model has each of them.
    return {shape.name for shape in operation_model(operation).error_shapes}
