"""imageVersion and imageVersions through the real stack: HTTP to the app, boto3 over HTTP to the
local endpoint. The expected values come from SageMaker's own answers, not from constants."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from mypy_boto3_sagemaker import SageMakerClient

from app.local_sagemaker.seed import demo_catalog
from app.local_sagemaker.shapes import enum_values
from tests.service.conftest import LOCAL_TARGET, GraphQLClient, errors_by_path

ALL_FIELDS = """
    imageVersionArn imageArn imageName version imageVersionStatus baseImage containerImage
    creationTime lastModifiedTime failureReason vendorGuidance jobType mlFramework
    programmingLang processor horovod releaseNotes
"""

# GraphQL field -> DescribeImageVersion member, for the fields that pass through unchanged.
SAME_VALUE = {
    "imageVersionArn": "ImageVersionArn",
    "imageArn": "ImageArn",
    "version": "Version",
    "imageVersionStatus": "ImageVersionStatus",
    "baseImage": "BaseImage",
    "containerImage": "ContainerImage",
    "failureReason": "FailureReason",
    "vendorGuidance": "VendorGuidance",
    "jobType": "JobType",
    "mlFramework": "MLFramework",
    "programmingLang": "ProgrammingLang",
    "processor": "Processor",
    "horovod": "Horovod",
    "releaseNotes": "ReleaseNotes",
}


def _assert_matches_describe(field_values: dict[str, Any], described: dict[str, Any]) -> None:
    for field, member in SAME_VALUE.items():
        assert field_values[field] == described.get(member), field
    for field, member in (
        ("creationTime", "CreationTime"),
        ("lastModifiedTime", "LastModifiedTime"),
    ):
        assert field_values[field] == described[member].astimezone(UTC).isoformat()
        assert field_values[field].endswith("+00:00")
    assert field_values["imageName"] == described["ImageArn"].rsplit("/", 1)[1]


async def test_every_field_comes_through(
    service: GraphQLClient, sagemaker: SageMakerClient
) -> None:
    body = await service.query(
        "query($name: String!) { imageVersion(imageName: $name, version: 3) {"
        f" {ALL_FIELDS} }} }}",
        name="pytorch-training",
    )
    assert "errors" not in body
    described = sagemaker.describe_image_version(ImageName="pytorch-training", Version=3)
    _assert_matches_describe(body["data"]["imageVersion"], dict(described))


async def test_alias_and_latest_resolve_like_sagemaker(
    service: GraphQLClient, sagemaker: SageMakerClient
) -> None:
    body = await service.query(
        """{ byAlias: imageVersion(imageName: "pytorch-training", alias: "stable") { version }
             latest: imageVersion(imageName: "pytorch-training") { version } }"""
    )
    assert (
        body["data"]["byAlias"]["version"]
        == sagemaker.describe_image_version(ImageName="pytorch-training", Alias="stable")["Version"]
    )
    assert (
        body["data"]["latest"]["version"]
        == sagemaker.describe_image_version(ImageName="pytorch-training")["Version"]
    )


async def test_every_enum_value_and_optional_field_comes_through(
    service: GraphQLClient, sagemaker: SageMakerClient
) -> None:
    refs = [
        {"imageName": image["ImageName"], "version": version["Version"]}
        for image, versions in demo_catalog()
        for version in versions
    ]
    body = await service.query(
        f"query($refs: [ImageVersionRef!]!) {{ imageVersions(refs: $refs) {{ {ALL_FIELDS} }} }}",
        refs=refs,
    )
    assert "errors" not in body
    versions = body["data"]["imageVersions"]
    for ref, version in zip(refs, versions, strict=True):
        described = sagemaker.describe_image_version(
            ImageName=ref["imageName"], Version=ref["version"]
        )
        _assert_matches_describe(version, dict(described))
    for field, shape in (
        ("imageVersionStatus", "ImageVersionStatus"),
        ("vendorGuidance", "VendorGuidance"),
        ("jobType", "JobType"),
        ("processor", "Processor"),
    ):
        assert {v[field] for v in versions} - {None} == set(enum_values(shape)), field
    assert {v["horovod"] for v in versions} == {True, False, None}


async def test_partial_results_keep_their_order(service: GraphQLClient) -> None:
    body = await service.query(
        "query($refs: [ImageVersionRef!]!) { imageVersions(refs: $refs) { imageName version } }",
        refs=[
            {"imageName": "sklearn-kernel", "version": 1},
            {"imageName": "no-such-image"},
            {"imageName": "pytorch-training", "alias": "stable"},
            {"imageName": "bad name"},
            {"imageName": "pytorch-training", "version": 99},
            {"imageName": "sklearn-kernel", "version": 1},
        ],
    )
    data = body["data"]["imageVersions"]
    assert [None if v is None else (v["imageName"], v["version"]) for v in data] == [
        ("sklearn-kernel", 1),
        None,
        ("pytorch-training", 3),
        None,
        None,
        ("sklearn-kernel", 1),
    ]
    errors = errors_by_path(body)
    assert set(errors) == {("imageVersions", 1), ("imageVersions", 3), ("imageVersions", 4)}
    assert errors[("imageVersions", 1)]["extensions"]["code"] == "NOT_FOUND"
    assert errors[("imageVersions", 3)]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[("imageVersions", 4)]["extensions"] | {"awsRequestId": None} == {
        "code": "NOT_FOUND",
        "retryable": False,
        "imageName": "pytorch-training",
        "version": 99,
        "awsErrorCode": "ResourceNotFound",
        "awsRequestId": None,
        "region": LOCAL_TARGET.region,
        "account": LOCAL_TARGET.account,
    }


async def test_get_requests_answer_queries(service: GraphQLClient) -> None:
    response = await service.http.get(
        "/graphql", params={"query": '{ imageVersion(imageName: "sklearn-kernel") { version } }'}
    )
    assert response.json() == {"data": {"imageVersion": {"version": 2}}}
