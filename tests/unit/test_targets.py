"""The targets a service serves: the targets file's rules, which target arguments and ARNs name,
and the router that opens each target once, on first use, and refuses one not served before
any call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.ledger import Ledger
from app.sagemaker import ImageKey, ImageVersionKey, NotFound
from app.sagemaker.errors import AccessDenied, InvalidInput
from app.sagemaker.operations import DESCRIBE_IMAGE, Operation
from app.sagemaker.routing import TargetedSageMaker, Upstream
from app.sagemaker.targets import (
    NotServed,
    ServedTargets,
    Target,
    read_target_specs,
    target_of_arn,
)

HOME = Target.of("us-east-1", "111111111111")
EUROPE = Target.of("eu-west-1", "111111111111")
OTHER_ACCOUNT = Target.of("us-east-1", "222222222222")
SERVED = ServedTargets([HOME, EUROPE, OTHER_ACCOUNT])
# Any operation: the stand-ins below answer every one with their target's name.
OPERATION: Operation[Any, Any] = DESCRIBE_IMAGE


def test_a_targets_file_lists_regions_accounts_and_how_each_is_reached() -> None:
    specs = read_target_specs(
        [
            {"region": "eu-west-1", "account": "111111111111", "profile": "ml-prod"},
            {
                "region": "us-east-1",
                "account": "222222222222",
                "role_arn": "arn:aws:iam::222222222222:role/ImageReader",
                "external_id": "shared-secret",
                "session_name": "images",
            },
            {"region": "cn-north-1", "account": "333333333333"},
        ]
    )
    assert [spec.credentials for spec in specs] == [
        "profile ml-prod",
        "role arn:aws:iam::222222222222:role/ImageReader",
        "the default credential chain",
    ]
    assert specs[1].external_id == "shared-secret"
    assert specs[1].session_name == "images"


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ({}, "non-empty JSON list"),
        ([], "non-empty JSON list"),
        (["eu-west-1"], "entry 0: expected an object"),
        ([{"region": "Europe", "account": "111111111111"}], "entry 0: region 'Europe'"),
        ([{"region": "eu-west-1", "account": "1111"}], "entry 0: account '1111'"),
        ([{"region": "zz-nowhere-1", "account": "111111111111"}], "in no partition botocore"),
        ([{"region": "eu-west-1"}], "entry 0: region and account are both needed"),
        ([{"region": "eu-west-1", "account": 111111111111}], "account must be a non-empty"),
        (
            [{"region": "eu-west-1", "account": "111111111111", "profile": "p", "role_arn": "x"}],
            "profile or role_arn, not both",
        ),
        (
            [{"region": "eu-west-1", "account": "111111111111", "role_arn": "arn:aws:iam::1:r"}],
            "is not a role ARN",
        ),
        (
            [{"region": "eu-west-1", "account": "111111111111", "external_id": "abc"}],
            "external_id needs a role_arn",
        ),
        (
            [{"region": "eu-west-1", "account": "111111111111", "regoin": "x"}],
            "unknown member 'regoin'",
        ),
        (
            [
                {"region": "eu-west-1", "account": "111111111111"},
                {"region": "eu-west-1", "account": "111111111111", "profile": "again"},
            ],
            "entry 1: eu-west-1/111111111111 repeats entry 0",
        ),
    ],
)
def test_a_bad_targets_file_is_refused_naming_the_entry(entries: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(")):
        read_target_specs(entries)


def test_arguments_name_a_target_with_the_defaults_for_what_they_omit() -> None:
    assert SERVED.named(None, None) == HOME
    assert SERVED.named("eu-west-1", None) == EUROPE
    assert SERVED.named(None, "222222222222") == OTHER_ACCOUNT
    with pytest.raises(NotServed) as refused:
        SERVED.named("eu-west-1", "222222222222")
    assert (refused.value.region, refused.value.account) == ("eu-west-1", "222222222222")
    assert "does not serve" in str(refused.value)


def test_any_region_or_account_a_client_sends_is_refused_as_not_served() -> None:
    long = "x" * 10_000
    for region, account in (("", None), ("¶ÈÌ蕞?", "0"), (long, long), ("us-east-1", "")):
        with pytest.raises(NotServed) as refused:
            SERVED.named(region, account)
        assert len(str(refused.value)) < 600


def test_an_arn_names_its_partition_region_and_account() -> None:
    arn = "arn:aws-cn:sagemaker:cn-north-1:333333333333:image-version/a/1"
    assert target_of_arn(arn) == Target("aws-cn", "cn-north-1", "333333333333")
    assert target_of_arn("arn:aws:s3:::bucket") is None
    assert SERVED.of_arn("arn:aws:sagemaker:eu-west-1:111111111111:image/a", "arn") == EUROPE
    with pytest.raises(NotServed):
        SERVED.of_arn(arn, "arn")
    with pytest.raises(InvalidInput, match="not a SageMaker ARN"):
        SERVED.of_arn("nonsense", "arn")


def test_a_listing_names_every_served_target_in_its_regions_and_accounts() -> None:
    assert SERVED.listed(None, None) == [HOME]
    assert SERVED.listed(["us-east-1"], None) == [HOME, OTHER_ACCOUNT]
    assert SERVED.listed(None, ["111111111111"]) == [HOME, EUROPE]
    assert SERVED.listed(["eu-west-1", "us-east-1"], ["111111111111"]) == [HOME, EUROPE]
    with pytest.raises(InvalidInput, match="'ap-south-1', which no target"):
        SERVED.listed(["ap-south-1"], None)


class Recorded:
    """One target's stand-in: answers every call with the target's name."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.calls = 0
        self.closed = False

    async def call(self, operation: Operation[Any, Any], key: Any, ledger: Ledger) -> Any:
        self.calls += 1
        return str(self.target)

    async def check_reachable(self) -> None:
        raise NotFound(f"checked {self.target}")

    async def aclose(self) -> None:
        self.closed = True


