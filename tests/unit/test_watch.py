"""The shared poller of a version, over a fake SageMaker: its backoff, what it tells followers,
and when it stops. Its sleep only notes the delay, so no test waits for time to pass."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from app.sagemaker import ImageVersionDescription, ImageVersionKey, NotFound, Unavailable
from app.watch import TooManyFollowers, VersionWatch
from tests.fakes import in_turn, version

KEY = ImageVersionKey("img", 1)


class Sleeps:
    """The watch's sleep: notes each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def forever(seconds: float) -> None:
    """A sleep that never ends: the poller polls once and then waits."""
    await asyncio.Event().wait()


async def states(watch: VersionWatch, key: ImageVersionKey = KEY) -> list[str]:
    return [state.image_version_status async for state in watch.follow(key)]


async def test_a_poller_backs_off_while_nothing_changes_and_stops_once_settled() -> None:
    creating = version(status="CREATING")
    fake = in_turn(creating, creating, creating, version(status="CREATED"))
    sleeps = Sleeps()
    watch = VersionWatch(fake, max_followers=10, first_delay=1.0, max_delay=2.0, sleep=sleeps)
    assert await states(watch) == ["CREATING", "CREATED"]
    assert sleeps.delays == [1.0, 1.5, 2.0]
    assert fake.calls["DescribeImageVersion"] == 4
    assert watch.pollers == {}


async def test_a_change_starts_the_backoff_again() -> None:
    changed = ImageVersionDescription(
        **{**version(status="CREATING").__dict__, "failure_reason": "x"}
    )
    fake = in_turn(version(status="CREATING"), version(status="CREATING"), changed, version())
    sleeps = Sleeps()
    watch = VersionWatch(fake, max_followers=10, sleep=sleeps)
    assert await states(watch) == ["CREATING", "CREATING", "CREATED"]
    assert sleeps.delays == [1.0, 1.5, 1.0]


async def test_failed_polls_back_off_twice_as_fast_and_tell_nobody() -> None:
    outage = Unavailable("down")
    fake = in_turn(version(status="CREATING"), outage, outage, version())
    sleeps = Sleeps()
    watch = VersionWatch(fake, max_followers=10, max_delay=3.0, sleep=sleeps)
    assert await states(watch) == ["CREATING", "CREATED"]
    assert sleeps.delays == [1.0, 2.0, 3.0]


async def test_a_version_deleted_while_followed_ends_the_follow() -> None:
    fake = in_turn(version(status="CREATING"), NotFound("gone"))
    watch = VersionWatch(fake, max_followers=10, sleep=Sleeps())
    assert await states(watch) == ["CREATING"]


async def test_a_version_that_never_existed_is_the_followers_error() -> None:
    watch = VersionWatch(in_turn(NotFound("no such version")), max_followers=10, sleep=Sleeps())
    with pytest.raises(NotFound):
        await states(watch)


async def test_the_last_follower_leaving_stops_the_poller() -> None:
    fake = in_turn(version(status="CREATING"))
    watch = VersionWatch(fake, max_followers=10, sleep=forever)
    follow = watch.follow(KEY)
    first = await anext(follow)
    assert first.image_version_status == "CREATING"
    [poller] = watch.pollers.values()
    await follow.aclose()
    assert watch.pollers == {}
    assert poller.task is not None
    with pytest.raises(asyncio.CancelledError):
        await poller.task


async def test_followers_of_one_version_share_one_poller() -> None:
    fake = in_turn(version(status="CREATING"))
    watch = VersionWatch(fake, max_followers=10, sleep=forever)
    one, two = watch.follow(KEY), watch.follow(KEY)
    assert (await anext(one)).version == (await anext(two)).version == 1
    assert len(watch.pollers) == 1
    assert watch.followers == 2
    assert fake.calls["DescribeImageVersion"] == 1
    await one.aclose()
    await two.aclose()


async def test_an_alias_is_followed_as_the_version_it_names_now() -> None:
    fake = in_turn(version(number=3))
    watch = VersionWatch(fake, max_followers=10, sleep=Sleeps())
    assert await states(watch, ImageVersionKey("img", alias="stable")) == ["CREATED"]
    assert fake.calls["DescribeImageVersion"] == 2


async def test_a_process_follows_at_most_its_limit() -> None:
    watch = VersionWatch(in_turn(version(status="CREATING")), max_followers=1, sleep=forever)
    first = watch.follow(KEY)
    await anext(first)
    with pytest.raises(TooManyFollowers):
        await anext(watch.follow(KEY))
    await first.aclose()
    await watch.close()


async def test_the_limit_counts_followers_still_resolving_their_alias() -> None:
    # Two followers of aliases arrive together while SageMaker is slow to say which version
    # each names: the second must not slip past the limit during the first one's wait.
    fake = in_turn(version(status="CREATING"))
    fake.gate.clear()
    watch = VersionWatch(fake, max_followers=1, sleep=forever)
    first = watch.follow(ImageVersionKey("img", alias="a"))
    waiting = asyncio.ensure_future(anext(first))
    await fake.arrived.wait()
    with pytest.raises(TooManyFollowers):
        await asyncio.wait_for(anext(watch.follow(ImageVersionKey("img", alias="b"))), 10)
    fake.gate.set()
    assert (await waiting).version == 1
    await first.aclose()
    await watch.close()


def _pollers() -> float:
    return REGISTRY.get_sample_value("smgql_watch_pollers") or 0.0


async def test_the_pollers_gauge_counts_pollers_not_followers() -> None:
    before = _pollers()
    fake = in_turn(version(status="CREATING"), version(status="CREATED"))
    watch = VersionWatch(fake, max_followers=10, sleep=forever)
    one, two = watch.follow(KEY), watch.follow(KEY)
    await anext(one)
    await anext(two)
    assert _pollers() == before + 1
    await one.aclose()
    assert _pollers() == before + 1
    await two.aclose()
    assert _pollers() == before
    # A poller that ends by itself (its version settled) is gone from the gauge too.
    settled = VersionWatch(in_turn(version(status="CREATED")), max_followers=10, sleep=Sleeps())
    assert await states(settled) == ["CREATED"]
    assert _pollers() == before
