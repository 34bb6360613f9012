"""A repeated document is parsed and validated once; what checking it found is kept with it,
and a document found sound runs again without strawberry's extensions, answering as it did."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import get_introspection_query

from tests.log_lines import logged
from tests.service.conftest import GraphQLClient


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often strawberry parses and validates."""
    counts = {"parse": 0, "validate": 0}
    parse = strawberry_schema.parse  # type: ignore[attr-defined]
    validate = strawberry_schema.validate_document

    def counted_parse(*arguments: Any, **options: Any) -> Any:
        counts["parse"] += 1
        return parse(*arguments, **options)

    def counted_validate(*arguments: Any) -> Any:
        counts["validate"] += 1
        return validate(*arguments)

    monkeypatch.setattr(strawberry_schema, "parse", counted_parse)
    monkeypatch.setattr(strawberry_schema, "validate_document", counted_validate)
    return counts


async def test_a_repeated_document_is_parsed_and_validated_once(
    service: GraphQLClient, steps: dict[str, int]
) -> None:
    query = 'query($v: Int) { imageVersion(imageName: "sklearn-kernel", version: $v) { version } }'
    answers = [await service.query(query, v=version) for version in (1, 2, 1)]
    assert [answer["data"]["imageVersion"]["version"] for answer in answers] == [1, 2, 1]
    assert steps == {"parse": 1, "validate": 1}


async def test_a_refused_document_is_refused_again_without_validating(
    service: GraphQLClient, steps: dict[str, int]
) -> None:
    invalid = '{ imageVersion(imageName: "x") { nope } }'
    bodies = [await service.query(invalid) for _ in range(3)]
    assert {body["errors"][0]["extensions"]["code"] for body in bodies} == {
        "GRAPHQL_VALIDATION_FAILED"
    }
    assert steps == {"parse": 1, "validate": 1}


async def test_the_operation_is_chosen_per_request(service: GraphQLClient) -> None:
    document = (
        'query A { imageVersion(imageName: "sklearn-kernel") { version } } '
        'query B { image(imageName: "sklearn-kernel") { imageName } }'
    )
    for name, field in (("B", "image"), ("A", "imageVersion"), (None, None)):
        response = await service.http.post(
            "/graphql", json={"query": document, "operationName": name}
        )
        body = response.json()
        if field is None:
            assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        else:
            assert list(body["data"]) == [field]


async def test_graphiqls_introspection_query_runs(service: GraphQLClient) -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    body = await service.query(query)
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


@pytest.fixture
def strawberry_runs(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The operations run through strawberry's own execution (its extensions' hooks)."""
    runs: list[str | None] = []
    run = strawberry_schema.Schema._execute_operation

    async def counted(schema: Any, context: Any, *arguments: Any) -> Any:
        runs.append(context.operation_name)
        return await run(schema, context, *arguments)

    monkeypatch.setattr(strawberry_schema.Schema, "_execute_operation", counted)
    return runs


REFS = "query Refs($refs: [ImageVersionRef!]!) { imageVersions(refs: $refs) { imageName version } }"
AGAIN = [
    # Partial results: data and errors, each coded.
    (
        REFS,
        {
            "refs": [
                {"imageName": "sklearn-kernel", "version": 1},
                {"imageName": "no-such-image"},
                {"imageName": "bad name"},
            ]
        },
    ),
    # A variable of the wrong type: a request error, no data.
    (
        'query V($v: Int) { imageVersion(imageName: "sklearn-kernel", version: $v) { version } }',
        {"v": "one"},
    ),
    # A resolver's error at a non-null position.
    ('query N { image(imageName: "no-such-image") { imageName } }', {}),
]


def _per_call_ids_out(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` without the AWS request ids its errors name (each call has its own)."""
    for error in body.get("errors", []):
        error.get("extensions", {}).pop("awsRequestId", None)
    return body


@pytest.mark.parametrize(("query", "variables"), AGAIN)
async def test_a_sound_document_answers_again_as_it_did_without_strawberrys_hooks(
    service: GraphQLClient, strawberry_runs: list[str | None], query: str, variables: Any
) -> None:
    body = {"query": query, "variables": variables}
    with logged("app.requests") as lines:
        first = await service.http.post("/graphql", json=body)
        again = await service.http.post("/graphql", json=body)
    assert again.status_code == first.status_code
    assert _per_call_ids_out(again.json()) == _per_call_ids_out(first.json())
    assert "errors" in first.json()
    requests = [line for line in lines.lines if line.get("event") == "http_request"]
    facts = [(line.get("operationType"), line.get("errorCodes")) for line in requests]
    assert facts[0][1]
    assert facts == [facts[0], facts[0]]
    # The first run prepared the document; the second did not go through strawberry's hooks.
    assert len(strawberry_runs) == 1


async def test_an_operation_over_the_budget_is_refused_again_as_it_was(
    service: GraphQLClient, strawberry_runs: list[str | None]
) -> None:
    query = """query Nested($n: Int!) { images(first: $n) { edges { node {
      versions(first: $n) { edges { node { baseImage } } } } } } }"""
    over = {"query": query, "variables": {"n": 100}}
    with logged("app.requests") as lines:
        first = await service.http.post("/graphql", json=over)
        again = await service.http.post("/graphql", json=over)
    small = await service.query(query, n=1)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert first.json()["errors"][0]["extensions"]["estimatedObjects"] == 100 + 100 * 100
    assert "errors" not in small
    requests = [line for line in lines.lines if line.get("event") == "http_request"]
    facts = [(line.get("operationType"), line.get("errorCodes")) for line in requests]
    assert facts == [("query", ["BAD_USER_INPUT"])] * 2
    # The first run prepared the document (and was refused on strawberry's path); the refusal
    # and the run within the budget after it were answered without strawberry's hooks.
    assert strawberry_runs == ["Nested"]
