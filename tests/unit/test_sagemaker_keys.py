"""Keys are checked once, where they are made, and write their own AWS requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.sagemaker import ImageKey, ImagesPage, ImageVersionKey, ImageVersionsPage, InvalidInput
from app.sagemaker.keys import TimeBounds
from app.sagemaker.targets import Target


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (("bad name", None, None), "image_name"),
        (("x" * 64, None, None), "image_name"),
        (("ok", -1, None), "version"),
        (("ok", None, ".hidden"), "alias"),
        (("ok", 1, "stable"), None),
    ],
)
def test_a_bad_image_version_key_names_its_field_and_keeps_what_was_asked(
    arguments: tuple[str, int | None, str | None], field: str | None
) -> None:
    with pytest.raises(InvalidInput) as raised:
        ImageVersionKey.of(*arguments)
    assert raised.value.field == field
    assert raised.value.key == ImageVersionKey(*arguments)


def test_a_bad_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(InvalidInput) as raised:
        ImageKey.of("!" * 100_000)
    assert len(str(raised.value)) < 400


def test_keys_write_their_requests() -> None:
    assert ImageVersionKey.of("img", None, "stable").as_request() == {
        "ImageName": "img",
        "Alias": "stable",
    }
    assert ImageVersionKey.of("img", 0, None).as_request() == {"ImageName": "img", "Version": 0}
    assert ImageVersionKey.of("img", None, None).as_request() == {"ImageName": "img"}
    assert ImageVersionKey("img").pinned(4) == ImageVersionKey("img", 4)


def test_an_arn_names_its_image_and_version() -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:image-version/my-image/3"
    target = Target("aws", "us-east-1", "123456789012")
    assert ImageVersionKey.from_arn(arn) == ImageVersionKey("my-image", 3, target=target)
    for bad in ("arn:aws:s3:::bucket", arn + "/4", arn.replace("/3", "/x"), "a" * 10_000):
        with pytest.raises(InvalidInput) as raised:
            ImageVersionKey.from_arn(bad)
        assert raised.value.field == "image_version_arn"


def test_pages_write_every_member_they_hold() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    times = TimeBounds(created_after=when, modified_before=when)
    page = ImagesPage(
        sort_by="IMAGE_NAME", sort_order="ASCENDING", times=times, name_contains="torch"
    ).at("token", 25)
    assert page.as_request() == {
        "SortBy": "IMAGE_NAME",
        "SortOrder": "ASCENDING",
        "MaxResults": 25,
        "NextToken": "token",
        "CreationTimeAfter": when,
        "LastModifiedTimeBefore": when,
        "NameContains": "torch",
    }
    versions = ImageVersionsPage(image_name="img", sort_by="VERSION", sort_order="DESCENDING")
    assert versions.as_request() == {
        "ImageName": "img",
        "SortBy": "VERSION",
        "SortOrder": "DESCENDING",
        "MaxResults": 10,
    }


def test_name_contains_follows_the_models_pattern() -> None:
    with pytest.raises(InvalidInput) as raised:
        ImagesPage(sort_by="IMAGE_NAME", sort_order="ASCENDING", name_contains="no spaces")
    assert raised.value.field == "name_contains"
