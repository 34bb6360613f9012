"""The list operations: pagination, sorting and filters as the model defines them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_sagemaker import SageMakerClient

from tests.conftest import create_image, sagemaker_client


@pytest.fixture(scope="module")
def big_image(shared_endpoint: object) -> str:
    return create_image(sagemaker_client(shared_endpoint.url), 250, "paging")  # type: ignore[attr-defined]


@pytest.mark.parametrize("page_size", [1, 7, 100])
def test_paging_through_250_versions_returns_each_exactly_once(
    sagemaker: SageMakerClient, big_image: str, page_size: int
) -> None:
    pages = sagemaker.get_paginator("list_image_versions").paginate(
        ImageName=big_image,
        SortBy="VERSION",
        SortOrder="ASCENDING",
        PaginationConfig={"PageSize": page_size},
    )
    versions = [v["Version"] for page in pages for v in page["ImageVersions"]]
    assert versions == list(range(1, 251))


def test_default_page_is_ten_newest_first(sagemaker: SageMakerClient, big_image: str) -> None:
    page = sagemaker.list_image_versions(ImageName=big_image)
    assert [v["Version"] for v in page["ImageVersions"]] == list(range(250, 240, -1))
    assert page["NextToken"]


def test_versions_inserted_while_paging_do_not_shift_pages(sagemaker: SageMakerClient) -> None:
    name = create_image(sagemaker, 6)
    first = sagemaker.list_image_versions(
        ImageName=name, SortBy="VERSION", SortOrder="ASCENDING", MaxResults=3
    )
    sagemaker.create_image_version(ImageName=name, BaseImage="repo/img:x", ClientToken="late")
    rest = sagemaker.list_image_versions(
        ImageName=name,
        SortBy="VERSION",
        SortOrder="ASCENDING",
        MaxResults=10,
        NextToken=first["NextToken"],
    )
    seen = [v["Version"] for v in first["ImageVersions"] + rest["ImageVersions"]]
    assert seen == [1, 2, 3, 4, 5, 6, 7]


def test_a_token_from_another_query_or_tampered_is_a_validation_error(
    sagemaker: SageMakerClient, big_image: str
) -> None:
    token = sagemaker.list_image_versions(ImageName=big_image)["NextToken"]
    for params in (
        {"ImageName": big_image, "NextToken": token, "SortOrder": "ASCENDING"},
        {"ImageName": big_image, "NextToken": token[:-4] + "AAAA"},
        {"ImageName": big_image, "NextToken": "not-a-token"},
    ):
        with pytest.raises(ClientError) as raised:
            sagemaker.list_image_versions(**params)  # type: ignore[arg-type]
        assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_list_images_filters_and_sorts(sagemaker: SageMakerClient) -> None:
    by_name = sagemaker.list_images(
        NameContains="PYTORCH", SortBy="IMAGE_NAME", SortOrder="ASCENDING"
    )
    assert [i["ImageName"] for i in by_name["Images"]] == ["pytorch-inference", "pytorch-training"]
    old = sagemaker.list_images(
        CreationTimeBefore=datetime(2024, 3, 15, tzinfo=UTC),
        SortBy="CREATION_TIME",
        SortOrder="ASCENDING",
    )
    assert [i["ImageName"] for i in old["Images"]] == ["tensorflow-notebook", "pytorch-training"]


def test_list_images_pages_through_every_image_once(sagemaker: SageMakerClient) -> None:
    pages = sagemaker.get_paginator("list_images").paginate(
        SortBy="IMAGE_NAME", PaginationConfig={"PageSize": 2}
    )
    names = [i["ImageName"] for page in pages for i in page["Images"]]
    assert len(names) == len(set(names))
    assert names == sorted(names, key=str.lower, reverse=True)
    assert {"pytorch-training", "sklearn-kernel", "r-analytics"} <= set(names)


def test_version_time_filters(sagemaker: SageMakerClient) -> None:
    page = sagemaker.list_image_versions(
        ImageName="pytorch-training",
        CreationTimeAfter=datetime(2024, 5, 1, tzinfo=UTC),
        LastModifiedTimeBefore=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert [v["Version"] for v in page["ImageVersions"]] == [3, 2]


def test_list_aliases_by_image_version_and_alias(sagemaker: SageMakerClient) -> None:
    every = sagemaker.list_aliases(ImageName="pytorch-training")
    assert every["SageMakerImageVersionAliases"] == ["2.3", "next", "previous", "stable"]
    of_three = sagemaker.list_aliases(ImageName="pytorch-training", Version=3)
    assert of_three["SageMakerImageVersionAliases"] == ["2.3", "stable"]
    one = sagemaker.list_aliases(ImageName="pytorch-training", Alias="next")
    assert one["SageMakerImageVersionAliases"] == ["next"]
    paged = sagemaker.get_paginator("list_aliases").paginate(
        ImageName="pytorch-training", PaginationConfig={"PageSize": 1}
    )
    assert [a for p in paged for a in p["SageMakerImageVersionAliases"]] == every[
        "SageMakerImageVersionAliases"
    ]
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.list_aliases(ImageName="pytorch-training", Version=42)


def test_time_filters_include_their_bounds(sagemaker: SageMakerClient) -> None:
    # AWS documents the filters as "on or after" and "on or before": a bound equal to an item's
    # time keeps the item.
    version = sagemaker.describe_image_version(ImageName="pytorch-training", Version=3)
    versions = sagemaker.list_image_versions(
        ImageName="pytorch-training",
        CreationTimeAfter=version["CreationTime"],
        CreationTimeBefore=version["CreationTime"],
        LastModifiedTimeAfter=version["LastModifiedTime"],
        LastModifiedTimeBefore=version["LastModifiedTime"],
    )
    assert [v["Version"] for v in versions["ImageVersions"]] == [3]
    image = sagemaker.describe_image(ImageName="pytorch-training")
    images = sagemaker.list_images(
        CreationTimeAfter=image["CreationTime"],
        CreationTimeBefore=image["CreationTime"],
        LastModifiedTimeAfter=image["LastModifiedTime"],
        LastModifiedTimeBefore=image["LastModifiedTime"],
    )
    assert [i["ImageName"] for i in images["Images"]] == ["pytorch-training"]


def _forged_tokens(big_image: str, genuine: str) -> list[str]:
    """Tokens a client could send: garbage, base64 of garbage or of JSON of the wrong shape,
    and well-shaped ones whose keys are not what a page ends on."""

    def encoded(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()

    query = json.loads(base64.urlsafe_b64decode(genuine))["query"]
    return [
        "not-a-token",
        base64.urlsafe_b64encode(b"\xff\xfe garbage \x00").decode(),
        base64.urlsafe_b64encode(b"{not json").decode(),
        encoded(None),
        encoded([1, 2]),
        encoded("after"),
        encoded({"after": [1, 2]}),
        encoded({"after": [1, 2, 3], "query": query}),
        encoded({"after": [{"a": 1}, [2]], "query": query}),
        encoded({"after": [10**30, 1], "query": query}),
        encoded({"after": [True, None], "query": query}),
        base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode()[:8192],
        genuine[:-4] + "AAAA",
    ]


def test_a_forged_or_corrupt_token_is_invalid_never_a_server_error(
    sagemaker: SageMakerClient, big_image: str
) -> None:
    genuine = sagemaker.list_image_versions(ImageName=big_image)["NextToken"]
    for token in _forged_tokens(big_image, genuine):
        for operation, params in (
            ("list_image_versions", {"ImageName": big_image}),
            ("list_images", {}),
            ("list_aliases", {"ImageName": "pytorch-training"}),
        ):
            with pytest.raises(ClientError) as raised:
                getattr(sagemaker, operation)(NextToken=token, **params)
            error = raised.value.response["Error"]
            assert error["Code"] == "ValidationException", (operation, token[:40])
            assert error["Message"].startswith("Invalid pagination token"), token[:40]
