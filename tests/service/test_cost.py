"""The object budget: an operation that could fan out into thousands of SageMaker calls is
refused before it runs; ordinary pages are not."""

from __future__ import annotations

from typing import Any

import pytest

from app.schema import cost, documents
from tests.conftest import EndpointControl
from tests.service.conftest import TEST_SETTINGS, GraphQLClient

NESTED = """query($images: Int!, $versions: Int!) {
  images(first: $images) { edges { node { ...Versions } } } }
fragment Versions on Image {
  versions(first: $versions) { edges { node { version baseImage } } } }"""


def _refused(body: dict[str, Any]) -> dict[str, Any]:
    # Refused before execution: a request error, with no data entry at all.
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["maxObjects"] == TEST_SETTINGS.max_objects
    extensions: dict[str, Any] = error["extensions"]
    return extensions


async def test_nested_pages_over_the_budget_are_refused_without_calls(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    extensions = _refused(await service.query(NESTED, images=100, versions=100))
    # 100 images, and 100 versions of each; the connection and edge wrappers cost nothing.
    assert extensions["estimatedObjects"] == 100 + 100 * 100
    assert control.stats()["calls"] == {}


async def test_a_page_size_given_as_a_variables_default_counts(
    service: GraphQLClient, control: EndpointControl
) -> None:
    control.reset()
    query = """query($n: Int = 100) { images(first: $n) { edges { node {
      versions(first: $n) { edges { node { baseImage } } } } } } }"""
    assert _refused(await service.query(query))["estimatedObjects"] == 100 + 100 * 100
    assert control.stats()["calls"] == {}


async def test_ordinary_pages_run(service: GraphQLClient) -> None:
    body = await service.query(NESTED, images=5, versions=10)
    assert "errors" not in body
    assert body["data"]["images"]["edges"]


ENTITIES = """query($representations: [_Any!]!) { _entities(representations: $representations) {
  ... on Image { latestVersion { image { imageName } } } } }"""


async def test_entity_representations_within_the_budget_run(service: GraphQLClient) -> None:
    # Each representation is an entity, its latest version and that version's image: 3,000.
    representations = [{"__typename": "Image", "imageName": "sklearn-kernel"}] * 1000
    body = await service.query(ENTITIES, representations=representations)
    assert "errors" not in body
    assert len(body["data"]["_entities"]) == 1000


async def test_entity_representations_count_against_the_budget(service: GraphQLClient) -> None:
    representations = [{"__typename": "Image", "imageName": "sklearn-kernel"}] * 2000
    body = await service.query(ENTITIES, representations=representations)
    assert _refused(body)["estimatedObjects"] == 3 * 2000


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any] | None]:
    """The variables of each operation the object budget walked (app.schema.cost)."""
    made: list[dict[str, Any] | None] = []
    walk = cost.estimate_objects

    def counted(schema: Any, document: Any, name: str | None, variables: Any) -> int | None:
        made.append(variables)
        return walk(schema, document, name, variables)

    monkeypatch.setattr(documents, "estimate_objects", counted)
    return made


async def test_an_operation_is_walked_once_for_variables_that_do_not_size_it(
    service: GraphQLClient, walks: list[dict[str, Any] | None]
) -> None:
    query = """query($name: String!, $version: Int) {
      imageVersion(imageName: $name, version: $version) { version } }"""
    for version in (1, 2):
        body = await service.query(query, name="sklearn-kernel", version=version)
        assert body["data"]["imageVersion"]["version"] == version
    # A variable that does not coerce: execution reports it, as it did with the walk made anew.
    body = await service.query(query, name="sklearn-kernel", version="two")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert walks == [{"name": "sklearn-kernel", "version": 1}]


async def test_a_variable_that_picks_fields_is_walked_for_each_value(
    service: GraphQLClient, walks: list[dict[str, Any] | None]
) -> None:
    query = """query($all: Boolean!, $n: Int!) { image(imageName: "sklearn-kernel") { imageName }
      ... @include(if: $all) { images(first: $n) { edges { node {
        versions(first: $n) { edges { node { version } } } } } } } }"""
    assert "errors" not in await service.query(query, all=False, n=100)
    refused = _refused(await service.query(query, all=True, n=100))
    assert refused["estimatedObjects"] == 1 + 100 + 100 * 100
    assert "errors" not in await service.query(query, all=False, n=100)
    assert len(walks) == 2
