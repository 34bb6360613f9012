"""Check JSON values against botocore's SageMaker service model.

botocore ships the machine-readable description of the SageMaker API that AWS generates its SDKs
from. The local endpoint treats it as the spec: every request is checked against the operation's
input shape the way AWS's front door checks it, and the tests check every response against the
output shape, so the endpoint cannot drift from the real API without a test failing.

Two kinds of problem, as AWS reports them:

* a value of the wrong JSON type is a ``SerializationException`` (the request could not even be
  read into the operation's input structure);
* a value of the right type that breaks a constraint (required, length, range, pattern, enum) is a
  ``ValidationException`` whose message names the member, e.g.
  ``Value 'bad name' at 'imageName' failed to satisfy constraint: ...``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
import regex
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from app.local_sagemaker.protocol import AwsError


@cache
def service_model() -> ServiceModel:
    """botocore's SageMaker model, loaded once per process (it is a large JSON file)."""
    return botocore.session.get_session().get_service_model("sagemaker")


def operation_model(name: str) -> OperationModel:
    return service_model().operation_model(name)


def input_shape(operation: str) -> StructureShape:
    """The operation's input structure; every operation the endpoint serves has one."""
    shape = operation_model(operation).input_shape
    assert shape is not None, operation
    return shape


def enum_values(shape_name: str) -> list[str]:
    """The values of one of the model's enum shapes, e.g. ``enum_values("Processor")``."""
    values: list[str] = service_model().shape_for(shape_name).metadata["enum"]
    return values


@dataclass(frozen=True)
class Problem:
    """One way a value disagrees with its shape. ``kind`` is the AWS error code it maps to."""

    kind: str
    path: str
    message: str


SERIALIZATION = "SerializationException"
VALIDATION = "ValidationException"


@cache
def _compiled(pattern: str) -> regex.Pattern[str]:
    # The model's patterns are Java regexes (\p{L} and the like), which ``re`` cannot read.
    return regex.compile(pattern)


def _member_path(parent: str, member: str) -> str:
    # AWS names members in lowerCamelCase in its validation messages: 'imageName'.
    name = member[:1].lower() + member[1:]
    return f"{parent}.{name}" if parent else name


