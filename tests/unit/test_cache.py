"""The cache's pure parts: the TTL policy, the JSON codec, the in-process store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.cache.codec import Undecodable, decode, encode
from app.cache.policy import CachePolicy
from app.cache.stores import MemoryStore
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
    ],
    ids=["version", "image", "images-page", "versions-page", "aliases"],
)
def test_every_kind_of_answer_reads_back_as_written(answer: object) -> None:
    assert decode(encode(answer)) == answer


def test_not_found_reads_back_with_what_aws_said() -> None:
    read = decode(encode(NotFound("gone", aws_code="ResourceNotFound", request_id="r1")))
    assert isinstance(read, NotFound)
    assert (read.message, read.aws_code, read.request_id) == ("gone", "ResourceNotFound", "r1")


@pytest.mark.parametrize(
    "stored", [b"not json", b'{"record": "os.system", "values": {}}', b'{"x": 1}', b"[]"]
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
    store = MemoryStore(max_entries=2, clock=lambda: now[0])
    await store.put("a", 1, fresh_for=10, stale_for=5)
    await store.put("b", 2, fresh_for=10, stale_for=0)
    entry = await store.get("a")
    assert entry is not None
    assert entry.is_fresh(now[0])
    await store.put("c", 3, fresh_for=10, stale_for=0)
    assert await store.get("b") is None  # least recently used
    now[0] += 12
    stale = await store.get("a")
    assert stale is not None
    assert not stale.is_fresh(now[0])
    now[0] += 5
    assert await store.get("a") is None
