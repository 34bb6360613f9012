"""The per-request loaders over a fake SageMaker: one call per unique key, each key its own
answer or error, answers that also answer another key, and the request's deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from prometheus_client import REGISTRY

from app.ledger import Ledger
from app.loaders import Deadline, Loaders, gather_per_key
from app.sagemaker import DeadlineExceeded, ImageVersionKey, NotFound
from app.sagemaker.operations import DESCRIBE_IMAGE_VERSION
from app.sagemaker.targets import Target
from tests.fakes import FakeClock, FakeSageMaker, version


def describing(*missing: str) -> FakeSageMaker:
    """Versions of every image but ``missing``; "latest" and any alias are version 3."""

    def describe(key: Hashable) -> object:
        assert isinstance(key, ImageVersionKey)
        if key.image_name in missing:
            return NotFound(f"no {key.image_name}", key=key)
        return version(key.image_name, key.version if key.version is not None else 3)

    return FakeSageMaker({"DescribeImageVersion": describe})


async def test_a_batch_calls_once_per_unique_key_and_keeps_the_order_asked() -> None:
    fake = describing()
    loaders = Loaders(fake, timeout=10)
    keys = [ImageVersionKey("a", 1), ImageVersionKey("b", 2), ImageVersionKey("a", 1)]
    found = await loaders.of(DESCRIBE_IMAGE_VERSION).load_many(keys)
    assert [(answer.image_name, answer.version) for answer in found] == [
        ("a", 1),
        ("b", 2),
        ("a", 1),
    ]
    assert fake.calls["DescribeImageVersion"] == 2
    assert loaders.ledger.upstream_calls == 2


async def test_one_failing_key_fails_alone() -> None:
    loaders = Loaders(describing("gone"), timeout=10)
    loader = loaders.of(DESCRIBE_IMAGE_VERSION)
    good, bad = await asyncio.gather(
        loader.load(ImageVersionKey("here", 1)),
        loader.load(ImageVersionKey("gone", 1)),
        return_exceptions=True,
    )
    assert not isinstance(good, BaseException)
    assert good.version == 1
    assert isinstance(bad, NotFound)


async def test_a_version_found_by_alias_also_answers_for_its_number() -> None:
    fake = describing()
    loader = Loaders(fake, timeout=10).of(DESCRIBE_IMAGE_VERSION)
    latest = await loader.load(ImageVersionKey("img"))
    again = await loader.load(ImageVersionKey("img", latest.version))
    assert again is latest
    assert fake.calls["DescribeImageVersion"] == 1


async def test_a_call_still_running_at_the_deadline_fails_with_deadline_exceeded() -> None:
    stuck, slow = asyncio.Event(), ImageVersionKey("slow", 1)

    async def never() -> int:
        await stuck.wait()
        return 0

    clock = FakeClock()
    deadline = Deadline(15, clock)
    clock.advance(15)
    [result] = await gather_per_key({slow: never()}, deadline)
    assert isinstance(result, DeadlineExceeded)
    assert result.key == slow
    assert result.retryable


async def test_calls_that_finish_in_time_give_their_own_value_or_error() -> None:
    async def found() -> int:
        return 7

    async def failed() -> int:
        raise NotFound("gone")

    one, two = ImageVersionKey("one", 1), ImageVersionKey("two", 1)
    results = await gather_per_key({one: found(), two: failed()}, Deadline(10, FakeClock()))
    assert results[0] == 7
    assert isinstance(results[1], NotFound)


async def test_loaders_renewed_for_a_new_event_forget_and_count_apart() -> None:
    fake = describing()
    loaders = Loaders(fake, timeout=10, ledger=Ledger())
    await loaders.of(DESCRIBE_IMAGE_VERSION).load(ImageVersionKey("img", 1))
    renewed = loaders.renewed()
    await renewed.of(DESCRIBE_IMAGE_VERSION).load(ImageVersionKey("img", 1))
    assert fake.calls["DescribeImageVersion"] == 2
    assert (loaders.ledger.upstream_calls, renewed.ledger.upstream_calls) == (1, 1)


async def test_a_batch_holds_the_keys_of_one_target() -> None:
    home, europe = Target.of("us-east-1", "111111111111"), Target.of("eu-west-1", "111111111111")
    loaders = Loaders(describing(), timeout=10)
    keys = [ImageVersionKey(name, 1, target=target) for name in "ab" for target in (home, europe)]

    def batches() -> tuple[float, float]:
        labels = {"loader": DESCRIBE_IMAGE_VERSION.name}
        count = REGISTRY.get_sample_value("smgql_loader_batch_keys_count", labels) or 0.0
        return count, REGISTRY.get_sample_value("smgql_loader_batch_keys_sum", labels) or 0.0

    before = batches()
    await asyncio.gather(*(loaders.load(DESCRIBE_IMAGE_VERSION, key) for key in [*keys, *keys]))
    after = batches()
    # Two batches (one per target) of two unique keys each.
    assert (after[0] - before[0], after[1] - before[1]) == (2, 4)
    assert loaders.of(DESCRIBE_IMAGE_VERSION, home) is not loaders.of(
        DESCRIBE_IMAGE_VERSION, europe
    )