def _describe(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 64 else text[:61] + "..."


def problems(shape: Shape, value: Any, path: str = "") -> Iterator[Problem]:
    """Yield every way ``value`` (decoded AWS JSON 1.1) disagrees with ``shape``.

    Unknown structure members are reported too: botocore never sends them, so one arriving means
    a caller bypassed the SDK or misspelled a member, and silently ignoring it would hide the bug.
    """
    type_name = shape.type_name
    if type_name == "structure":
        yield from _structure_problems(shape, value, path)
    elif type_name == "list":
        yield from _list_problems(shape, value, path)
    elif type_name == "map":
        yield from _map_problems(shape, value, path)
    elif type_name == "string":
        yield from _string_problems(shape, value, path)
    elif type_name in ("integer", "long"):
        yield from _number_problems(shape, value, path, int)
    elif type_name in ("float", "double"):
        yield from _number_problems(shape, value, path, (int, float))
    elif type_name == "boolean":
        if not isinstance(value, bool):
            yield _wrong_type(path, "a boolean", value)
    elif type_name == "timestamp":
        # AWS JSON 1.1 sends timestamps as epoch seconds.
        if isinstance(value, bool) or not isinstance(value, int | float):
            yield _wrong_type(path, "a timestamp in epoch seconds", value)
        elif not _fits_a_double(value):
            yield Problem(SERIALIZATION, path, f"Timestamp at '{path}' is out of range")
    elif type_name == "blob" and not isinstance(value, str):
        yield _wrong_type(path, "a base64 string", value)


def check_input(shape: Shape, params: dict[str, Any]) -> None:
    """Raise the error AWS would give for ``params``: a SerializationException for the first
    wrong type, else one ValidationException listing every broken constraint."""
    found = list(problems(shape, params))
    for problem in found:
        if problem.kind == SERIALIZATION:
            raise AwsError(SERIALIZATION, problem.message)
    if found:
        count = len(found)
        summary = f"{count} validation error{'s' if count > 1 else ''} detected: "
        raise AwsError(VALIDATION, summary + "; ".join(p.message for p in found))


def _wrong_type(path: str, expected: str, value: Any) -> Problem:
    where = f" at '{path}'" if path else ""
    return Problem(SERIALIZATION, path, f"Expected {expected}{where}, got {type(value).__name__}")


def _structure_problems(shape: Shape, value: Any, path: str) -> Iterator[Problem]:
    assert isinstance(shape, StructureShape)
    if not isinstance(value, dict):
        yield _wrong_type(path, "an object", value)
        return
    for name in shape.required_members:
        if value.get(name) is None:
            yield Problem(
                VALIDATION,
                _member_path(path, name),
                f"Value null at '{_member_path(path, name)}' failed to satisfy constraint: "
                "Member must not be null",
            )
    for name, member_value in value.items():
        member_shape = shape.members.get(name)
        if member_shape is None:
            yield Problem(SERIALIZATION, _member_path(path, name), f"Unknown member '{name}'")
        elif member_value is not None:
            yield from problems(member_shape, member_value, _member_path(path, name))


def _length_problems(shape: Shape, length: int, value: Any, path: str) -> Iterator[Problem]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        yield _constraint(path, value, f"Member must have length greater than or equal to {low}")
    if high is not None and length > high:
        yield _constraint(path, value, f"Member must have length less than or equal to {high}")


def _constraint(path: str, value: Any, rule: str) -> Problem:
    return Problem(
        VALIDATION,
        path,
        f"Value '{_describe(value)}' at '{path}' failed to satisfy constraint: {rule}",
    )


def _list_problems(shape: Shape, value: Any, path: str) -> Iterator[Problem]:
    assert isinstance(shape, ListShape)
    if not isinstance(value, list):
        yield _wrong_type(path, "a list", value)
        return
    yield from _length_problems(shape, len(value), value, path)
    for index, item in enumerate(value):
        yield from problems(shape.member, item, f"{path}.{index + 1}.member")


def _map_problems(shape: Shape, value: Any, path: str) -> Iterator[Problem]:
    assert isinstance(shape, MapShape)
    if not isinstance(value, dict):
        yield _wrong_type(path, "an object", value)
        return
    yield from _length_problems(shape, len(value), value, path)
    for key, item in value.items():
        yield from problems(shape.key, key, f"{path}.key")
        yield from problems(shape.value, item, f"{path}.{key}")


def _string_problems(shape: Shape, value: Any, path: str) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield _wrong_type(path, "a string", value)
        return
    yield from _length_problems(shape, len(value), value, path)
    enum: list[str] = shape.metadata.get("enum", [])
    if enum and value not in enum:
        yield _constraint(path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]")
    pattern = shape.metadata.get("pattern")
    # AWS matches the whole value (the model drops the ^...$ anchors its patterns had).
    if pattern is not None and _compiled(pattern).fullmatch(value) is None:
        yield _constraint(path, value, f"Member must satisfy regular expression pattern: {pattern}")


# AWS's integer types are Java's, 32 and 64 bits: a bigger number is out of range even where the
# model sets no bound (ImageVersionNumber has only a minimum). Python's ints have no limit, so
# without these a huge number would reach SQLite, whose integers stop at 64 bits.
_INTEGER_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _fits_a_double(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:
        # An int too large to convert to a float: JSON can spell it, a double cannot hold it.
        return False


def _number_problems(
    shape: Shape, value: Any, path: str, kinds: type | tuple[type, ...]
) -> Iterator[Problem]:
    if isinstance(value, bool) or not isinstance(value, kinds):
        yield _wrong_type(path, "a number" if kinds is not int else "an integer", value)
        return
    type_low, type_high = _INTEGER_RANGES.get(shape.type_name, (None, None))
    low = shape.metadata.get("min", type_low)
    high = shape.metadata.get("max", type_high)
    if low is not None and value < low:
        yield _constraint(path, value, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        yield _constraint(path, value, f"Member must have value less than or equal to {high}")
