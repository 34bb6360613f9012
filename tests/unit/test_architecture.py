"""The rooms keep to themselves: AWS stays in the AWS package, GraphQL in the schema."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from botocore.model import StructureShape

APP = Path(__file__).resolve().parents[2] / "app"


def _modules(folder: str) -> list[Path]:
    return sorted((APP / folder).rglob("*.py")) if (APP / folder).is_dir() else [APP / folder]


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def _aws_members() -> set[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    members: set[str] = set()
    for operation in (
        "DescribeImage",
        "DescribeImageVersion",
        "ListImages",
        "ListImageVersions",
        "ListAliases",
    ):
        for shape in (
            model.operation_model(operation).input_shape,
            model.operation_model(operation).output_shape,
        ):
            if isinstance(shape, StructureShape):
                members |= set(shape.members)
    return members


@pytest.mark.parametrize(
    ("room", "forbidden"),
    [
        ("sagemaker", ("graphql", "strawberry", "app.schema", "app.loaders")),
        ("schema", ("botocore", "boto3", "aiohttp", "app.local_sagemaker")),
        ("errors.py", ("botocore", "boto3", "aiohttp", "graphql", "strawberry")),
        ("loaders.py", ("botocore", "boto3", "aiohttp", "graphql", "strawberry")),
        ("web", ("botocore", "boto3", "aiohttp")),
        ("cache", ("botocore", "boto3", "aiohttp", "graphql", "strawberry")),
        ("local_sagemaker", ("app.schema", "app.sagemaker", "app.loaders", "app.main")),
    ],
)
def test_a_room_imports_nothing_of_another_world(room: str, forbidden: tuple[str, ...]) -> None:
    for path in _modules(room):
        for module in _imports(path):
            assert not module.startswith(forbidden), f"{path.relative_to(APP)} imports {module}"


def test_the_schema_names_no_aws_member() -> None:
    members = _aws_members()
    for path in _modules("schema"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in members, f"{path.relative_to(APP)} names {node.value}"
