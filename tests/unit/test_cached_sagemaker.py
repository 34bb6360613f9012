"""The record cache's logic over a fake SageMaker and a clock the test moves: coalescing,
stale-while-revalidate, freshness by status, negative caching, and what is never kept."""

from __future__ import annotations

import asyncio

import pytest

from app.cache.cached_sagemaker import CachedSageMaker
from app.cache.policy import CachePolicy
from app.cache.stores import MemoryStore
from app.ledger import Ledger
from app.sagemaker import ImageVersionKey, NotFound, Throttled
from app.sagemaker.operations import DESCRIBE_IMAGE_VERSION
from tests.fakes import FakeClock, FakeSageMaker, in_turn, version

KEY = ImageVersionKey("img", 1)
POLICY = CachePolicy(settled=30, changing=2, lists=10, not_found=5, stale=0)


def cached(fake: FakeSageMaker, clock: FakeClock, policy: CachePolicy = POLICY) -> CachedSageMaker:
    return CachedSageMaker(fake, MemoryStore(1 << 20, 1 << 16, clock), policy, "test", 1.0, clock)


async def test_concurrent_misses_for_one_key_make_one_call() -> None:
    fake, clock = in_turn(version()), FakeClock()
    cache = cached(fake, clock)
    fake.gate.clear()
    ledgers = [Ledger() for _ in range(10)]
    calls = [
        asyncio.ensure_future(cache.call(DESCRIBE_IMAGE_VERSION, KEY, ledger)) for ledger in ledgers
    ]
    await fake.arrived.wait()
    fake.gate.set()
    found = await asyncio.gather(*calls)
    assert {answer.version for answer in found} == {1}
    assert fake.calls["DescribeImageVersion"] == 1
    assert sum(ledger.upstream_calls for ledger in ledgers) == 1
    assert sum(ledger.coalesced_waits for ledger in ledgers) == 9


async def test_a_fresh_answer_costs_no_call_and_says_how_long_it_stays_fresh() -> None:
    fake, clock = in_turn(version()), FakeClock()
    cache = cached(fake, clock)
    await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    clock.advance(10)
    ledger = Ledger()
    await cache.call(DESCRIBE_IMAGE_VERSION, KEY, ledger)
    assert fake.calls["DescribeImageVersion"] == 1
    assert (ledger.cache_hits, ledger.upstream_calls) == (1, 0)
    assert ledger.fresh_for == pytest.approx(20)


async def test_a_stale_answer_is_served_while_one_refresh_runs() -> None:
    fake, clock = in_turn(version(base="old"), version(base="new")), FakeClock()
    cache = cached(fake, clock, CachePolicy(settled=0.2, stale=30))
    await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    clock.advance(0.3)
    fake.arrived.clear()
    fake.gate.clear()
    # Were a stale answer to wait for SageMaker, these would wait on the closed gate for ever.
    stale = await asyncio.wait_for(
        asyncio.gather(*(cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger()) for _ in range(5))),
        timeout=10,
    )
    assert {answer.base_image for answer in stale} == {"old"}
    await fake.arrived.wait()
    assert fake.calls["DescribeImageVersion"] == 2
    fake.gate.set()
    await asyncio.gather(*cache._fetching.values())
    refreshed = await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    assert refreshed.base_image == "new"
    assert fake.calls["DescribeImageVersion"] == 2


async def test_a_version_in_a_transition_is_fresh_only_briefly() -> None:
    fake, clock = in_turn(version(status="CREATING")), FakeClock()
    cache = cached(fake, clock)
    await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    clock.advance(1.9)
    await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    assert fake.calls["DescribeImageVersion"] == 1
    clock.advance(0.2)
    await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    assert fake.calls["DescribeImageVersion"] == 2


async def test_the_version_an_alias_names_is_fresh_for_the_list_time() -> None:
    fake, clock = in_turn(version()), FakeClock()
    cache = cached(fake, clock)
    by_alias = ImageVersionKey("img", alias="stable")
    await cache.call(DESCRIBE_IMAGE_VERSION, by_alias, Ledger())
    clock.advance(10.1)
    await cache.call(DESCRIBE_IMAGE_VERSION, by_alias, Ledger())
    assert fake.calls["DescribeImageVersion"] == 2


async def test_not_found_is_kept_briefly_and_raised_for_each_callers_key() -> None:
    fake, clock = (
        in_turn(NotFound("no such image", aws_code="ResourceNotFound")),
        FakeClock(),
    )
    cache = cached(fake, clock)
    for _ in range(3):
        with pytest.raises(NotFound) as raised:
            await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
        assert raised.value.key == KEY
        assert raised.value.aws_code == "ResourceNotFound"
    assert fake.calls["DescribeImageVersion"] == 1
    clock.advance(5)
    with pytest.raises(NotFound):
        await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    assert fake.calls["DescribeImageVersion"] == 2


async def test_errors_that_say_nothing_of_the_resource_are_not_kept() -> None:
    fake, clock = in_turn(Throttled("slow down"), version()), FakeClock()
    cache = cached(fake, clock)
    with pytest.raises(Throttled):
        await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    found = await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    assert found.version == 1
    assert fake.calls["DescribeImageVersion"] == 2


async def test_what_the_store_holds_under_a_key_is_used_only_if_the_operation_gives_it() -> None:
    fake, clock = in_turn(version()), FakeClock()
    cache = cached(fake, clock)
    await cache.store.put(
        cache._cache_key(DESCRIBE_IMAGE_VERSION, KEY), ["not", "a", "version"], 30, 0
    )
    found = await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    assert found.version == 1
    assert fake.calls["DescribeImageVersion"] == 1


async def test_a_kept_answer_is_fresh_for_this_policy_whatever_its_writer_stored() -> None:
    # Another replica (with a TTL of an hour) or a corrupt entry: what the store says is capped
    # by this service's own TTL for the class, counted from when the answer was written.
    fake, clock = in_turn(version(base="fetched")), FakeClock()
    cache = cached(fake, clock)
    kept = version(base="kept")
    await cache.store.put(cache._cache_key(DESCRIBE_IMAGE_VERSION, KEY), kept, 3600, 0)
    clock.advance(10)
    ledger = Ledger()
    assert (await cache.call(DESCRIBE_IMAGE_VERSION, KEY, ledger)).base_image == "kept"
    assert ledger.fresh_for == pytest.approx(20)
    clock.advance(20)
    assert (await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())).base_image == "fetched"
    assert fake.calls["DescribeImageVersion"] == 1


async def test_an_answer_written_by_a_clock_ahead_of_this_one_is_a_miss_while_it_is() -> None:
    fake, clock = in_turn(version(base="fetched")), FakeClock()
    ahead = FakeClock(clock.now + 600)
    cache = CachedSageMaker(fake, MemoryStore(1 << 20, 1 << 16, ahead), POLICY, "test", 1.0, clock)
    kept = version(base="kept")
    await cache.store.put(cache._cache_key(DESCRIBE_IMAGE_VERSION, KEY), kept, 30, 0)
    found = await cache.call(DESCRIBE_IMAGE_VERSION, KEY, Ledger())
    assert found.base_image == "fetched"
    assert fake.calls["DescribeImageVersion"] == 1
