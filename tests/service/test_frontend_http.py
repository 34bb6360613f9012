"""What a frontend's HTTP layer relies on: automatic persisted queries (Apollo's protocol) over
POST and GET, and HTTP caching of GET answers (Cache-Control, ETag and 304, Vary)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.cache.breaker import CircuitBreaker
from app.cache.codec import PersistedQuery
from app.cache.redis_store import RedisStore
from app.cache.stores import KEY_PREFIX
from app.local_sagemaker import BackgroundEndpoint
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, serving

QUERY = '{ imageVersion(imageName: "sklearn-kernel", version: 1) { version jobType } }'
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
PERSISTED = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}


@pytest.fixture
async def cached(endpoint: BackgroundEndpoint) -> AsyncIterator[GraphQLClient]:
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, cache="memory", cache_ttl=60
    )
    async with serving(settings) as (_, client):
        yield client


async def test_a_persisted_query_misses_then_registers_then_hits(service: GraphQLClient) -> None:
    hash_only = {"extensions": PERSISTED}
    miss = await service.http.post("/graphql", json=hash_only)
    [error] = miss.json()["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await service.http.post("/graphql", json={"query": QUERY, **hash_only})
    assert registered.json() == {
        "data": {"imageVersion": {"version": 1, "jobType": "NOTEBOOK_KERNEL"}}
    }
    hit = await service.http.post("/graphql", json=hash_only)
    assert hit.json() == registered.json()
    over_get = await service.http.get("/graphql", params={"extensions": json.dumps(PERSISTED)})
    assert over_get.json() == registered.json()


async def test_a_query_is_never_registered_under_another_hash(service: GraphQLClient) -> None:
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    refused = await service.http.post("/graphql", json={"query": QUERY, "extensions": wrong})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    still_unknown = await service.http.post("/graphql", json={"extensions": wrong})
    assert still_unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    for malformed in ({"version": 2, "sha256Hash": HASH}, {"version": 1, "sha256Hash": "xyz"}, 7):
        response = await service.http.post(
            "/graphql", json={"extensions": {"persistedQuery": malformed}}
        )
        assert response.status_code == 400


@pytest.mark.parametrize(
    "refused",
    [
        "{ imageVersion(imageName:",
        "{ noSuchField }",
        "{ a: __typename " + "b: __typename " * 200 + "}",
    ],
    ids=["unparsable", "invalid", "over a limit"],
)
async def test_a_query_the_service_refuses_is_never_kept(
    service: GraphQLClient, refused: str
) -> None:
    # Kept only once it ran: what fails to parse, to validate or to keep to the limits costs
    # no memory, however often it is registered.
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": _sha256(refused)}}
    first = await service.http.post("/graphql", json={"query": refused, "extensions": persisted})
    assert first.json()["errors"]
    again = await service.http.post("/graphql", json={"extensions": persisted})
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_text_kept_under_another_hash_is_never_run(
    endpoint: BackgroundEndpoint, redis_url: str
) -> None:
    # The store is shared, and what it holds is checked: a text that another writer left
    # under this query's hash is not the query.
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, cache="redis", redis_url=redis_url
    )
    store = RedisStore(redis_url, 1.0, CircuitBreaker("redis", 3, 5.0), 1 << 20)
    await store.put(f"{KEY_PREFIX}:apq:{HASH}", PersistedQuery("{ __typename }"), 60, 0)
    await store.close()
    async with serving(settings) as (_, client):
        answer = await client.http.post("/graphql", json={"extensions": PERSISTED})
    assert answer.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def _sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


async def test_a_get_answer_says_how_long_it_may_be_kept(cached: GraphQLClient) -> None:
    response = await cached.http.get("/graphql", params={"query": QUERY})
    assert response.status_code == 200
    control = response.headers["cache-control"]
    assert control.startswith("public, max-age=")
    assert 0 < int(control.split("=")[1]) <= 60
    assert response.headers["vary"] == "Accept, Apollo-Federation-Include-Trace"
    assert response.headers["etag"]


async def test_a_version_in_a_transition_is_kept_briefly(endpoint: BackgroundEndpoint) -> None:
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, cache="memory", cache_changing_ttl=2
    )
    async with serving(settings) as (_, client):
        creating = '{ imageVersion(imageName: "pytorch-training", version: 5) { version } }'
        response = await client.http.get("/graphql", params={"query": creating})
    assert response.headers["cache-control"] in ("public, max-age=1", "public, max-age=2")


async def test_errors_and_posts_are_never_kept(cached: GraphQLClient) -> None:
    failed = await cached.http.get(
        "/graphql", params={"query": '{ imageVersion(imageName: "no-such-image") { version } }'}
    )
    assert failed.headers["cache-control"] == "no-store"
    posted = await cached.http.post("/graphql", json={"query": QUERY})
    assert posted.headers["cache-control"] == "no-store"


async def test_without_the_cache_an_answer_is_revalidated(service: GraphQLClient) -> None:
    response = await service.http.get("/graphql", params={"query": QUERY})
    assert response.headers["cache-control"] == "no-cache"


async def test_an_unchanged_answer_is_304_with_its_etag(cached: GraphQLClient) -> None:
    first = await cached.http.get("/graphql", params={"query": QUERY})
    tag = first.headers["etag"]
    again = await cached.http.get(
        "/graphql", params={"query": QUERY}, headers={"if-none-match": tag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    assert again.headers["cache-control"].startswith("public, max-age=")
    other = await cached.http.get(
        "/graphql", params={"query": QUERY}, headers={"if-none-match": '"something-else"'}
    )
    assert other.status_code == 200


async def test_authenticated_answers_are_kept_by_no_shared_cache(
    endpoint: BackgroundEndpoint, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.write_text("k1\n")
    for allow, expected in ((False, "no-store"), (True, "private, max-age=")):
        settings = dataclasses.replace(
            TEST_SETTINGS,
            endpoint_url=endpoint.url,
            cache="memory",
            api_keys_file=str(keys),
            http_cache_authenticated=allow,
        )
        async with serving(settings) as (_, client):
            response = await client.http.get(
                "/graphql", params={"query": QUERY}, headers={"x-api-key": "k1"}
            )
        assert response.headers["cache-control"].startswith(expected)
        assert (
            response.headers["vary"]
            == "Accept, Apollo-Federation-Include-Trace, Authorization, X-API-Key"
        )
