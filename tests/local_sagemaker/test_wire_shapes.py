"""Every operation's answers, read off the wire, agree with botocore's output shapes.

This is what keeps the local endpoint from drifting away from the real API: a member renamed, a
required one dropped, a timestamp sent as a string or an enum value AWS does not have fails here.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.local_sagemaker import EndpointOptions
from app.local_sagemaker.database import VERSION_FIELDS
from app.local_sagemaker.seed import demo_catalog
from app.local_sagemaker.server import BackgroundEndpoint
from app.local_sagemaker.shapes import enum_values, input_shape, operation_model, problems
from tests.conftest import raw_call

SHAPE_CHECK_ARN = "arn:aws:sagemaker:us-east-1:123456789012:image/shape-check"
# One call per operation, in an order where each finds what it needs (its own image).
CALLS: list[tuple[str, dict[str, Any]]] = [
    (
        "CreateImage",
        {
            "ImageName": "shape-check",
            "RoleArn": "arn:aws:iam::123456789012:role/R",
            "DisplayName": "Shape check",
            "Description": "made by the shape test",
            "Tags": [{"Key": "team", "Value": "ml"}],
        },
    ),
    ("DescribeImage", {"ImageName": "shape-check"}),
    ("ListImages", {"MaxResults": 2, "SortBy": "IMAGE_NAME", "SortOrder": "ASCENDING"}),
    (
        "CreateImageVersion",
        {
            "ImageName": "shape-check",
            "BaseImage": "repo/img:1",
            "ClientToken": "token-1",
            "Aliases": ["one"],
            "JobType": "TRAINING",
            "Processor": "GPU",
            "Horovod": True,
            "VendorGuidance": "STABLE",
            "MLFramework": "PyTorch 2.3",
            "ProgrammingLang": "Python 3.11",
            "ReleaseNotes": "notes",
        },
    ),
    ("DescribeImageVersion", {"ImageName": "shape-check", "Alias": "one"}),
    ("ListImageVersions", {"ImageName": "shape-check"}),
    (
        "UpdateImageVersion",
        {
            "ImageName": "shape-check",
            "Version": 1,
            "AliasesToAdd": ["two"],
            "AliasesToDelete": ["one"],
            "VendorGuidance": "ARCHIVED",
        },
    ),
    ("ListAliases", {"ImageName": "shape-check", "Version": 1}),
    ("DeleteImageVersion", {"ImageName": "shape-check", "Version": 1}),
    ("UpdateImage", {"ImageName": "shape-check", "Description": "updated"}),
    ("AddTags", {"ResourceArn": SHAPE_CHECK_ARN, "Tags": [{"Key": "stage", "Value": "dev"}]}),
    ("ListTags", {"ResourceArn": SHAPE_CHECK_ARN}),
    ("DeleteTags", {"ResourceArn": SHAPE_CHECK_ARN, "TagKeys": ["stage"]}),
    ("DeleteImage", {"ImageName": "shape-check"}),
]


def test_calls_cover_every_supported_operation(endpoint: BackgroundEndpoint) -> None:
    from app.local_sagemaker.endpoint import supported_operations

    assert {name for name, _ in CALLS} == set(supported_operations(endpoint.endpoint.store))


def test_every_operation_answers_in_its_output_shape(endpoint: BackgroundEndpoint) -> None:
    for operation, params in CALLS:
        response = raw_call(endpoint.url, operation, params)
        assert response.status_code == 200, (operation, response.text)
        assert response.headers["content-type"] == "application/x-amz-json-1.1"
        assert response.headers["x-amzn-requestid"]
        output_shape = operation_model(operation).output_shape
        body = response.json()
        if output_shape is None:
            assert body == {}
        else:
            assert list(problems(output_shape, body)) == [], operation


def test_describe_answers_hold_every_member_the_api_defines(endpoint: BackgroundEndpoint) -> None:
    response = raw_call(
        endpoint.url, "DescribeImageVersion", {"ImageName": "pytorch-training", "Version": 3}
    )
    output_shape = operation_model("DescribeImageVersion").output_shape
    assert output_shape is not None
    members = set(output_shape.members)
    assert members - set(response.json()) == {"FailureReason"}


@pytest.mark.parametrize(
    ("operation", "params", "code"),
    [
        ("DescribeImageVersion", {"ImageName": "nope"}, "ResourceNotFound"),
        ("DescribeImage", {"ImageName": "nope"}, "ResourceNotFound"),
        ("ListImageVersions", {"ImageName": "nope"}, "ResourceNotFound"),
        ("ListAliases", {"ImageName": "nope"}, "ResourceNotFound"),
        (
            "CreateImage",
            {"ImageName": "pytorch-training", "RoleArn": "arn:aws:iam::123456789012:role/R"},
            "ResourceInUse",
        ),
        (
            "CreateImageVersion",
            {
                "ImageName": "pytorch-training",
                "BaseImage": "r:1",
                "ClientToken": "t-dup",
                "Aliases": ["stable"],
            },
            "ResourceInUse",
        ),
    ],
)
def test_modelled_errors_use_the_operations_error_shapes(
    endpoint: BackgroundEndpoint, operation: str, params: dict[str, Any], code: str
) -> None:
    response = raw_call(endpoint.url, operation, params)
    assert response.status_code == 400
    body = response.json()
    assert body["__type"] == code
    assert code in {shape.name for shape in operation_model(operation).error_shapes}
    assert body["message"]
    assert response.headers["x-amzn-requestid"]


def test_the_demo_catalog_holds_every_enum_value_of_the_describe_call() -> None:
    # An endpoint of its own: other tests add images to the shared one (some with values the
    # model does not know yet, as when AWS adds one).
    with BackgroundEndpoint(EndpointOptions()) as endpoint:
        seen = _describe_enum_values(endpoint)
    for member, values in seen.items():
        assert values == set(enum_values(member)), member
    assert set(seen) == {"ImageVersionStatus", "VendorGuidance", "JobType", "Processor"}


def _describe_enum_values(endpoint: BackgroundEndpoint) -> dict[str, set[str]]:
    """Each enumerated member of DescribeImageVersion's answers, with every value it has in
    ``endpoint``'s catalog (checking each failure has its reason)."""
    seen: dict[str, set[str]] = {}
    images = raw_call(endpoint.url, "ListImages", {"MaxResults": 100}).json()["Images"]
    for image in images:
        versions = raw_call(
            endpoint.url, "ListImageVersions", {"ImageName": image["ImageName"], "MaxResults": 100}
        ).json()
        for summary in versions["ImageVersions"]:
            described = raw_call(
                endpoint.url,
                "DescribeImageVersion",
                {"ImageName": image["ImageName"], "Version": summary["Version"]},
            ).json()
            for member in ("ImageVersionStatus", "VendorGuidance", "JobType", "Processor"):
                if member in described:
                    seen.setdefault(member, set()).add(described[member])
            if described["ImageVersionStatus"].endswith("FAILED"):
                assert described["FailureReason"]
    return seen


