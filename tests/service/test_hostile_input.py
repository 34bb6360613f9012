"""What a hostile or careless client sends gets a coded 4xx answer, costs little, and leaves the
service running. Each test is one defect a probe found."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from mypy_boto3_sagemaker import SageMakerClient

from app.local_sagemaker import BackgroundEndpoint
from tests.conftest import EndpointControl, create_image
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, errors_by_path, serving

REFS = "query($refs: [ImageVersionRef!]!) { imageVersions(refs: $refs) { version } }"


async def test_errors_echo_a_short_prefix_of_a_huge_value(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    refs = [{"imageName": f"{i}-" + "x" * 2_000} for i in range(100)]
    request = json.dumps({"query": REFS, "variables": {"refs": refs}})
    response = await service.http.post(
        "/graphql", content=request, headers={"content-type": "application/json"}
    )
    body = response.json()
    assert len(body["errors"]) == 100
    assert {error["extensions"]["code"] for error in body["errors"]} == {"BAD_USER_INPUT"}
    # Each error names its value, cut short: the answer is smaller than the question.
    assert len(response.content) < len(request) / 2
    assert control.stats()["calls"] == {}


async def test_an_answer_carries_at_most_max_errors(
    service: GraphQLClient, control: EndpointControl
) -> None:
    # 50 aliases of 100 bad refs: within the object budget, and before the error budget 5,000
    # errors, 1.3 MB for 3.8 KB.
    refs = [{"imageName": f"-{i}"} for i in range(100)]
    query = (
        "query($r: [ImageVersionRef!]!) { "
        + " ".join(f"a{i}: imageVersions(refs: $r) {{ version }}" for i in range(50))
        + " }"
    )
    request = json.dumps({"query": query, "variables": {"r": refs}})
    control.reset()
    response = await service.http.post(
        "/graphql", content=request, headers={"content-type": "application/json"}
    )
    body = response.json()
    *kept, left_out = body["errors"]
    assert len(kept) == 100
    assert {error["extensions"]["code"] for error in kept} == {"BAD_USER_INPUT"}
    assert left_out["extensions"] == {
        "code": "TOO_MANY_ERRORS",
        "retryable": False,
        "maxErrors": 100,
        "errorsLeftOut": 4_900,
    }
    assert body["data"]["a49"] == [None] * 100
    # 5,000 nulls and 100 errors.
    assert len(response.content) < 60_000
    assert control.stats()["calls"] == {}


async def test_an_answer_over_max_response_bytes_is_replaced_by_one_error(
    endpoint: BackgroundEndpoint,
) -> None:
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, max_response_bytes=2_048
    )
    fields = "images(first: 100) { edges { node { imageName imageArn description roleArn } } }"
    query = "{ " + " ".join(f"a{i}: {fields}" for i in range(3)) + " }"
    async with serving(settings) as (_, client):
        small = await client.http.post("/graphql", json={"query": "{ __typename }"})
        large = await client.http.post(
            "/graphql",
            json={"query": query},
            headers={"accept": "application/graphql-response+json"},
        )
    assert small.json() == {"data": {"__typename": "Query"}}
    assert large.status_code == 400
    assert large.headers["cache-control"] == "no-store"
    body = large.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    assert error["extensions"]["maxResponseBytes"] == 2_048
    assert error["extensions"]["responseBytes"] > 2_048
    assert len(large.content) < 2_048


@pytest.fixture
def validation_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times strawberry runs graphql-core's validation."""
    calls: list[int] = []
    validate = strawberry_schema.validate_document

    def counted(*arguments: Any) -> Any:
        calls.append(1)
        return validate(*arguments)

    monkeypatch.setattr(strawberry_schema, "validate_document", counted)
    return calls


