"""Federation entities (``_entities``) through the same loaders as every other path."""

from __future__ import annotations

from mypy_boto3_sagemaker import SageMakerClient

from tests.conftest import EndpointControl, create_image
from tests.service.conftest import GraphQLClient, errors_by_path

SKLEARN_V1 = "arn:aws:sagemaker:us-east-1:123456789012:image-version/sklearn-kernel/1"
ENTITIES = """query($representations: [_Any!]!) { _entities(representations: $representations) {
  ... on ImageVersion { imageVersionArn version imageName baseImage }
  ... on Image { imageName displayName } } }"""


def _arns(sagemaker: SageMakerClient, image: str) -> list[str]:
    versions = sagemaker.list_image_versions(ImageName=image, MaxResults=100)["ImageVersions"]
    return [v["ImageVersionArn"] for v in versions]


async def test_hundred_representations_of_forty_versions_cost_forty_calls(
    service: GraphQLClient, sagemaker: SageMakerClient, control: EndpointControl
) -> None:
    name = create_image(sagemaker, 40)
    arns = sorted(_arns(sagemaker, name))
    representations = [
        {"__typename": "ImageVersion", "imageVersionArn": arns[i % 40]} for i in range(100)
    ]
    control.reset()
    control.set_faults(latencyMs=20)
    body = await service.query(ENTITIES, representations=representations)
    assert "errors" not in body
    found = body["data"]["_entities"]
    assert [entity["imageVersionArn"] for entity in found] == [
        r["imageVersionArn"] for r in representations
    ]
    assert control.stats()["calls"] == {"DescribeImageVersion": 40}
    assert control.stats()["peakInFlight"] > 1


async def test_image_entities_and_bad_representations(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    body = await service.query(
        ENTITIES,
        representations=[
            {"__typename": "Image", "imageName": "sklearn-kernel"},
            {"__typename": "ImageVersion", "imageVersionArn": "arn:aws:s3:::not-an-image"},
            {"__typename": "Image", "imageName": "sklearn-kernel"},
            {"__typename": "ImageVersion"},
            {"__typename": "Image", "imageName": "no-such-image"},
            {"__typename": "ImageVersion", "imageVersionArn": SKLEARN_V1},
        ],
    )
    found = body["data"]["_entities"]
    assert (
        found[0]
        == found[2]
        == {"imageName": "sklearn-kernel", "displayName": "scikit-learn kernel"}
    )
    assert found[5]["version"] == 1
    assert found[5]["baseImage"]
    assert [found[i] for i in (1, 3, 4)] == [None, None, None]
    errors = errors_by_path(body)
    assert errors[("_entities", 1)]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[("_entities", 1)]["extensions"]["imageVersionArn"] == "arn:aws:s3:::not-an-image"
    assert errors[("_entities", 3)]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[("_entities", 4)]["extensions"]["code"] == "NOT_FOUND"
    assert control.stats()["calls"] == {"DescribeImage": 2, "DescribeImageVersion": 1}
