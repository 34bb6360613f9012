"""``/metrics`` and ``extensions.cost``: what an operator and a client can see a request cost."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from app.assembly.build import create_app
from app.local_sagemaker import BackgroundEndpoint
from tests.conftest import EndpointControl
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, serving

QUERY = '{ imageVersion(imageName: "sklearn-kernel", version: 1) { version aliases } }'


def _value(metrics: str, name: str, **labels: str) -> float:
    """The sum of ``name`` over the series that have ``labels``."""
    total = 0.0
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{key}="{value}"' in match[1] for key, value in labels.items()):
            total += float(match[2])
    return total


async def test_metrics_count_upstream_calls_and_graphql_requests(
    service: GraphQLClient, control: EndpointControl
) -> None:
    before = (await service.http.get("/metrics")).text
    await service.query(QUERY)
    await service.query('{ imageVersion(imageName: "no-such-image") { version } }')
    after = (await service.http.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("smgql_upstream_calls_total", operation="DescribeImageVersion", outcome="ok") == 1
    assert grew("smgql_upstream_calls_total", operation="ListAliases", outcome="ok") == 1
    assert (
        grew("smgql_upstream_calls_total", operation="DescribeImageVersion", outcome="NotFound")
        == 1
    )
    assert grew("smgql_graphql_requests_total", operation="anonymous", outcome="ok") == 1
    assert grew("smgql_graphql_requests_total", operation="anonymous", outcome="NOT_FOUND") == 1
    assert grew("smgql_http_request_seconds_count", route="/graphql", status="2xx") == 2
    assert "smgql_upstream_call_seconds_bucket" in after


async def test_a_response_can_carry_its_cost(
    endpoint: BackgroundEndpoint, control: EndpointControl
) -> None:
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, cache="memory", cost_extension=True
    )
    async with serving(settings) as (_, client):
        first = await client.query(QUERY)
        second = await client.query(QUERY)
    assert first["extensions"]["cost"] == {
        "upstreamCalls": 2,
        "cacheHits": 0,
        "coalescedWaits": 0,
        "retries": 0,
        "estimatedObjects": 2,
        "responseCacheHit": False,
    }
    # The whole response was reused: no lookup, no call.
    assert second["extensions"]["cost"]["upstreamCalls"] == 0
    assert second["extensions"]["cost"]["responseCacheHit"] is True


async def test_retries_are_counted(endpoint: BackgroundEndpoint, control: EndpointControl) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url, cost_extension=True)
    control.set_faults(throttleRate=0.5)
    async with serving(settings) as (_, client):
        body = await client.query(QUERY)
    assert body["extensions"]["cost"]["retries"] >= 1


@pytest.mark.parametrize("authentication", [False, True], ids=["open", "authenticated"])
async def test_a_metrics_token_guards_metrics_alone(
    endpoint: BackgroundEndpoint, tmp_path: Path, authentication: bool
) -> None:
    token_file, keys = tmp_path / "metrics-token", tmp_path / "api-keys"
    token_file.write_text("scraper-secret\n")
    keys.write_text("api-key\n")
    settings = dataclasses.replace(
        TEST_SETTINGS,
        endpoint_url=endpoint.url,
        metrics_token_file=str(token_file),
        api_keys_file=str(keys) if authentication else None,
    )
    async with serving(settings) as (_, client):
        missing = await client.http.get("/metrics")
        wrong = await client.http.get("/metrics", headers={"Authorization": "Bearer scraper"})
        # An API key is the API's credential, not the scraper's.
        api_key = await client.http.get("/metrics", headers={"X-API-Key": "api-key"})
        scraped = await client.http.get(
            "/metrics", headers={"Authorization": "Bearer scraper-secret"}
        )
        # And the token opens nothing else.
        graphql = await client.http.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": "Bearer scraper-secret"},
        )
    for refused in missing, wrong, api_key:
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert scraped.status_code == 200
    assert "smgql_http_request_seconds" in scraped.text
    assert graphql.status_code == (401 if authentication else 200)


def test_an_empty_metrics_token_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "metrics-token"
    empty.write_text(" \n")
    settings = dataclasses.replace(TEST_SETTINGS, metrics_token_file=str(empty))
    with pytest.raises(ValueError, match="holds no token"):
        create_app(settings)