@pytest.mark.parametrize(
    "query",
    [
        '{ imageVersion(imageName: "x") { ' + "version " * 1_000 + "} }",
        "{ " + 'imageVersion(imageName: "x") { version } ' * 300 + "}",
        '{ imageVersion(imageName: "x") { ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F '
        "...F } } fragment F on ImageVersion { version }",
        "{ " + " ".join(f'a{i}: image(imageName: "x") {{ imageName }}' for i in range(101)) + " }",
        '{ image(imageName: "x") { '
        + " ".join(f"...F{i}" for i in range(100))
        + " } } "
        + " ".join(f"fragment F{i} on Image {{ {'imageName ' * 10}}}" for i in range(100)),
        # Each fragment selects `image` once, but validation merges all 333 into one set and
        # compares every pair: 1.5 s of CPU for 20 KB.
        '{ imageVersion(imageName: "x") { '
        + " ".join(f"...F{i}" for i in range(333))
        + " } } "
        + " ".join(
            f"fragment F{i} on ImageVersion {{ image {{ imageName }} }}" for i in range(333)
        ),
        # Fields merged under one name have their sub-selections merged too: 12 `imageName`.
        '{ imageVersion(imageName: "x") { '
        + "image { imageName imageName imageName } " * 4
        + "} }",
        # Each fragment spreads the next from 8 places: 2 KB that expands to 8^5 selections, which
        # validation lets through and the object estimate then walks for seconds.
        '{ imageVersion(imageName: "x") { ...L0 } } '
        + " ".join(
            f"fragment L{level} on ImageVersion {{ "
            + " ".join(
                f"a{level}{i}: image {{ latestVersion {{ ...L{level + 1} }} }}" for i in range(8)
            )
            + " }"
            for level in range(5)
        )
        + " fragment L5 on ImageVersion { version }",
    ],
    ids=[
        "repeated-field",
        "repeated-root",
        "repeated-spread",
        "aliases",
        "selections",
        "repeated-through-fragments",
        "repeated-through-merged-fields",
        "selections-through-fragments",
    ],
)
async def test_costly_documents_are_refused_before_validation(
    service: GraphQLClient, query: str, validation_calls: list[int]
) -> None:
    for response in (
        await service.http.post("/graphql", json={"query": query}),
        await service.http.get("/graphql", params={"query": query}),
    ):
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "limit" in error["message"]
    assert validation_calls == []


async def test_a_number_literal_no_int_holds_is_a_validation_error(
    service: GraphQLClient,
) -> None:
    query = '{ imageVersion(imageName: "x", version: ' + "9" * 5_000 + ") { version } }"
    [error] = (await service.http.post("/graphql", json={"query": query})).json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    too_big = '{ imageVersion(imageName: "x", version: 99999999999) { version } }'
    [error] = (await service.http.post("/graphql", json={"query": too_big})).json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize(
    "body",
    [b"null", b"42", b'"x"', b"true", b"[]", b"[{}]", b"1" * 5_000, b"[" * 100_000, b"NaN"],
    ids=["null", "number", "string", "true", "list", "batch", "huge", "deep", "nan"],
)
async def test_a_body_that_is_not_a_json_object_is_bad_request(
    service: GraphQLClient, body: bytes
) -> None:
    response = await service.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    "variables",
    [{"v": 1e308 * 10}, {"v": 2**70}, {"v": "3"}],
    ids=["infinity", "huge", "string"],
)
async def test_a_variable_no_int_holds_is_bad_user_input(
    service: GraphQLClient, variables: dict[str, Any]
) -> None:
    body = (
        json.dumps(
            {
                "query": 'query($v: Int) { imageVersion(imageName: "x", version: $v) { version } }',
                "variables": variables,
            },
            allow_nan=True,
        )
        .replace("Infinity", "1e999")
        .encode()
    )
    response = await service.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_several_operations_need_an_operation_name(service: GraphQLClient) -> None:
    document = (
        'query A { imageVersion(imageName: "sklearn-kernel") { version } } '
        'query B { image(imageName: "sklearn-kernel") { imageName } }'
    )
    without = await service.http.post("/graphql", json={"query": document})
    [error] = without.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "operationName" in error["message"]
    named = await service.http.post("/graphql", json={"query": document, "operationName": "B"})
    assert named.json() == {"data": {"image": {"imageName": "sklearn-kernel"}}}
    unknown = await service.http.post("/graphql", json={"query": document, "operationName": "C"})
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_malformed_representations_fail_alone(
    service: GraphQLClient, control: EndpointControl
) -> None:
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Image { imageName } ... on ImageVersion { version } } }"""
    representations: list[Any] = [
        {"imageName": "sklearn-kernel"},
        {"__typename": "Image", "imageName": "sklearn-kernel"},
        {"__typename": "Nope", "imageName": "sklearn-kernel"},
        "not an object",
        {"__typename": "Image", "imageName": 7},
        {"__typename": "Image", "info": "x", "imageName": "sklearn-kernel"},
    ]
    control.reset()
    body = await service.query(query, r=representations)
    assert body["data"]["_entities"] == [
        None,
        {"imageName": "sklearn-kernel"},
        None,
        None,
        None,
        {"imageName": "sklearn-kernel"},
    ]
    errors = errors_by_path(body)
    assert set(errors) == {("_entities", i) for i in (0, 2, 3, 4)}
    assert {error["extensions"]["code"] for error in errors.values()} == {"BAD_USER_INPUT"}
    assert control.calls("DescribeImage") == 1


async def test_an_arn_of_another_account_region_or_partition_is_never_this_accounts_resource(
    service: GraphQLClient, sagemaker: SageMakerClient
) -> None:
    name = create_image(sagemaker, 1)
    ours = sagemaker.describe_image_version(ImageName=name, Version=1)["ImageVersionArn"]
    elsewhere = [
        ours.replace(":123456789012:", ":999999999999:"),
        ours.replace(":us-east-1:", ":eu-west-1:"),
        ours.replace("arn:aws:", "arn:aws-cn:"),
    ]
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on ImageVersion { imageVersionArn } } }"""
    body = await service.query(
        query,
        r=[{"__typename": "ImageVersion", "imageVersionArn": arn} for arn in [ours, *elsewhere]],
    )
    assert body["data"]["_entities"] == [{"imageVersionArn": ours}, None, None, None]
    for index, arn in enumerate(elsewhere, start=1):
        error = errors_by_path(body)[("_entities", index)]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["imageVersionArn"] == arn


