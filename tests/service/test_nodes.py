"""Relay's global object identification over HTTP: every Image and ImageVersion has an ``id``,
``node`` and ``nodes`` load them by it through the same loaders as every other path, and an ID
this service did not give is refused with BAD_USER_INPUT before any SageMaker call."""

from __future__ import annotations

import base64
import dataclasses

from mypy_boto3_sagemaker import SageMakerClient

from app.local_sagemaker.server import BackgroundEndpoint
from tests.conftest import EndpointControl, create_image
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, errors_by_path, serving

NODES = """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
  ... on ImageVersion { imageVersionArn version baseImage }
  ... on Image { imageName displayName } } }"""


def _id(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_an_entity_is_found_again_by_its_id(
    service: GraphQLClient, control: EndpointControl
) -> None:
    listed = await service.query(
        """{ image(imageName: "pytorch-training") { id imageArn
             versions(first: 2) { edges { node { id imageVersionArn } } } } }"""
    )
    image = listed["data"]["image"]
    version = image["versions"]["edges"][0]["node"]
    assert image["id"] == _id("Image:" + image["imageArn"])
    assert version["id"] == _id("ImageVersion:" + version["imageVersionArn"])

    control.reset()
    body = await service.query(
        """query($image: ID!, $version: ID!) {
             image: node(id: $image) { __typename id ... on Image { imageName } }
             version: node(id: $version) { __typename id ... on ImageVersion { imageVersionArn } }
           }""",
        image=image["id"],
        version=version["id"],
    )
    assert "errors" not in body
    assert body["data"]["image"] == {
        "__typename": "Image",
        "id": image["id"],
        "imageName": "pytorch-training",
    }
    assert body["data"]["version"] == {
        "__typename": "ImageVersion",
        "id": version["id"],
        "imageVersionArn": version["imageVersionArn"],
    }
    assert control.stats()["calls"] == {"DescribeImage": 1, "DescribeImageVersion": 1}


async def test_fifty_version_ids_are_one_batch(
    service: GraphQLClient, sagemaker: SageMakerClient, control: EndpointControl
) -> None:
    name = create_image(sagemaker, 50)
    versions = sagemaker.list_image_versions(ImageName=name, MaxResults=100)["ImageVersions"]
    ids = [_id("ImageVersion:" + v["ImageVersionArn"]) for v in versions]
    control.reset()
    control.set_faults(latencyMs=20)

    body = await service.query(NODES, ids=ids)

    assert "errors" not in body
    assert [node["id"] for node in body["data"]["nodes"]] == ids
    assert all(node["baseImage"] for node in body["data"]["nodes"])
    assert control.stats()["calls"] == {"DescribeImageVersion": 50}
    # One batch: the calls ran at once, not one after another.
    assert control.stats()["peakInFlight"] > 1


async def test_an_id_not_given_by_this_service_is_refused_alone(
    service: GraphQLClient, control: EndpointControl
) -> None:
    served = "arn:aws:sagemaker:us-east-1:123456789012:image/sklearn-kernel"
    ids = [
        "not base64 at all!",
        _id("Deployment:" + served),
        _id("Image:sklearn-kernel"),
        _id("ImageVersion:" + served),
        _id("Image:arn:aws:sagemaker:eu-west-3:999999999999:image/sklearn-kernel"),
        _id("Image:" + served) + "==",
        _id("Image:" + served),
        _id("Image:arn:aws:sagemaker:us-east-1:123456789012:image/no-such-image"),
    ]
    control.reset()

    body = await service.query(NODES, ids=ids)

    found = body["data"]["nodes"]
    assert found[6] == {
        "__typename": "Image",
        "id": ids[6],
        "imageName": "sklearn-kernel",
        "displayName": "scikit-learn kernel",
    }
    assert found[:6] == [None] * 6
    assert found[7] is None
    errors = errors_by_path(body)
    for index in range(6):
        assert errors[("nodes", index)]["extensions"]["code"] == "BAD_USER_INPUT", index
    assert "does not serve" in errors[("nodes", 4)]["message"]
    assert errors[("nodes", 7)]["extensions"]["code"] == "NOT_FOUND"
    assert set(errors) == {("nodes", index) for index in (0, 1, 2, 3, 4, 5, 7)}
    assert control.stats()["calls"] == {"DescribeImage": 2}


async def test_nodes_are_bounded_like_refs(endpoint: BackgroundEndpoint) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url, max_refs=3)
    async with serving(settings) as (_, service):
        body = await service.query(NODES, ids=["a", "b", "c", "d"])
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["maxRefs"] == 3
    assert "at most 3 ids" in error["message"]
