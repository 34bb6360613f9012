"""A repeated document is parsed and validated once; what checking it found is kept with it."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import get_introspection_query

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
