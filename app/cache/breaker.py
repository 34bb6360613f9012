"""A circuit breaker for a shared cache store: Redis is a cache, never a dependency.

A store that fails or stalls must not slow the service down: without a breaker, every request
would wait out each of its store calls' time boxes in turn (a look-up, a lock, a write...), and
a stalled Redis would bring throughput to nothing. So the breaker is shared by every caller of
the store: it opens after :attr:`~CircuitBreaker.failures_to_open` failures in a row, or at once
on one call that timed out while the store answered nothing else (a stall: the callers in flight
wait at most their own time boxes, and no call after it waits at all). A call that timed out
while other calls were answered is no stall but this process's own delay (a busy event loop):
that call fails alone, and the breaker stays closed. While it is open every
store call is bypassed (a miss, a skipped write, a granted lock: the answers come from
SageMaker). After ``cooldown`` seconds the next call is let through as a probe, alone: its
success closes the breaker, its failure opens it for another cool-down. What calls let through
before it opened say late (an answer, a timeout) changes nothing while it is open.

The clock is injected (monotonic by default: a cool-down must not stretch when the wall clock
steps back), so tests move it instead of waiting.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from enum import Enum

from app import metrics

log = logging.getLogger("app.cache")


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        store: str,
        failures_to_open: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.failures_to_open = failures_to_open
        self.cooldown = cooldown
        self.clock = clock
        self.state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._answered_at = -math.inf
        metrics.CACHE_STORE_BYPASSED.labels(store).set(0)

    @property
    def bypassing(self) -> bool:
        """Whether the store is being bypassed: open, or waiting on its probe."""
        return self.state is not BreakerState.CLOSED

    def allows(self) -> bool:
        """Whether a call may go to the store now; False means bypass it."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if self.clock() - self._opened_at < self.cooldown:
                return False
            self.state = BreakerState.HALF_OPEN
        if self._probing:
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        """A call answered within its time box: while closed, the failures in a row start
        again; half-open, the probe says the store is back. While open, a late answer to a call
        let through before it opened changes nothing: the cool-down runs its course."""
        self._answered_at = self.clock()
        if self.state is BreakerState.OPEN:
            return
        self._failures = 0
        self._probing = False
        if self.state is BreakerState.HALF_OPEN:
            self.state = BreakerState.CLOSED
            metrics.CACHE_STORE_BYPASSED.labels(self.store).set(0)
            log.warning({"event": "cache_store_resumed", "store": self.store})

    def failed(self, stalled: bool) -> None:
        """A call failed; ``stalled`` when it outran its time box, which opens the breaker at
        once (the next caller would only wait as long). Half-open, the probe's failure opens it
        again; while open, a late failure changes nothing."""
        if self.state is BreakerState.OPEN:
            return
        self._probing = False
        self._failures += 1
        if (
            stalled
            or self.state is BreakerState.HALF_OPEN
            or self._failures >= self.failures_to_open
        ):
            self._open("stall" if stalled else f"{self._failures} failures in a row")

    def timed_out(self, started: float) -> bool:
        """A call let through at ``started`` (by :attr:`clock`) outran its time box: whether
        that is a stall, which opens the breaker at once. It is not when the store answered
        another call since this one began: then the wait was this process's own (a busy event
        loop, a queue for a connection), as under a burst of load, and says nothing of the
        store. Half-open, the probe's timeout is always a stall."""
        if self.state is BreakerState.CLOSED and self._answered_at > started:
            return False
        self.failed(stalled=True)
        return True

    def abandoned(self) -> None:
        """A call let through was cancelled (its caller gave up) before it said anything of the
        store: the next call may probe instead."""
        self._probing = False

    def _open(self, reason: str) -> None:
        was = self.state
        self.state = BreakerState.OPEN
        self._opened_at = self.clock()
        if was is BreakerState.HALF_OPEN:
            return  # still bypassed: said when it began
        metrics.CACHE_STORE_BYPASSED.labels(self.store).set(1)
        log.warning(
            {
                "event": "cache_store_bypassed",
                "store": self.store,
                "reason": reason,
                "cooldown_seconds": self.cooldown,
            }
        )
