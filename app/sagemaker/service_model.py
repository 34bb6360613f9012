"""botocore's SageMaker service model, read once per process and cut to what the service calls.

The model describes 400-odd operations and 3,000-odd shapes with their documentation: about 9 MB
in memory, held by every client built on it, and as much again, for a moment, each time its file
is read (once for the input rules, once more for each target's client). The service calls five
operations. :data:`SAGEMAKER` is the model read once, at import, keeping those operations
(:data:`OPERATIONS`, the rows of :mod:`app.sagemaker.operations`), every shape they reach and
every error shape (an AWS error still raises its modeled class), without documentation. The input
rules (:mod:`app.sagemaker.rules`) read it, and each target's transport is built on it
(:func:`use_cut_model`) instead of reading the file again. A boto3 client built otherwise
(scripts, tests) has the whole model.
"""

from __future__ import annotations

import os
from typing import Any

import botocore.session
from botocore.loaders import Loader

# The operations of app.sagemaker.operations' table (tests/unit/test_operations.py checks it).
OPERATIONS = (
    "DescribeImage",
    "DescribeImageVersion",
    "ListAliases",
    "ListImageVersions",
    "ListImages",
)
# Where a shape names others: a structure's members, a list's member, a map's key and value.
_REFERENCES = ("member", "key", "value")


def _undocumented(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            name: _undocumented(value) for name, value in node.items() if name != "documentation"
        }
    if isinstance(node, list):
        return [_undocumented(value) for value in node]
    return node


def cut(model: dict[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """The service ``model`` (botocore's JSON) with only ``operations``, the shapes they reach
    and the error shapes, without documentation."""
    shapes: dict[str, Any] = model["shapes"]
    wanted = [name for name, shape in shapes.items() if shape.get("exception")]
    for operation in (model["operations"][name] for name in operations):
        wanted += [operation[part]["shape"] for part in ("input", "output") if part in operation]
        wanted += [error["shape"] for error in operation.get("errors", ())]
    kept: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in kept:
            continue
        kept.add(name)
        shape = shapes[name]
        wanted += [member["shape"] for member in shape.get("members", {}).values()]
        wanted += [shape[reference]["shape"] for reference in _REFERENCES if reference in shape]
    rest = {part: value for part, value in model.items() if part not in ("operations", "shapes")}
    return {
        **_undocumented(rest),
        "operations": {name: _undocumented(model["operations"][name]) for name in operations},
        "shapes": {name: _undocumented(shapes[name]) for name in sorted(kept)},
    }


SAGEMAKER = cut(botocore.session.get_session().get_service_data("sagemaker"), OPERATIONS)


class _CutModelLoader(Loader):
    """botocore's loader, answering with :data:`SAGEMAKER` for the latest SageMaker model."""

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        if (service_name, type_name, api_version) == ("sagemaker", "service-2", None):
            return SAGEMAKER
        return super().load_service_model(service_name, type_name, api_version)


def use_cut_model(session: botocore.session.Session) -> None:
    """Make the clients ``session`` creates use :data:`SAGEMAKER` (its other models are read as
    botocore reads them, from the same places: ``AWS_DATA_PATH`` first)."""
    paths = session.get_config_variable("data_path") or ""
    extra = [os.path.expanduser(os.path.expandvars(path)) for path in paths.split(os.pathsep)]
    loader = _CutModelLoader(extra_search_paths=[path for path in extra if path])
    session.register_component("data_loader", loader)
