"""The cache's pure parts: the TTL policy, the JSON codec, the in-process store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.cache.codec import CachedResponse, Undecodable, decode, encode
from app.cache.policy import CachePolicy
from app.cache.stores import PURGE_EVERY, MemoryStore, footprint
from app.sagemaker import (
    ImageDescription,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionKey,
    ImageVersionSummary,
    NotFound,
    Page,
)
from app.sagemaker.operations import Freshness
from app.sagemaker.records import AwsRecord

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
VERSION = ImageVersionDescription(
    image_version_arn="arn:aws:sagemaker:us-east-1:1:image-version/img/2",
    image_arn="arn:aws:sagemaker:us-east-1:1:image/img",
    version=2,
    image_version_status="CREATED",
    creation_time=WHEN,
    last_modified_time=WHEN,
    base_image="repo/img:2",
    horovod=False,
)
IMAGE = ImageDescription(
    image_name="img",
    image_arn="arn:aws:sagemaker:us-east-1:1:image/img",
    image_status="CREATED",
    creation_time=WHEN,
    last_modified_time=WHEN,
    role_arn="arn:aws:iam::1:role/r",
)


def _fields(record: AwsRecord, summary: type[AwsRecord]) -> dict[str, Any]:
    return {name: value for name, value in vars(record).items() if name in summary._MEMBERS}


@pytest.mark.parametrize(
    "answer",
    [
        VERSION,
        IMAGE,
        Page([ImageSummary(**_fields(IMAGE, ImageSummary))], "token"),
        Page([ImageVersionSummary(**_fields(VERSION, ImageVersionSummary))], None),
        ["stable", "latest"],
        CachedResponse('{"data":{"image":{"imageName":"é"}}}'.encode(), "Named"),
    ],
    ids=["version", "image", "images-page", "versions-page", "aliases", "response"],
)
def test_every_kind_of_answer_reads_back_as_written(answer: object) -> None:
    assert decode(encode(answer)) == answer


def test_not_found_reads_back_with_what_aws_said() -> None:
    read = decode(encode(NotFound("gone", aws_code="ResourceNotFound", request_id="r1")))
    assert isinstance(read, NotFound)
    assert (read.message, read.aws_code, read.request_id) == ("gone", "ResourceNotFound", "r1")


@pytest.mark.parametrize(
    "stored",
    [
        b"not json",
        b'{"record": "os.system", "values": {}}',
        b'{"x": 1}',
        b"[]",
        # A response as an older version kept it (its data, not its bytes).
        b'{"response": {"image": null}}',
    ],
)
def test_what_another_writer_left_is_never_run_and_reads_as_undecodable(stored: bytes) -> None:
    with pytest.raises(Undecodable):
        decode(stored)


def test_the_policy_keeps_each_kind_for_its_own_time() -> None:
    policy = CachePolicy(settled=30, changing=2, lists=10, not_found=5)
    pinned, by_alias = ImageVersionKey("img", 2), ImageVersionKey("img", alias="stable")
    creating = ImageVersionDescription(**{**VERSION.__dict__, "image_version_status": "CREATING"})
    resource, listing = Freshness.RESOURCE, Freshness.LISTING
    assert policy.ttl(resource, pinned, VERSION) == 30
    assert policy.ttl(resource, by_alias, VERSION) == 10
    assert policy.ttl(resource, pinned, creating) == 2
    assert policy.ttl(resource, pinned, NotFound("gone")) == 5
    assert policy.ttl(listing, pinned, ["stable"]) == 10


async def test_the_memory_store_expires_and_evicts() -> None:
    now = [1000.0]
    store = MemoryStore(max_bytes=1 << 20, max_entry_bytes=1 << 20, clock=lambda: now[0])
    await store.put("a", 1, fresh_for=10, stale_for=5)
    entry = await store.get("a")
    assert entry is not None
    assert entry.is_fresh(now[0])
    now[0] += 12
    stale = await store.get("a")
    assert stale is not None
    assert not stale.is_fresh(now[0])
    now[0] += 5
    assert await store.get("a") is None
    assert store.bytes == 0


async def test_the_memory_store_holds_its_byte_budget_least_recently_used_first() -> None:
    one = footprint("x" * 1000, limit=1 << 20) + len("a")
    store = MemoryStore(max_bytes=3 * one, max_entry_bytes=2 * one, clock=lambda: 1000.0)
    for key in "abc":
        await store.put(key, key * 1000, fresh_for=10, stale_for=0)
    assert await store.get("a") is not None
    await store.put("d", "d" * 1000, fresh_for=10, stale_for=0)
    assert await store.get("b") is None  # the least recently used
    assert [await store.get(key) is not None for key in "acd"] == [True] * 3
    assert store.bytes == 3 * one
    # Larger than an entry may be: served by its caller, never kept, nothing pushed out for it.
    await store.put("big", "x" * (3 * one), fresh_for=10, stale_for=0)
    assert await store.get("big") is None
    assert store.bytes == 3 * one


async def test_the_memory_store_purges_what_expired_without_being_asked_for() -> None:
    now = [1000.0]
    store = MemoryStore(max_bytes=1 << 20, max_entry_bytes=1 << 20, clock=lambda: now[0])
    await store.put("gone", "x" * 1000, fresh_for=1, stale_for=0)
    await store.put("kept", "y", fresh_for=3600, stale_for=0)
    now[0] += PURGE_EVERY
    await store.put("new", "z", fresh_for=3600, stale_for=0)
    assert "gone" not in store.entries
    assert store.bytes == sum(kept.size for kept in store.entries.values())


def test_an_answers_footprint_counts_what_it_refers_to_once() -> None:
    shared = "s" * 10_000
    alone = footprint(shared, limit=1 << 20)
    assert footprint({"a": shared, "b": [shared, shared]}, limit=1 << 20) < 2 * alone
    assert footprint(VERSION, limit=1 << 20) > footprint(VERSION.base_image, limit=1 << 20)
    # Past the limit the walk stops: the count says "too large", not how large.
    assert footprint([shared] * 3, limit=100) > 100
