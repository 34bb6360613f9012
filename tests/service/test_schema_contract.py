"""The schema against its sources of truth: botocore's model, and the checked-in SDL."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from app.assembly.settings import Settings
from app.local_sagemaker.shapes import enum_values, operation_model
from app.schema import build_schema, schema_sdl
from app.schema.enums import (
    ImageSortBy,
    ImageSortOrder,
    ImageStatus,
    ImageVersionSortBy,
    ImageVersionStatus,
    JobType,
    Processor,
    VendorGuidance,
)

ROOT = Path(__file__).resolve().parents[2]

schema = build_schema(Settings().schema_limits())


@pytest.mark.parametrize(
    ("enum", "model_shape"),
    [
        (ImageVersionStatus, "ImageVersionStatus"),
        (VendorGuidance, "VendorGuidance"),
        (JobType, "JobType"),
        (Processor, "Processor"),
        (ImageStatus, "ImageStatus"),
        (ImageSortBy, "ImageSortBy"),
        (ImageVersionSortBy, "ImageVersionSortBy"),
        (ImageSortOrder, "ImageSortOrder"),
        (ImageSortOrder, "ImageVersionSortOrder"),
    ],
)
def test_enums_hold_exactly_the_models_values(enum: type[Enum], model_shape: str) -> None:
    assert [member.value for member in enum] == enum_values(model_shape)
    assert [member.name for member in enum] == enum_values(model_shape)


def test_image_version_has_a_field_for_every_member_of_the_describe_answer() -> None:
    output = operation_model("DescribeImageVersion").output_shape
    assert output is not None
    expected = {
        re.sub(r"^[A-Z]+(?=[A-Z][a-z]|$)|^[A-Z]", lambda m: m[0].lower(), name)
        for name in output.members
    }
    image_version = schema._schema.type_map["ImageVersion"]
    assert isinstance(image_version, GraphQLObjectType)
    # Besides: what its ARN says (its image, region and account, its global ID) and what other
    # calls answer.
    derived = {"imageName", "region", "accountId", "id", "aliases", "image"}
    assert expected | derived == set(image_version.fields)


def test_everything_a_person_reads_in_graphiql_is_described() -> None:
    undocumented = []
    for name, graphql_type in schema._schema.type_map.items():
        # Built-in scalars, introspection and the federation spec's own types (link__Purpose).
        if name.startswith("_") or "__" in name or name in {"String", "Int", "Boolean", "Float"}:
            continue
        if not graphql_type.description:
            undocumented.append(name)
        if isinstance(graphql_type, GraphQLEnumType):
            undocumented += [
                f"{name}.{value}"
                for value, definition in graphql_type.values.items()
                if not definition.description
            ]
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if field_name.startswith("_"):
                    continue
                if not field.description:
                    undocumented.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        undocumented.append(f"{name}.{field_name}({arg_name})")
    assert undocumented == []


def test_checked_in_schema_is_what_export_schema_prints() -> None:
    checked_in = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert checked_in == schema_sdl(schema), (
        "run: .venv/bin/python -m app export-schema --output schema.graphql"
    )


def test_schema_is_a_federation_2_subgraph_with_two_entities() -> None:
    sdl = schema_sdl(schema)
    assert '@link(url: "https://specs.apollo.dev/federation/v2' in sdl
    assert (
        'type ImageVersion implements Node @cost(weight: 1) @key(fields: "imageVersionArn")' in sdl
    )
    assert (
        'type Image implements Node @cost(weight: 1) @key(fields: "imageName") '
        '@key(fields: "imageArn")' in sdl
    )
    assert "union _Entity = Image | ImageVersion" in sdl


def test_image_has_a_field_for_every_member_of_the_describe_answer() -> None:
    output = operation_model("DescribeImage").output_shape
    assert output is not None
    image = schema._schema.type_map["Image"]
    assert isinstance(image, GraphQLObjectType)
    expected = {name[0].lower() + name[1:] for name in output.members}
    derived = {"id", "region", "accountId", "versions", "version", "latestVersion"}
    assert expected | derived == set(image.fields)