class Opener:
    def __init__(self, fail_first: int = 0) -> None:
        self.opened: dict[Target, Recorded] = {}
        self.attempts = 0
        self.fail_first = fail_first
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, target: Target) -> Upstream:
        self.attempts += 1
        await self.gate.wait()
        if self.attempts <= self.fail_first:
            raise AccessDenied("no credentials")
        upstream = self.opened[target] = Recorded(target)
        return upstream


async def test_each_key_goes_to_its_target_which_opens_once() -> None:
    opener = Opener()
    opener.gate.clear()
    router = TargetedSageMaker(SERVED, opener)
    calls = [
        router.call(OPERATION, ImageKey("a", EUROPE), Ledger()),
        router.call(OPERATION, ImageKey("b", EUROPE), Ledger()),
        router.call(OPERATION, ImageKey("c"), Ledger()),
    ]
    waiting = asyncio.gather(*calls)
    await asyncio.sleep(0)
    opener.gate.set()
    assert await waiting == [str(EUROPE), str(EUROPE), str(HOME)]
    assert opener.attempts == 2
    assert opener.opened[EUROPE].calls == 2
    with pytest.raises(NotFound, match=f"checked {HOME}"):
        await router.check_reachable()
    await router.aclose()
    assert all(upstream.closed for upstream in opener.opened.values())


async def test_a_target_not_served_is_refused_before_anything_opens() -> None:
    opener = Opener()
    router = TargetedSageMaker(SERVED, opener)
    elsewhere = Target.of("ap-south-1", "111111111111")
    with pytest.raises(NotServed, match="region ap-south-1 and account 111111111111"):
        await router.call(OPERATION, ImageVersionKey("a", 1, target=elsewhere), Ledger())
    assert opener.attempts == 0


async def test_a_target_that_failed_to_open_is_opened_again_by_the_next_lookup() -> None:
    opener = Opener(fail_first=1)
    router = TargetedSageMaker(SERVED, opener)
    with pytest.raises(AccessDenied):
        await router.call(OPERATION, ImageKey("a"), Ledger())
    assert await router.call(OPERATION, ImageKey("a"), Ledger()) == str(HOME)
    assert opener.attempts == 2


async def test_the_default_target_opens_at_start_and_a_failure_waits_for_a_lookup(
    caplog: pytest.LogCaptureFixture,
) -> None:
    opener = Opener(fail_first=1)
    router = TargetedSageMaker(SERVED, opener)
    await router.open_default()
    assert opener.attempts == 1
    assert [record.msg for record in caplog.records] == [
        {"event": "target_unopened", "target": str(HOME), "error": "AccessDenied"}
    ]
    await router.open_default()
    assert list(opener.opened) == [HOME]
