"""The SageMaker client over a MockTransport: what it asks, what it makes of the answers, and
what it notes in the request's ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from app.ledger import Ledger
from app.sagemaker import ImageVersionKey, NotFound, SageMaker, Unavailable
from app.sagemaker.operations import DESCRIBE_IMAGE_VERSION, LIST_ALIASES
from tests.fakes import MockTransport

WHEN = datetime(2026, 1, 2, tzinfo=UTC)


def not_found(operation: str) -> ClientError:
    response: Any = {
        "Error": {"Code": "ResourceNotFound", "Message": "Image img does not exist."},
        "ResponseMetadata": {"RequestId": "req-1", "HTTPStatusCode": 400, "RetryAttempts": 1},
    }
    return ClientError(response, operation)


async def test_a_describe_asks_for_the_key_and_reads_the_answer_as_a_record() -> None:
    async def answer(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "ImageVersionArn": "arn:aws:sagemaker:us-east-1:1:image-version/img/2",
            "ImageArn": "arn:aws:sagemaker:us-east-1:1:image/img",
            "Version": 2,
            "ImageVersionStatus": "CREATED",
            "CreationTime": WHEN,
            "LastModifiedTime": WHEN,
            "BaseImage": "repo/img:2",
            "ResponseMetadata": {"RetryAttempts": 2},
        }

    transport, ledger = MockTransport(answer), Ledger()
    found = await SageMaker(transport).call(
        DESCRIBE_IMAGE_VERSION, ImageVersionKey("img", 2), ledger
    )
    assert transport.requests == [("DescribeImageVersion", {"ImageName": "img", "Version": 2})]
    assert (found.version, found.base_image, found.image_name) == (2, "repo/img:2", "img")
    assert (ledger.upstream_calls, ledger.retries) == (1, 2)


async def test_an_operation_that_gathers_reads_every_page() -> None:
    pages = {None: (["a", "b"], "t1"), "t1": (["c"], "t2"), "t2": ([], None)}

    async def answer(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        items, token = pages[request.get("NextToken")]
        return {"SageMakerImageVersionAliases": items, "NextToken": token}

    transport, ledger = MockTransport(answer), Ledger()
    aliases = await SageMaker(transport).call(LIST_ALIASES, ImageVersionKey("img", 1), ledger)
    assert aliases == ["a", "b", "c"]
    assert [request.get("NextToken") for _, request in transport.requests] == [None, "t1", "t2"]
    assert {request["MaxResults"] for _, request in transport.requests} == {100}
    assert ledger.upstream_calls == 3


async def test_aws_failures_become_domain_errors_that_carry_the_key() -> None:
    async def answer(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        raise not_found(operation)

    key, ledger = ImageVersionKey("img", 1), Ledger()
    with pytest.raises(NotFound) as raised:
        await SageMaker(MockTransport(answer)).call(DESCRIBE_IMAGE_VERSION, key, ledger)
    assert (raised.value.key, raised.value.aws_code, raised.value.request_id) == (
        key,
        "ResourceNotFound",
        "req-1",
    )
    assert (ledger.upstream_calls, ledger.retries) == (1, 1)


async def test_an_unreachable_sagemaker_is_unavailable() -> None:
    async def answer(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    with pytest.raises(Unavailable):
        await SageMaker(MockTransport(answer)).check_reachable()


async def test_an_answer_without_a_list_of_images_is_not_sagemaker() -> None:
    async def answer(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        return {"Images": "garbage"}

    with pytest.raises(Unavailable, match="without a list of images"):
        await SageMaker(MockTransport(answer)).check_reachable()


async def test_closing_the_client_closes_its_transport() -> None:
    async def answer(operation: str, request: dict[str, Any]) -> dict[str, Any]:
        return {}

    transport = MockTransport(answer)
    await SageMaker(transport).aclose()
    assert transport.closed
