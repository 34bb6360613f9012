"""The checked-in subgraph composes beside a neighbour in the common Relay style (its own
``PageInfo``, ``Node`` and connection, ``enum SortOrder { ASC DESC }``, an input ``TimeFilter``)
with no error and no hint, and the demand-control directives reach the supergraph."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from graphql import build_ast_schema, parse

from app.schema.cost import FIELD_DEMANDS, TYPE_WEIGHTS
from tests.conftest import ROOT
from tests.federation.conftest import HERE, _node

NEIGHBOUR = HERE / "relay_neighbour.graphql"


def compose_report(subgraphs: dict[str, Path]) -> dict[str, Any]:
    """compose_report.mjs over NAME -> SDL file: its errors, hints and supergraph."""
    result = subprocess.run(
        [_node(), str(HERE / "compose_report.mjs"), *(f"{n}={p}" for n, p in subgraphs.items())],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=120,
        check=True,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _bare(sdl: Path, tmp_path: Path) -> Path:
    """The SDL with no descriptions, as many subgraphs are written."""
    bare = tmp_path / f"bare-{sdl.name}"
    bare.write_text(re.sub(r'^ *""".*?"""\n', "", sdl.read_text(), flags=re.MULTILINE))
    assert '"""' not in bare.read_text()
    return bare


@pytest.mark.parametrize("described", [True, False], ids=["graphql-relay", "bare"])
def test_composes_beside_a_relay_subgraph_without_error_or_hint(
    described: bool, tmp_path: Path
) -> None:
    neighbour = NEIGHBOUR if described else _bare(NEIGHBOUR, tmp_path)

    report = compose_report({"images": ROOT / "schema.graphql", "relay": neighbour})

    assert report["errors"] == []
    assert report["hints"] == []
    supergraph = report["supergraphSdl"]
    for shared in ("type PageInfo", "interface Node", "enum SortOrder", "enum ImageSortOrder"):
        assert shared in supergraph


def test_the_neighbour_really_clashes_with_the_old_names(tmp_path: Path) -> None:
    """The test above could pass with a neighbour that shares nothing: put back the generic
    names and a PageInfo that is not shareable, and composition fails as the issue said."""
    old = (ROOT / "schema.graphql").read_text()
    old = old.replace("ImageSortOrder", "SortOrder").replace("ImageTimeFilter", "TimeFilter")
    old = old.replace("type PageInfo @cost(weight: 0) @shareable", "type PageInfo @cost(weight: 0)")
    subgraph = tmp_path / "old.graphql"
    subgraph.write_text(old)

    report = compose_report({"images": subgraph, "relay": NEIGHBOUR})

    codes = sorted(error["code"] for error in report["errors"])
    assert codes == [
        "EMPTY_MERGED_ENUM_TYPE",
        "EMPTY_MERGED_INPUT_TYPE",
        *["INVALID_FIELD_SHARING"] * 4,
    ]


def _applied(sdl: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Each type or field coordinate -> its @cost and @listSize arguments, as the SDL applies
    them."""
    schema = build_ast_schema(parse(sdl), assume_valid_sdl=True)
    applied: dict[str, dict[str, dict[str, Any]]] = {}

    def note(coordinate: str, directives: Any) -> None:
        for directive in directives or ():
            if directive.name.value in ("cost", "listSize"):
                arguments = {arg.name.value: _value(arg.value) for arg in directive.arguments}
                applied.setdefault(coordinate, {})[directive.name.value] = arguments

    for name, named in schema.type_map.items():
        if named.ast_node is None:
            continue
        note(name, named.ast_node.directives)
        for field_name, field in getattr(named, "fields", {}).items():
            if field.ast_node is not None:
                note(f"{name}.{field_name}", field.ast_node.directives)
    return applied


def _value(node: Any) -> Any:
    if hasattr(node, "values"):
        return [_value(item) for item in node.values]
    if node.kind == "int_value":
        return int(node.value)
    if node.kind == "boolean_value":
        return bool(node.value)
    return node.value


def _expected() -> dict[str, dict[str, dict[str, Any]]]:
    """The directives the object budget's table says the SDL carries (``_entities``, whose
    field Strawberry declares, carries none)."""
    expected: dict[str, dict[str, dict[str, Any]]] = {
        name: {"cost": {"weight": weight}} for name, weight in TYPE_WEIGHTS.items()
    }
    for coordinate, demand in FIELD_DEMANDS.items():
        directives: dict[str, dict[str, Any]] = {}
        if demand.weight is not None:
            directives["cost"] = {"weight": demand.weight}
        if demand.slicing_arguments or demand.assumed_size is not None:
            size: dict[str, Any] = {"requireOneSlicingArgument": False}
            if demand.assumed_size is not None:
                size["assumedSize"] = demand.assumed_size
            if demand.slicing_arguments:
                size["slicingArguments"] = list(demand.slicing_arguments)
            if demand.sized_fields:
                size["sizedFields"] = list(demand.sized_fields)
            directives["listSize"] = size
        if directives:
            expected[coordinate] = directives
    return expected


def test_the_sdl_carries_exactly_the_object_budgets_demands() -> None:
    """One table, two readers: the budget (app.schema.cost) and the router's demand control.
    Every weight and list size of the table is in the checked-in SDL, and the SDL has none
    that the table does not say."""
    assert _applied((ROOT / "schema.graphql").read_text()) == _expected()


def test_the_demands_reach_the_supergraph() -> None:
    report = compose_report({"images": ROOT / "schema.graphql", "relay": NEIGHBOUR})
    assert report["errors"] == []
    applied = _applied(report["supergraphSdl"])
    for coordinate, directives in _expected().items():
        assert applied[coordinate] == directives, coordinate
