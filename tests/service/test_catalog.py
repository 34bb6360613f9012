"""Browsing the catalog, with the upstream calls each query costs counted at the endpoint."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from typing import Any

import pytest
from mypy_boto3_sagemaker import SageMakerClient

from app.local_sagemaker.faults import FaultPlan
from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from tests.conftest import ROLE_ARN, EndpointControl, sagemaker_client
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, errors_by_path, serving

IMAGES_PAGE = """query($first: Int!, $after: String) {
  images(first: $first, after: $after, sortBy: IMAGE_NAME, sortOrder: ASCENDING) {
    edges { cursor node { imageName imageStatus displayName } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


def _catalog(sagemaker: SageMakerClient, images: int, versions: int) -> str:
    """A private catalog: ``images`` images named PREFIX-00.., each with ``versions`` versions
    whose odd-numbered ones carry two aliases."""
    prefix = f"cat{uuid.uuid4().hex[:8]}"
    for i in range(images):
        name = f"{prefix}-{i:02d}"
        sagemaker.create_image(ImageName=name, RoleArn=ROLE_ARN, DisplayName=f"Image {i}")
        for v in range(1, versions + 1):
            aliases = [f"a{v}", f"b{v}"] if v % 2 else []
            sagemaker.create_image_version(
                ImageName=name, BaseImage=f"r/{name}:{v}", ClientToken=f"t{v}", Aliases=aliases
            )
    return prefix


@pytest.fixture(scope="module")
def private_endpoint() -> Any:
    """An empty endpoint, so that listing every image is a known list."""
    with BackgroundEndpoint(EndpointOptions(seed=False)) as endpoint:
        yield endpoint


@pytest.fixture
async def private_service(private_endpoint: BackgroundEndpoint) -> Any:
    private_endpoint.endpoint.faults.reset_stats()
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=private_endpoint.url)
    async with serving(settings) as (_, client):
        yield client


def _calls(endpoint: BackgroundEndpoint) -> dict[str, int]:
    calls: dict[str, int] = endpoint.endpoint.faults.stats()["calls"]
    return calls


async def test_three_pages_of_images_cost_three_list_calls(
    private_endpoint: BackgroundEndpoint, private_service: GraphQLClient
) -> None:
    prefix = _catalog(sagemaker_client(private_endpoint.url), images=7, versions=0)
    private_endpoint.endpoint.faults.reset_stats()
    names: list[str] = []
    after = None
    pages = []
    for _ in range(3):
        body = await private_service.query(IMAGES_PAGE, first=3, after=after)
        assert "errors" not in body
        connection = body["data"]["images"]
        pages.append(connection["pageInfo"])
        names += [edge["node"]["imageName"] for edge in connection["edges"]]
        after = connection["pageInfo"]["endCursor"]
    assert names == [f"{prefix}-{i:02d}" for i in range(7)]
    assert [p["hasNextPage"] for p in pages] == [True, True, False]
    assert not any(p["hasPreviousPage"] for p in pages)
    assert _calls(private_endpoint) == {"ListImages": 3}


async def test_any_edge_cursor_resumes_right_after_its_edge(
    private_endpoint: BackgroundEndpoint, private_service: GraphQLClient
) -> None:
    first = await private_service.query(IMAGES_PAGE, first=5)
    edges = first["data"]["images"]["edges"]
    everything = await private_service.query(IMAGES_PAGE, first=100)
    all_names = [e["node"]["imageName"] for e in everything["data"]["images"]["edges"]]
    for index in (0, 2, 4):
        resumed = await private_service.query(IMAGES_PAGE, first=3, after=edges[index]["cursor"])
        names = [e["node"]["imageName"] for e in resumed["data"]["images"]["edges"]]
        assert names == all_names[index + 1 : index + 4]


async def test_one_images_versions_with_their_aliases(
    private_endpoint: BackgroundEndpoint, private_service: GraphQLClient
) -> None:
    prefix = _catalog(sagemaker_client(private_endpoint.url), images=1, versions=6)
    private_endpoint.endpoint.faults.reset_stats()
    private_endpoint.endpoint.faults.configure(FaultPlan(latency=0.03))
    try:
        body = await private_service.query(
            """query($name: String!) { image(imageName: $name) {
                 versions(first: 10, sortBy: VERSION, sortOrder: ASCENDING) {
                   edges { node { version imageVersionStatus creationTime aliases } } } } }""",
            name=f"{prefix}-00",
        )
    finally:
        private_endpoint.endpoint.faults.configure(
            private_endpoint.endpoint.faults.plan.__class__()
        )
    assert "errors" not in body
    versions = [e["node"] for e in body["data"]["image"]["versions"]["edges"]]
    assert [(v["version"], v["aliases"]) for v in versions] == [
        (v, [f"a{v}", f"b{v}"] if v % 2 else []) for v in range(1, 7)
    ]
    # DescribeImage for the image, one list of versions, one ListAliases per version: no
    # DescribeImageVersion, since every field asked is in the list's summary.
    assert _calls(private_endpoint) == {
        "DescribeImage": 1,
        "ListImageVersions": 1,
        "ListAliases": 6,
    }
    assert private_endpoint.endpoint.faults.stats()["peakInFlight"] > 1


async def test_fields_beyond_the_summary_describe_each_version_once(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    body = await service.query(
        """{ image(imageName: "pytorch-training") {
             versions(first: 5) { edges { node { version baseImage processor jobType
                                                  image { imageName roleArn } } } } } }"""
    )
    assert "errors" not in body
    nodes = [e["node"] for e in body["data"]["image"]["versions"]["edges"]]
    assert [n["version"] for n in nodes] == [5, 4, 3, 2, 1]
    assert all(n["processor"] == "GPU" and n["image"]["roleArn"] for n in nodes)
    assert control.stats()["calls"] == {
        "DescribeImage": 1,
        "ListImageVersions": 1,
        "DescribeImageVersion": 5,
    }


async def test_a_page_of_images_with_their_latest_versions_and_aliases(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    body = await service.query(
        """{ images(first: 100, nameContains: "kernel") { edges { node {
             imageName latestVersion { version aliases image { displayName } } } } } }"""
    )
    assert "errors" not in body
    nodes = {e["node"]["imageName"]: e["node"] for e in body["data"]["images"]["edges"]}
    assert nodes["sklearn-kernel"]["latestVersion"] == {
        "version": 2,
        "aliases": ["latest-kernel", "stable"],
        "image": {"displayName": "scikit-learn kernel"},
    }
    # One list of images; per image, one describe of its latest version, one ListAliases, and
    # one DescribeImage for the version's `image` (an entity looked up by name).
    count = len(nodes)
    assert control.stats()["calls"] == {
        "ListImages": 1,
        "DescribeImageVersion": count,
        "ListAliases": count,
        "DescribeImage": count,
    }


async def test_latest_version_is_null_for_an_image_without_versions(
    service: GraphQLClient,
) -> None:
    body = await service.query(
        '{ image(imageName: "r-analytics") { imageStatus failureReason '
        "latestVersion { version } } }"
    )
    assert "errors" not in body
    image = body["data"]["image"]
    assert image["imageStatus"] == "CREATE_FAILED"
    assert image["failureReason"]
    assert image["latestVersion"] is None


async def test_image_version_by_alias_and_missing_image(service: GraphQLClient) -> None:
    body = await service.query(
        """{ image(imageName: "pytorch-training") { version(alias: "previous") { version } }
             missing: image(imageName: "no-such-image") { imageName } }"""
    )
    assert body["data"]["image"]["version"]["version"] == 2
    assert body["data"]["missing"] is None
    error = errors_by_path(body)[("missing",)]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["imageName"] == "no-such-image"


async def test_filters_and_sorting_reach_sagemaker(service: GraphQLClient) -> None:
    body = await service.query(
        """{ images(first: 10, nameContains: "pytorch", sortBy: IMAGE_NAME, sortOrder: ASCENDING,
                    filter: {creationTimeBefore: "2024-12-31T00:00:00Z"}) {
               edges { node { imageName } } }
             image(imageName: "pytorch-training") {
               versions(sortBy: VERSION, sortOrder: ASCENDING,
                        filter: {creationTimeAfter: "2024-05-01T00:00:00+00:00",
                                 lastModifiedTimeBefore: "2025-01-01T00:00:00Z"}) {
                 edges { node { version } } } } }"""
    )
    assert "errors" not in body
    assert [e["node"]["imageName"] for e in body["data"]["images"]["edges"]] == [
        "pytorch-inference",
        "pytorch-training",
    ]
    assert [e["node"]["version"] for e in body["data"]["image"]["versions"]["edges"]] == [2, 3]


def _tamper(cursor: str, change: Any) -> str:
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    changed = change(raw)
    return base64.urlsafe_b64encode(json.dumps(changed).encode()).decode()


async def test_bad_cursors_and_page_sizes_are_bad_user_input(
    service: GraphQLClient, control: EndpointControl
) -> None:
    page = await service.query(IMAGES_PAGE, first=2)
    cursor = page["data"]["images"]["pageInfo"]["endCursor"]
    other_query = """query($after: String) { images(first: 2, after: $after, sortBy: IMAGE_NAME,
                     sortOrder: DESCENDING) { edges { cursor } } }"""
    cases = [
        (IMAGES_PAGE, {"first": 2, "after": "not-a-cursor"}),
        (IMAGES_PAGE, {"first": 2, "after": cursor[:-3]}),
        (IMAGES_PAGE, {"first": 2, "after": _tamper(cursor, lambda c: [c[0], -5, c[2]])}),
        (IMAGES_PAGE, {"first": 2, "after": _tamper(cursor, lambda c: [c[0], 1, "0" * 16])}),
        (IMAGES_PAGE, {"first": 2, "after": _tamper(cursor, lambda c: {"a": 1})}),
        (IMAGES_PAGE, {"first": 2, "after": _tamper(cursor, lambda c: ["garbage", 0, c[2]])}),
        (other_query, {"after": cursor}),
        (IMAGES_PAGE, {"first": 101}),
        (IMAGES_PAGE, {"first": 0}),
    ]
    for query, variables in cases:
        body = await service.query(query, **variables)
        assert body["data"] is None, variables
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, error)
        assert "Traceback" not in str(error)
