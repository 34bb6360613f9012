"""A budget on how many objects one operation may fetch, checked before it runs.

Depth, alias and token limits bound a document's size, not its fan-out: ``images(first: 100)``
with ``versions(first: 100) { ... baseImage }`` inside is a small document that would make ten
thousand SageMaker calls. So before execution the operation is walked once, and every field with
a selection counts the objects it can return: its parent's count times its own multiplier, which
is ``first`` for a connection (10 when not given), the number of ``refs`` or
``representations`` for a list lookup, and 1 otherwise. An operation over :data:`MAX_OBJECTS`
is refused with BAD_USER_INPUT and the estimate, and costs SageMaker nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from app.errors import ErrorCode
from app.schema.connections import DEFAULT_FIRST

MAX_OBJECTS = 5_000

# Field -> the argument whose size multiplies what the field returns.
_LIST_ARGUMENTS = {"imageVersions": "refs", "_entities": "representations"}
_CONNECTIONS = {"images", "versions"}


class ObjectBudget(SchemaExtension):
    """Refuse, before execution, an operation whose estimate exceeds :data:`MAX_OBJECTS`."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = _operation(document, context.operation_name) if document else None
        if document is not None and operation is not None and context.result is None:
            fragments = {
                definition.name.value: definition
                for definition in document.definitions
                if isinstance(definition, FragmentDefinitionNode)
            }
            estimate = _count(operation.selection_set, 1, fragments, context.variables or {})
            if estimate > MAX_OBJECTS:
                context.result = ExecutionResult(data=None, errors=[_refusal(estimate)])
        yield


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation to run: the one named, or the only one (validation has checked which)."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            return definition
    return None


def _refusal(estimate: int) -> GraphQLError:
    return GraphQLError(
        f"This operation could fetch up to {estimate} objects; the limit is {MAX_OBJECTS}. "
        "Ask for smaller pages (`first`) or fewer refs, and page through the rest.",
        extensions={
            "code": ErrorCode.BAD_USER_INPUT.value,
            "retryable": False,
            "estimatedObjects": estimate,
            "maxObjects": MAX_OBJECTS,
        },
    )


def _count(
    selection_set: SelectionSetNode | None,
    parents: int,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.selection_set is None:
                continue
            objects = parents * _multiplier(selection, variables)
            total += objects + _count(selection.selection_set, objects, fragments, variables)
        elif isinstance(selection, InlineFragmentNode):
            total += _count(selection.selection_set, parents, fragments, variables)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                total += _count(fragment.selection_set, parents, fragments, variables)
    return total


def _multiplier(field: FieldNode, variables: Mapping[str, Any]) -> int:
    name = field.name.value
    arguments = {argument.name.value: argument.value for argument in field.arguments or ()}
    if name in _CONNECTIONS:
        first = _value(arguments.get("first"), variables)
        return first if isinstance(first, int) and first > 0 else DEFAULT_FIRST
    if name in _LIST_ARGUMENTS:
        items = _value(arguments.get(_LIST_ARGUMENTS[name]), variables)
        return len(items) if isinstance(items, list) else 1
    return 1


def _value(node: ValueNode | None, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, ListValueNode):
        return list(node.values)
    return None
