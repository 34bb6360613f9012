"""Batching, counted where it matters: at the SageMaker endpoint."""

from __future__ import annotations

import dataclasses

from mypy_boto3_sagemaker import SageMakerClient

from app.loaders import Loaders
from app.local_sagemaker.server import BackgroundEndpoint
from app.sagemaker import ImageVersionKey, SageMaker, build_transport
from app.sagemaker.operations import DESCRIBE_IMAGE_VERSION
from tests.conftest import EndpointControl, create_image
from tests.service.conftest import TEST_SETTINGS, GraphQLClient


async def test_fifty_refs_with_ten_repeats_cost_forty_concurrent_calls(
    service: GraphQLClient, sagemaker: SageMakerClient, control: EndpointControl
) -> None:
    name = create_image(sagemaker, 40)
    unique = [{"imageName": name, "version": number} for number in range(1, 41)]
    refs = unique + unique[5:15]
    control.reset()
    control.set_faults(latencyMs=50)

    body = await service.query(
        "query($refs: [ImageVersionRef!]!) { imageVersions(refs: $refs) { version } }", refs=refs
    )

    assert "errors" not in body
    assert [v["version"] for v in body["data"]["imageVersions"]] == [r["version"] for r in refs]
    stats = control.stats()
    assert stats["calls"] == {"DescribeImageVersion": 40}
    assert stats["peakInFlight"] > 1


async def test_the_same_ref_in_many_fields_costs_one_call(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    body = await service.query(
        """{ a: imageVersion(imageName: "sklearn-kernel", alias: "stable") { version }
             b: imageVersion(imageName: "sklearn-kernel", alias: "stable") { imageArn }
             c: imageVersions(refs: [{imageName: "sklearn-kernel", alias: "stable"}]) {
                  version } }"""
    )
    assert body["data"]["a"]["version"] == body["data"]["c"][0]["version"] == 2
    assert control.calls("DescribeImageVersion") == 1


async def test_loaders_are_per_request(service: GraphQLClient, control: EndpointControl) -> None:
    control.reset()
    query = '{ imageVersion(imageName: "sklearn-kernel", version: 1) { version } }'
    await service.query(query)
    await service.query(query)
    assert control.calls("DescribeImageVersion") == 2


async def test_alias_and_latest_results_prime_their_pinned_version(
    endpoint: BackgroundEndpoint, control: EndpointControl
) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    aws = SageMaker(build_transport(settings.aws(), settings.target_specs()[0]))
    try:
        loaders = Loaders(aws, timeout=10)
        control.reset()
        by_alias = await loaders.of(DESCRIBE_IMAGE_VERSION).load(
            ImageVersionKey("pytorch-training", None, "stable")
        )
        latest = await loaders.of(DESCRIBE_IMAGE_VERSION).load(ImageVersionKey("pytorch-training"))
        pinned = [
            await loaders.of(DESCRIBE_IMAGE_VERSION).load(
                ImageVersionKey("pytorch-training", by_alias.version)
            ),
            await loaders.of(DESCRIBE_IMAGE_VERSION).load(
                ImageVersionKey("pytorch-training", latest.version)
            ),
        ]
        assert [p.version for p in pinned] == [3, 5]
        assert control.calls("DescribeImageVersion") == 2
    finally:
        await aws.aclose()


async def test_concurrency_is_bounded_by_the_pool_size(
    endpoint: BackgroundEndpoint, control: EndpointControl, sagemaker: SageMakerClient
) -> None:
    name = create_image(sagemaker, 12)
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url, pool_size=3)
    aws = SageMaker(build_transport(settings.aws(), settings.target_specs()[0]))
    try:
        control.reset()
        control.set_faults(latencyMs=30)
        loaders = Loaders(aws, timeout=10)
        found = await loaders.of(DESCRIBE_IMAGE_VERSION).load_many(
            [ImageVersionKey(name, number) for number in range(1, 13)]
        )
        assert [f.version for f in found] == list(range(1, 13))
        assert control.stats()["peakInFlight"] == 3
    finally:
        await aws.aclose()
