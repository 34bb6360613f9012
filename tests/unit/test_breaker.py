"""The cache store's circuit breaker over a clock the test moves: when it opens, how long it
bypasses the store, its one probe, and what the metrics say meanwhile."""

from __future__ import annotations

from prometheus_client import REGISTRY

from app.cache.breaker import BreakerState, CircuitBreaker
from tests.fakes import FakeClock

COOLDOWN = 5.0


def breaker(clock: FakeClock, store: str = "unit") -> CircuitBreaker:
    return CircuitBreaker(store, failures_to_open=3, cooldown=COOLDOWN, clock=clock)


def bypassed_gauge(store: str) -> float | None:
    return REGISTRY.get_sample_value("smgql_cache_store_bypassed", {"store": store})


def test_failures_open_it_only_when_they_come_in_a_row() -> None:
    guard = breaker(FakeClock())
    guard.failed(stalled=False)
    guard.failed(stalled=False)
    guard.succeeded()
    guard.failed(stalled=False)
    guard.failed(stalled=False)
    assert not guard.bypassing
    assert guard.allows()
    guard.failed(stalled=False)
    assert guard.state is BreakerState.OPEN
    assert not guard.allows()


def test_one_stall_opens_it_at_once_for_every_caller() -> None:
    guard = breaker(FakeClock(), "stall")
    assert bypassed_gauge("stall") == 0
    guard.failed(stalled=True)
    assert guard.bypassing
    assert [guard.allows() for _ in range(10)] == [False] * 10
    assert bypassed_gauge("stall") == 1


def test_after_the_cooldown_one_call_probes_alone_and_its_success_closes_it() -> None:
    clock = FakeClock()
    guard = breaker(clock, "probe")
    guard.failed(stalled=True)
    clock.advance(COOLDOWN - 0.01)
    assert not guard.allows()
    clock.advance(0.01)
    assert guard.allows(), "the probe"
    assert guard.state is BreakerState.HALF_OPEN
    assert not guard.allows(), "others bypass while the probe is out"
    assert bypassed_gauge("probe") == 1
    guard.succeeded()
    assert not guard.bypassing
    assert [guard.allows() for _ in range(3)] == [True] * 3
    assert bypassed_gauge("probe") == 0


def test_a_failed_probe_bypasses_the_store_for_another_whole_cooldown() -> None:
    clock = FakeClock()
    guard = breaker(clock)
    guard.failed(stalled=True)
    clock.advance(COOLDOWN)
    assert guard.allows()
    clock.advance(0.25)  # the probe outruns its time box
    guard.failed(stalled=True)
    assert guard.state is BreakerState.OPEN
    clock.advance(COOLDOWN - 0.01)
    assert not guard.allows()
    clock.advance(0.01)
    assert guard.allows()


def test_a_failed_probe_reopens_it_even_when_the_failure_came_fast() -> None:
    clock = FakeClock()
    guard = breaker(clock)
    for _ in range(3):
        guard.failed(stalled=False)
    clock.advance(COOLDOWN)
    assert guard.allows()
    guard.failed(stalled=False)
    assert guard.state is BreakerState.OPEN
    assert not guard.allows()


def test_a_probe_whose_caller_gave_up_lets_the_next_call_probe() -> None:
    clock = FakeClock()
    guard = breaker(clock)
    guard.failed(stalled=True)
    clock.advance(COOLDOWN)
    assert guard.allows()
    guard.abandoned()
    assert guard.allows(), "without this, the store would be bypassed for ever"
    assert not guard.allows()


def test_what_calls_let_through_before_it_opened_say_late_changes_nothing() -> None:
    clock = FakeClock()
    guard = breaker(clock)
    guard.failed(stalled=True)
    clock.advance(COOLDOWN / 2)
    guard.succeeded()  # a call from before the stall, answered just before Redis slept
    assert not guard.allows()
    clock.advance(COOLDOWN / 2)
    guard.failed(stalled=True)  # another from before, timing out late
    assert guard.allows(), "the cool-down ran from the stall, not from the late news"


def test_a_timeout_while_the_store_answered_other_calls_is_no_stall() -> None:
    # A burst of load delays this process, not Redis: the calls that outran their time box
    # while others were answered fail alone, and neither open it nor count as failures.
    clock = FakeClock()
    guard = breaker(clock)
    started = clock()
    clock.advance(0.1)
    guard.succeeded()
    clock.advance(0.2)
    for _ in range(5):
        assert not guard.timed_out(started)
    assert guard.state is BreakerState.CLOSED
    guard.failed(stalled=False)
    guard.failed(stalled=False)
    assert not guard.bypassing, "the timeouts did not count as failures in a row"


def test_a_timeout_with_nothing_answered_since_the_call_began_is_a_stall() -> None:
    clock = FakeClock()
    guard = breaker(clock)
    guard.succeeded()
    clock.advance(0.1)
    started = clock()
    clock.advance(0.25)
    assert guard.timed_out(started)
    assert guard.state is BreakerState.OPEN
