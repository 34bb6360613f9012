"""The cache across requests, in one process: what it keeps, for how long, and how many calls
reach SageMaker when many ask at once. (Replicas sharing Redis: tests/deployment.)"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from mypy_boto3_sagemaker import SageMakerClient

from app.local_sagemaker import BackgroundEndpoint
from tests.conftest import EndpointControl, create_image
from tests.fakes import FakeClock
from tests.log_lines import logged
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, serving

VERSION = """query($name: String!, $v: Int) {
  imageVersion(imageName: $name, version: $v) { version imageVersionStatus baseImage } }"""
VERSIONS = """{ image(imageName: "pytorch-training") {
  versions(first: 10) { edges { node { version imageVersionStatus } } } } }"""


@pytest.fixture
def clock() -> FakeClock:
    """The service's wall clock: an answer goes stale when a test moves it on."""
    return FakeClock(time.time())


@pytest.fixture
async def cached(endpoint: BackgroundEndpoint, clock: FakeClock) -> AsyncIterator[GraphQLClient]:
    settings = dataclasses.replace(
        TEST_SETTINGS,
        endpoint_url=endpoint.url,
        cache="memory",
        cache_ttl=60,
        cache_changing_ttl=0.3,
        cache_not_found_ttl=0.3,
        cache_list_ttl=60,
    )
    async with serving(settings, clock) as (_, client):
        yield client


