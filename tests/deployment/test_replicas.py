"""Two replicas of the service, as separate processes, sharing one real Redis: an answer one
fetched is the other's too, and a burst of requests for one new key across both reaches
SageMaker once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from mypy_boto3_sagemaker import SageMakerClient

from app.local_sagemaker import BackgroundEndpoint
from tests.conftest import EndpointControl, create_image, free_port, running_command

QUERY = "query($name: String!) { imageVersion(imageName: $name, version: 1) { version baseImage } }"


@pytest.fixture
def replicas(endpoint: BackgroundEndpoint, redis_url: str) -> Iterator[list[str]]:
    env = {
        "SMGQL_BACKEND": "local",
        "SMGQL_ENDPOINT_URL": endpoint.url,
        "SMGQL_CACHE": "redis",
        "SMGQL_REDIS_URL": redis_url,
    }
    urls = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    first, second = (url.rsplit(":", 1)[1] for url in urls)
    with (
        running_command(["serve", "--port", first], env=env),
        running_command(["serve", "--port", second], env=env),
    ):
        yield urls


def _version(url: str, name: str) -> int:
    body = httpx.post(f"{url}/graphql", json={"query": QUERY, "variables": {"name": name}}).json()
    version: int = body["data"]["imageVersion"]["version"]
    return version


def test_what_one_replica_fetched_the_other_answers_without_a_call(
    replicas: list[str], control: EndpointControl, sagemaker: SageMakerClient
) -> None:
    name = create_image(sagemaker, 1)
    control.reset()
    assert _version(replicas[0], name) == 1
    assert control.calls("DescribeImageVersion") == 1
    assert _version(replicas[1], name) == 1
    assert _version(replicas[0], name) == 1
    assert control.calls("DescribeImageVersion") == 1


def test_a_burst_for_one_new_key_across_replicas_makes_one_call(
    replicas: list[str], control: EndpointControl, sagemaker: SageMakerClient
) -> None:
    name = create_image(sagemaker, 1)
    control.reset()
    control.set_faults(latencyMs=300)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as http:
            answers = await asyncio.gather(
                *(
                    http.post(
                        f"{replicas[i % 2]}/graphql",
                        json={"query": QUERY, "variables": {"name": name}},
                    )
                    for i in range(100)
                )
            )
        return [answer.json()["data"]["imageVersion"]["version"] for answer in answers]

    assert asyncio.run(burst()) == [1] * 100
    assert control.calls("DescribeImageVersion") == 1
