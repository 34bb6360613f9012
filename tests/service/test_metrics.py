"""``/metrics`` and ``extensions.cost``: what an operator and a client can see a request cost."""

from __future__ import annotations

import dataclasses
import re

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
