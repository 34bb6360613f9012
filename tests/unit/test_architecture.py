"""What the import contracts cannot say: the schema speaks GraphQL's names, never AWS's.

Which room may import which is checked by import-linter (``[tool.importlinter]`` in
``pyproject.toml``, run by ``scripts/test``), transitively.
"""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session
from botocore.model import StructureShape

APP = Path(__file__).resolve().parents[2] / "app"


def _modules(folder: str) -> list[Path]:
    return sorted((APP / folder).rglob("*.py")) if (APP / folder).is_dir() else [APP / folder]


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


def test_the_schema_names_no_aws_member() -> None:
    members = _aws_members()
    for path in _modules("schema"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in members, f"{path.relative_to(APP)} names {node.value}"