async def test_a_repeated_lookup_is_answered_from_the_cache(
    cached: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    answers = [await cached.query(VERSION, name="sklearn-kernel", v=1) for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["data"]["imageVersion"]["version"] == 1
    assert control.calls("DescribeImageVersion") == 1


async def test_not_found_is_kept_briefly(
    cached: GraphQLClient, control: EndpointControl, clock: FakeClock
) -> None:
    control.reset()
    for _ in range(3):
        body = await cached.query(VERSION, name="no-such-image")
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert body["errors"][0]["extensions"]["imageName"] == "no-such-image"
    assert control.calls("DescribeImageVersion") == 1
    clock.advance(0.4)
    await cached.query(VERSION, name="no-such-image")
    assert control.calls("DescribeImageVersion") == 2


async def test_errors_that_say_nothing_of_the_resource_are_not_kept(
    cached: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    control.set_faults(throttleRate=1.0)
    first = await cached.query(VERSION, name="pytorch-inference", v=1)
    assert first["errors"][0]["extensions"]["code"] == "THROTTLED"
    control.set_faults(throttleRate=0.0)
    second = await cached.query(VERSION, name="pytorch-inference", v=1)
    assert second["data"]["imageVersion"]["version"] == 1


async def test_a_version_in_a_transition_is_fresh_only_briefly(
    cached: GraphQLClient, control: EndpointControl, clock: FakeClock
) -> None:
    # The seed holds a version frozen in CREATING.
    body = await cached.query(VERSIONS)
    [changing] = [
        edge["node"]["version"]
        for edge in body["data"]["image"]["versions"]["edges"]
        if edge["node"]["imageVersionStatus"] == "CREATING"
    ]
    control.reset()
    await cached.query(VERSION, name="pytorch-training", v=changing)
    await cached.query(VERSION, name="pytorch-training", v=changing)
    assert control.calls("DescribeImageVersion") == 1
    clock.advance(0.4)
    await cached.query(VERSION, name="pytorch-training", v=changing)
    assert control.calls("DescribeImageVersion") == 2


async def test_concurrent_misses_for_one_key_make_one_call(
    cached: GraphQLClient, control: EndpointControl, sagemaker: SageMakerClient
) -> None:
    name = create_image(sagemaker, 1)
    control.reset()
    control.set_faults(latencyMs=200)
    bodies = await asyncio.gather(*(cached.query(VERSION, name=name, v=1) for _ in range(50)))
    assert {body["data"]["imageVersion"]["version"] for body in bodies} == {1}
    assert control.calls("DescribeImageVersion") == 1


async def test_the_cache_can_be_turned_off(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    await service.query(VERSION, name="sklearn-kernel", v=1)
    await service.query(VERSION, name="sklearn-kernel", v=1)
    assert control.calls("DescribeImageVersion") == 2


@pytest.fixture
async def costed(endpoint: BackgroundEndpoint, clock: FakeClock) -> AsyncIterator[GraphQLClient]:
    settings = dataclasses.replace(
        TEST_SETTINGS,
        endpoint_url=endpoint.url,
        cache="memory",
        cache_ttl=60,
        cache_changing_ttl=0.3,
        cost_extension=True,
    )
    async with serving(settings, clock) as (_, client):
        yield client


async def test_an_identical_request_is_answered_whole_while_its_answers_are_fresh(
    costed: GraphQLClient,
) -> None:
    first = await costed.query(VERSION, name="sklearn-kernel", v=1)
    again = await costed.query(VERSION, name="sklearn-kernel", v=1)
    other = await costed.query(VERSION, name="sklearn-kernel", v=2)
    assert again["data"] == first["data"]
    assert again["extensions"]["cost"]["responseCacheHit"] is True
    assert again["extensions"]["cost"]["upstreamCalls"] == 0
    assert first["extensions"]["cost"]["responseCacheHit"] is False
    assert other["extensions"]["cost"]["responseCacheHit"] is False


async def test_a_response_lives_no_longer_than_its_shortest_lived_answer(
    costed: GraphQLClient, clock: FakeClock
) -> None:
    # Version 5 of pytorch-training is CREATING: fresh for the changing TTL only.
    await costed.query(VERSION, name="pytorch-training", v=5)
    soon = await costed.query(VERSION, name="pytorch-training", v=5)
    assert soon["extensions"]["cost"]["responseCacheHit"] is True
    clock.advance(0.4)
    later = await costed.query(VERSION, name="pytorch-training", v=5)
    assert later["extensions"]["cost"]["responseCacheHit"] is False


async def test_a_response_with_errors_is_never_reused(costed: GraphQLClient) -> None:
    await costed.query(VERSION, name="no-such-image")
    again = await costed.query(VERSION, name="no-such-image")
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert again["extensions"]["cost"]["responseCacheHit"] is False


async def test_a_replica_with_other_limits_never_serves_anothers_responses(
    endpoint: BackgroundEndpoint, redis_url: str
) -> None:
    # Two replicas on one Redis and namespace; the second holds documents to a lower depth.
    # What the first answered and kept must not reach the second's clients.
    shared = dataclasses.replace(
        TEST_SETTINGS,
        endpoint_url=endpoint.url,
        cache="redis",
        redis_url=redis_url,
        cache_namespace=f"limits-{time.time_ns()}",
    )
    deep = """{ imageVersion(imageName: "sklearn-kernel", version: 1) {
      image { versions(first: 1) { edges { node { version } } } } } }"""
    async with serving(shared) as (_, lenient):
        kept = await lenient.query(deep)
    assert kept["data"]["imageVersion"]["image"]["versions"]["edges"][0]["node"]["version"]
    async with serving(dataclasses.replace(shared, max_depth=3)) as (_, strict):
        refused = await strict.query(deep)
    assert "data" not in refused
    assert refused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.fixture
async def kept(endpoint: BackgroundEndpoint) -> AsyncIterator[GraphQLClient]:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url, cache="memory")
    async with serving(settings) as (_, client):
        yield client


async def test_a_kept_answer_is_the_bytes_sent_before_and_logged_as_a_hit(
    kept: GraphQLClient, control: EndpointControl
) -> None:
    body = {"query": VERSION, "variables": {"name": "sklearn-kernel", "v": 1}}
    with logged("app.requests") as lines:
        first = await kept.http.post("/graphql", json=body)
        again = await kept.http.post("/graphql", json=body)
        # Written otherwise, it is another request: executed (from the records it needs).
        other = await kept.http.post("/graphql", json={**body, "operationName": None})
    assert again.status_code == first.status_code == 200
    assert again.content == first.content == other.content
    # Its headers are a fresh answer's (but the request's own id).
    assert _but_the_id(again.headers) == _but_the_id(first.headers)
    assert again.headers["cache-control"] == "no-store"
    requests = [line for line in lines.lines if line.get("event") == "http_request"]
    assert [line.get("responseCache") for line in requests] == [None, "hit", None]
    assert control.calls("DescribeImageVersion") == 1


def _but_the_id(headers: httpx.Headers) -> list[tuple[str, str]]:
    return sorted((name, value) for name, value in headers.items() if name != "x-request-id")


async def test_a_kept_get_answer_keeps_its_etag_and_304(kept: GraphQLClient) -> None:
    params = {"query": '{ image(imageName: "sklearn-kernel") { imageName } }'}
    first = await kept.http.get("/graphql", params=params)
    again = await kept.http.get("/graphql", params=params)
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"].startswith("public, max-age=")
    unchanged = await kept.http.get(
        "/graphql", params=params, headers={"If-None-Match": first.headers["etag"]}
    )
    assert unchanged.status_code == 304


async def test_a_kept_answer_is_sent_in_the_media_type_each_request_accepts(
    kept: GraphQLClient,
) -> None:
    body = {"query": VERSION, "variables": {"name": "sklearn-kernel", "v": 1}}
    legacy = await kept.http.post("/graphql", json=body, headers={"accept": "application/json"})
    modern = await kept.http.post(
        "/graphql", json=body, headers={"accept": "application/graphql-response+json"}
    )
    neither = await kept.http.post("/graphql", json=body, headers={"accept": "text/plain"})
    assert legacy.headers["content-type"] == "application/json"
    assert modern.headers["content-type"] == "application/graphql-response+json"
    assert modern.content == legacy.content
    assert neither.status_code == 406


async def test_a_kept_answer_to_head_is_its_headers_alone(kept: GraphQLClient) -> None:
    params = {"query": '{ image(imageName: "sklearn-kernel") { imageName } }'}
    first = await kept.http.get("/graphql", params=params)
    with logged("app.requests") as lines:
        head = await kept.http.head("/graphql", params=params)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(first.content))
    assert head.headers["etag"] == first.headers["etag"]
    [line] = [line for line in lines.lines if line.get("event") == "http_request"]
    assert line["responseCache"] == "hit"


async def test_a_request_for_a_federated_trace_is_never_answered_from_the_cache(
    kept: GraphQLClient,
) -> None:
    body = {"query": VERSION, "variables": {"name": "sklearn-kernel", "v": 1}}
    await kept.http.post("/graphql", json=body)
    traced = await kept.http.post(
        "/graphql", json=body, headers={"apollo-federation-include-trace": "ftv1"}
    )
    assert "ftv1" in traced.json()["extensions"]


async def test_a_kept_answer_goes_only_to_a_request_with_a_credential(
    endpoint: BackgroundEndpoint, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.write_text("k1\n")
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, cache="memory", api_keys_file=str(keys)
    )
    body = {"query": VERSION, "variables": {"name": "sklearn-kernel", "v": 1}}
    async with serving(settings) as (_, client):
        first = await client.http.post("/graphql", json=body, headers={"x-api-key": "k1"})
        again = await client.http.post("/graphql", json=body, headers={"x-api-key": "k1"})
        stranger = await client.http.post("/graphql", json=body)
    assert again.content == first.content
    assert stranger.status_code == 401
    assert stranger.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_kept_answer_to_a_browser_carries_its_cors_headers(
    endpoint: BackgroundEndpoint,
) -> None:
    settings = dataclasses.replace(
        TEST_SETTINGS,
        endpoint_url=endpoint.url,
        cache="memory",
        cors_origins=("https://app.example",),
    )
    body = {"query": VERSION, "variables": {"name": "sklearn-kernel", "v": 1}}
    origin = {"origin": "https://app.example"}
    async with serving(settings) as (_, client):
        with logged("app.requests") as lines:
            await client.http.post("/graphql", json=body, headers=origin)
            again = await client.http.post("/graphql", json=body, headers=origin)
    assert again.headers["access-control-allow-origin"] == "https://app.example"
    requests = [line for line in lines.lines if line.get("event") == "http_request"]
    assert [line.get("responseCache") for line in requests] == [None, "hit"]
