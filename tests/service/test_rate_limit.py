"""The rate limit toward SageMaker: calls over the budget wait for room, or, when that would
take longer than a request may, fail as THROTTLED without reaching SageMaker."""

from __future__ import annotations

import dataclasses

from mypy_boto3_sagemaker import SageMakerClient
from prometheus_client import REGISTRY

from app.local_sagemaker import BackgroundEndpoint
from tests.conftest import EndpointControl, create_image
from tests.service.conftest import TEST_SETTINGS, serving

REFS = "query($refs: [ImageVersionRef!]!) { imageVersions(refs: $refs) { version } }"


def _waits() -> float:
    value = REGISTRY.get_sample_value(
        "smgql_rate_limit_waits_total", {"operation": "DescribeImageVersion"}
    )
    return value or 0.0


async def test_calls_over_the_rate_wait_for_room(
    endpoint: BackgroundEndpoint, control: EndpointControl, sagemaker: SageMakerClient
) -> None:
    name = create_image(sagemaker, 10)
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url, rate_limit="5/second")
    before = _waits()
    control.reset()
    async with serving(settings) as (_, client):
        refs = [{"imageName": name, "version": number} for number in range(1, 11)]
        body = await client.query(REFS, refs=refs)
    assert "errors" not in body
    assert [ref["version"] for ref in body["data"]["imageVersions"]] == list(range(1, 11))
    assert _waits() - before == 5
    assert control.calls("DescribeImageVersion") == 10


async def test_a_wait_longer_than_a_request_may_take_is_throttled(
    endpoint: BackgroundEndpoint, control: EndpointControl, sagemaker: SageMakerClient
) -> None:
    name = create_image(sagemaker, 4)
    settings = dataclasses.replace(
        # The wait for room (about a minute) is far past the request's time; the time is still
        # ample for the two calls that fit, however slow the machine (0.5 s was not, in CI).
        TEST_SETTINGS,
        endpoint_url=endpoint.url,
        rate_limit="2/minute",
        request_timeout=5,
    )
    control.reset()
    async with serving(settings) as (_, client):
        refs = [{"imageName": name, "version": number} for number in range(1, 5)]
        body = await client.query(REFS, refs=refs)
    codes = sorted(error["extensions"]["code"] for error in body["errors"])
    assert codes == ["THROTTLED", "THROTTLED"]
    assert control.calls("DescribeImageVersion") == 2