async def test_a_deadline_answers_with_what_is_outstanding_as_deadline_exceeded(
    control: EndpointControl, endpoint: BackgroundEndpoint
) -> None:
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, request_timeout=0.3, read_timeout=5
    )
    control.set_faults(latencyMs=1_500)
    async with serving(settings) as (_, client):
        started = time.monotonic()
        body = await client.query('{ imageVersion(imageName: "sklearn-kernel") { version } }')
        elapsed = time.monotonic() - started
    assert body["data"] == {"imageVersion": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "DEADLINE_EXCEEDED"
    assert error["extensions"]["retryable"] is True
    assert error["extensions"]["imageName"] == "sklearn-kernel"
    assert elapsed < 1.2


async def test_head_is_get_without_a_body(service: GraphQLClient) -> None:
    query = {"query": '{ imageVersion(imageName: "sklearn-kernel") { version } }'}
    get = await service.http.get("/graphql", params=query)
    head = await service.http.head("/graphql", params=query)
    assert head.status_code == get.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.content == b""
    put = await service.http.put("/graphql", json=query)
    assert put.status_code == 405
    assert put.headers["allow"] == "GET, HEAD, POST"


async def test_over_get_only_queries_run(service: GraphQLClient) -> None:
    response = await service.http.get(
        "/graphql", params={"query": 'mutation { image(imageName: "x") { imageName } }'}
    )
    assert response.status_code in (400, 405)
    assert response.json()["errors"][0]["extensions"]["code"]


async def test_request_errors_are_400_without_data_in_the_spec_media_type(
    service: GraphQLClient,
) -> None:
    accept = {"accept": "application/graphql-response+json"}
    parse = await service.http.post("/graphql", json={"query": "{"}, headers=accept)
    assert parse.status_code == 400
    assert parse.headers["content-type"] == "application/graphql-response+json"
    assert "data" not in parse.json()
    ran = await service.http.post(
        "/graphql",
        json={"query": '{ imageVersion(imageName: "nope") { version } }'},
        headers=accept,
    )
    assert ran.status_code == 200
    assert ran.json()["data"] == {"imageVersion": None}
    legacy = await service.http.post("/graphql", json={"query": "{"})
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    refused = await service.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "text/csv"}
    )
    assert refused.status_code == 406


async def test_a_json_post_needs_a_json_content_type(service: GraphQLClient) -> None:
    response = await service.http.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


LONE_SURROGATE = "\\ud800"
BY_VARIABLE = "query($n: String!) { image(imageName: $n) { imageName } }"


@pytest.mark.parametrize(
    "body",
    [
        f'{{"query": "{{ __typename }}", "operationName": "{LONE_SURROGATE}"}}',
        f'{{"query": "{BY_VARIABLE}", "variables": {{"n": "{LONE_SURROGATE}x"}}}}',
        f'{{"query": "{{ __typename }}", "extensions": {{"note": "{LONE_SURROGATE}"}}}}',
    ],
    ids=["operation-name", "variable", "extensions"],
)
async def test_a_lone_surrogate_is_bad_user_input_never_a_500(
    service: GraphQLClient, body: str
) -> None:
    # Valid JSON (an escape), but no UTF-8 text can hold it: echoing it back would fail.
    response = await service.http.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "surrogate" in error["message"]


async def test_a_lone_surrogate_in_get_parameters_is_bad_user_input(
    service: GraphQLClient,
) -> None:
    variables = f'{{"n": "{LONE_SURROGATE}"}}'
    response = await service.http.get(
        "/graphql", params={"query": BY_VARIABLE, "variables": variables}
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_paired_surrogates_written_as_escapes_are_ordinary_text(
    service: GraphQLClient,
) -> None:
    body = (
        '{"query": "{ __typename }", "operationName": null, "extensions": {"e": "\\ud83d\\ude00"}}'
    )
    response = await service.http.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.json() == {"data": {"__typename": "Query"}}
