"""The object budget's estimate, for every way of spelling an operation."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from app.assembly.settings import Settings
from app.schema import build_schema
from app.schema.cost import estimate_objects, variables_read
from app.schema.documents import _Prepared

schema = build_schema(Settings().schema_limits())


def estimate(query: str, variables: dict[str, Any] | None = None, name: str | None = None) -> Any:
    return estimate_objects(schema._schema, parse(query), name, variables)


NESTED = (
    "images(first: 100) { edges { node { "
    "versions(first: 100) { edges { node { baseImage } } } } } }"
)


@pytest.mark.parametrize(
    ("query", "variables", "objects"),
    [
        ("{ " + NESTED + " }", None, 100 + 100 * 100),
        # A page size given as a variable, its default, or the argument's own default (10).
        (
            "query($n: Int!) { images(first: $n) { edges { node { imageName } } } }",
            {"n": 70},
            70,
        ),
        ("query($n: Int = 70) { images(first: $n) { edges { node { imageName } } } }", {}, 70),
        ("{ images { edges { node { imageName } } } }", None, 10),
        # Aliases each run: two of the same field count twice.
        ("{ a: " + NESTED + " b: " + NESTED + " }", None, 2 * (100 + 100 * 100)),
        # The same response key twice is merged by execution, and counted once.
        ("{ " + NESTED + " " + NESTED + " }", None, 100 + 100 * 100),
        # Fragments, named and inline.
        (
            "{ images(first: 50) { edges { node { ...V } } } } "
            "fragment V on Image { versions(first: 20) { edges { node { ... on ImageVersion "
            "{ baseImage } } } } }",
            None,
            50 + 50 * 20,
        ),
        # @skip and @include as execution sees them.
        (
            "query($no: Boolean = true) { images(first: 50) @skip(if: $no) "
            "{ edges { node { imageName } } } }",
            {},
            0,
        ),
        # List arguments: as many items as refs, given inline or as a variable.
        (
            '{ imageVersions(refs: [{imageName: "a"}, {imageName: "b"}]) { image { imageName } } }',
            None,
            4,
        ),
        (
            'query($refs: [ImageVersionRef!]! = [{imageName: "a"}]) '
            "{ imageVersions(refs: $refs) { version } }",
            {},
            1,
        ),
        # A list of scalars is one fetch per parent; wrappers and leaves cost nothing.
        ("{ images(first: 30) { edges { node { latestVersion { aliases } } } } }", None, 60 + 30),
        ("{ images(first: 30) { pageInfo { hasNextPage } } }", None, 0),
        # Nodes: each ID, and the largest of the types it may be.
        (
            "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Image { latestVersion "
            "{ version } } ... on ImageVersion { version } } }",
            {"ids": ["a"] * 5},
            10,
        ),
        ('{ node(id: "a") { id ... on ImageVersion { aliases } } }', None, 2),
        # Entities: each representation, and the largest of the types it may be.
        (
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Image { imageName "
            "latestVersion { version } } ... on ImageVersion { version } } }",
            {"r": [{}] * 7},
            14,
        ),
    ],
)
def test_estimates(query: str, variables: dict[str, Any] | None, objects: int) -> None:
    assert estimate(query, variables) == objects


def test_the_named_operation_is_the_one_counted() -> None:
    document = "query Small { images(first: 2) { edges { node { imageName } } } } " + (
        "query Big { " + NESTED + " }"
    )
    assert estimate(document, name="Small") == 2
    assert estimate(document, name="Big") == 100 + 100 * 100


def test_an_operation_that_cannot_run_is_left_to_execution() -> None:
    assert estimate("query($n: Int!) { images(first: $n) { edges { cursor } } }", {}) is None
    assert estimate('query A { image(imageName: "a") { imageName } }', None, "B") is None


def test_the_variables_an_estimate_reads_are_those_that_size_lists_or_pick_fields() -> None:
    document = parse(
        """query($name: String!, $version: Int, $n: Int, $refs: [ImageVersionRef!]!,
                 $other: String!, $all: Boolean!, $deep: Boolean!) {
          image(imageName: $name) { versions(first: $n) { edges { node { version } } } }
          imageVersion(imageName: $name, version: $version) { version }
          imageVersions(refs: [{imageName: $other}, $refs]) { version }
          ... @include(if: $all) { images { edges { node { ...Deep } } } }
        }
        fragment Deep on Image { latestVersion @skip(if: $deep) { version } }"""
    )
    # $name and $version choose which objects, never how many.
    assert variables_read(document) == {"n", "refs", "other", "all", "deep"}


def test_an_estimates_key_is_the_same_size_however_large_the_variables() -> None:
    entry = _Prepared(
        parse("query($r: [_Any!]!) { _entities(representations: $r) { __typename } }")
    )
    one = [{"__typename": "Image", "imageName": "sklearn-kernel"}]
    small = entry.estimate_key(None, {"r": one})
    large = entry.estimate_key(None, {"r": one * 1000})
    assert small != large
    assert len(large[1]) == len(small[1])