def test_control_api_reports_calls_and_rejects_bad_plans(endpoint: BackgroundEndpoint) -> None:
    raw_call(endpoint.url, "DescribeImage", {"ImageName": "sklearn-kernel"})
    stats = httpx.get(f"{endpoint.url}/_local/stats").json()
    assert stats["calls"] == {"DescribeImage": 1}
    bad = httpx.put(f"{endpoint.url}/_local/faults", json={"throttleRate": 2})
    assert bad.status_code == 400
    assert "throttle_rate" in bad.json()["error"]
    unknown = httpx.put(f"{endpoint.url}/_local/faults", json={"latency": 1})
    assert unknown.status_code == 400
    assert httpx.get(f"{endpoint.url}/_local/faults").json()["throttleRate"] == 0


def test_every_seeded_value_passes_the_models_input_checks() -> None:
    # The seed stands in for what a real account holds, and AWS would have refused to create
    # anything its own input checks refuse.
    found = []
    for image, versions in demo_catalog():
        create_image = {
            member: image[member]
            for member in ("ImageName", "RoleArn", "DisplayName", "Description")
            if member in image
        }
        found += list(problems(input_shape("CreateImage"), create_image))
        for version in versions:
            create_version = {
                "ImageName": image["ImageName"],
                "ClientToken": f"seed-{version['Version']}",
                **{
                    member: version[member]
                    for member in ("BaseImage", "Aliases", *VERSION_FIELDS)
                    if member in version
                },
            }
            found += list(problems(input_shape("CreateImageVersion"), create_version))
    assert found == []
