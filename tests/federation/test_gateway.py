"""Queries through Apollo Gateway: the image subgraph composes, resolves entities for another
subgraph in batches (also when they live in two regions), and its error codes reach the
gateway's clients."""

from __future__ import annotations

from typing import Any

import httpx
from mypy_boto3_sagemaker import SageMakerClient

from tests.conftest import (
    ROLE_ARN,
    ROOT,
    EndpointControl,
    assert_node_packages_are_the_locked_ones,
    create_image,
    sagemaker_client,
)
from tests.federation.conftest import HERE, FederatedGraph, compose


def _query(graph: FederatedGraph, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(graph.url, json={"query": query, "variables": variables}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_checked_in_schema_composes_on_its_own() -> None:
    from tests.federation.conftest import _node

    result = compose(_node(), {"images": ("http://127.0.0.1:1/graphql", ROOT / "schema.graphql")})
    assert result.returncode == 0, result.stderr
    assert 'join__type(graph: IMAGES, key: "imageVersionArn")' in result.stdout


def test_the_installed_node_packages_are_the_pinned_ones() -> None:
    assert_node_packages_are_the_locked_ones(HERE)


def test_an_image_version_by_key_through_the_gateway(
    federated_graph: FederatedGraph, control: EndpointControl
) -> None:
    body = _query(
        federated_graph,
        """{ imageVersion(imageName: "pytorch-training", alias: "stable") {
             imageVersionArn version processor aliases
             image { displayName latestVersion { version } } } }""",
    )
    assert "errors" not in body
    version = body["data"]["imageVersion"]
    assert version["version"] == 3
    assert version["processor"] == "GPU"
    assert version["aliases"] == ["2.3", "stable"]
    assert version["image"] == {"displayName": "PyTorch training", "latestVersion": {"version": 5}}


def test_entities_for_another_subgraph_are_batched(
    federated_graph: FederatedGraph, control: EndpointControl, sagemaker: SageMakerClient
) -> None:
    name = create_image(sagemaker, 40, "federated")
    versions = sagemaker.list_image_versions(ImageName=name, MaxResults=100)["ImageVersions"]
    arns = sorted(v["ImageVersionArn"] for v in versions)
    federated_graph.deployment_arns[:] = [arns[i % 40] for i in range(100)]
    control.reset()
    control.set_faults(latencyMs=20)

    body = _query(
        federated_graph,
        "{ deployments { name imageVersion { imageVersionArn version baseImage imageName } } }",
    )

    assert "errors" not in body
    deployments = body["data"]["deployments"]
    assert len(deployments) == 100
    for deployment, arn in zip(deployments, federated_graph.deployment_arns, strict=True):
        assert deployment["imageVersion"]["imageVersionArn"] == arn
        assert deployment["imageVersion"]["baseImage"].endswith(
            f":{deployment['imageVersion']['version']}"
        )
    assert control.stats()["calls"] == {"DescribeImageVersion": 40}
    assert control.stats()["peakInFlight"] > 1


def test_entities_in_two_regions_cost_one_call_per_unique_version_in_each(
    federated_graph: FederatedGraph, control: EndpointControl, sagemaker: SageMakerClient
) -> None:
    # The same image name in both regions, with base images that say which catalog answered.
    name = create_image(sagemaker, 3, "regions")
    europe = sagemaker_client(control.url, region="eu-west-1")
    europe.create_image(ImageName=name, RoleArn=ROLE_ARN)
    for number in (1, 2):
        europe.create_image_version(
            ImageName=name, BaseImage=f"eu/{name}:{number}", ClientToken=f"t{number}"
        )
    arn = "arn:aws:sagemaker:{}:123456789012:image-version/" + name + "/{}"
    asked = [
        ("us-east-1", 1),
        ("eu-west-1", 1),
        ("us-east-1", 2),
        ("eu-west-1", 1),
        ("us-east-1", 1),
        ("eu-west-1", 2),
        ("us-east-1", 3),
        ("eu-west-1", 2),
    ]
    federated_graph.deployment_arns[:] = [arn.format(*each) for each in asked]
    control.reset()

    body = _query(
        federated_graph,
        "{ deployments { imageVersion { imageVersionArn region accountId version baseImage } } }",
    )

    assert "errors" not in body, body
    found = [deployment["imageVersion"] for deployment in body["data"]["deployments"]]
    assert found == [
        {
            "imageVersionArn": arn.format(region, number),
            "region": region,
            "accountId": "123456789012",
            "version": number,
            "baseImage": f"{'eu' if region == 'eu-west-1' else 'repo'}/{name}:{number}",
        }
        for region, number in asked
    ]
    # The gateway's one _entities request is one batch: each target is asked once per unique
    # version in it, and for nothing else.
    assert control.stats()["byTarget"] == {
        "us-east-1/123456789012": {"DescribeImageVersion": 3},
        "eu-west-1/123456789012": {"DescribeImageVersion": 2},
    }


def test_not_found_reaches_the_gateways_client_with_its_code(
    federated_graph: FederatedGraph,
) -> None:
    body = _query(federated_graph, '{ imageVersion(imageName: "no-such-image") { version } }')
    assert body["data"] == {"imageVersion": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["imageName"] == "no-such-image"
    assert error["path"] == ["imageVersion"]


def test_a_missing_entity_is_null_with_not_found(
    federated_graph: FederatedGraph,
) -> None:
    federated_graph.deployment_arns[:] = [
        "arn:aws:sagemaker:us-east-1:123456789012:image-version/sklearn-kernel/1",
        "arn:aws:sagemaker:us-east-1:123456789012:image-version/sklearn-kernel/999",
    ]
    body = _query(federated_graph, "{ deployments { name imageVersion { version jobType } } }")
    codes = {error["extensions"]["code"] for error in body.get("errors", [])}
    assert codes == {"NOT_FOUND"}
    first, missing = body["data"]["deployments"]
    assert first["imageVersion"]["jobType"] == "NOTEBOOK_KERNEL"
    assert missing == {"name": "deployment-1", "imageVersion": None}
