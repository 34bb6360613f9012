"""A budget on how many objects one operation may fetch, checked before it runs.

Depth, alias and token limits bound a document's size, not its fan-out: ``images(first: 100)``
with ``versions(first: 100) { ... baseImage }`` inside is a small document that would make ten
thousand SageMaker calls. So before execution the operation is walked once, as graphql-core will
execute it (its own field collection: fragments, aliases, ``@skip``/``@include``; and its own
argument coercion: variables, their defaults and the arguments' defaults), and counted:

* a field returns as many items as its parent times, for a list, the length of its list
  argument (``refs``, ``representations``) or else the ``first`` of the connection it is in;
* an item of an entity type (``Image``, ``ImageVersion``: what SageMaker describes) counts one
  object; connection, edge and page-info wrappers count nothing;
* a list of scalars (``aliases``) is one fetch per parent, and counts so.

An operation over the budget (``SMGQL_MAX_OBJECTS``) is refused with BAD_USER_INPUT and the
estimate, and costs SageMaker nothing. The check runs in ``app.schema.documents``, with the other
checks made before execution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import OperationDefinitionNode

from app.schema.presenter import bad_user_input

# The union federation builds of every entity type.
_ENTITY_UNION = "_Entity"


def estimate_objects(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int | None:
    """How many objects the operation can fetch at most; None when it cannot run at all (no
    such operation, or variables that do not coerce), which execution then reports."""
    operation = get_operation_ast(document, operation_name)
    root = schema.get_root_type(operation.operation) if operation else None
    if operation is None or root is None:
        return None
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {}), max_errors=1
    )
    if isinstance(coerced, list):
        return None
    fragments = {
        definition.name.value: FragmentDetails(definition)
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments, coerced, operation)
    fields = collect_fields(schema, fragments, coerced, root, operation).grouped_field_set
    return walk.count(root, fields.values(), parents=1, page=None)


class _Walk:
    """One operation's fields, counted as execution would meet them."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        variables: VariableValues,
        operation: OperationDefinitionNode,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.operation = operation
        entity_union = schema.type_map.get(_ENTITY_UNION)
        self.entities: set[GraphQLNamedType] = set()
        if isinstance(entity_union, GraphQLUnionType):
            self.entities = {entity_union, *entity_union.types}

    def count(
        self,
        parent_type: GraphQLObjectType,
        fields: Any,
        parents: int,
        page: int | None,
    ) -> int:
        """Objects fetched by ``fields`` (one FieldDetailsList per response key) of
        ``parents`` objects of ``parent_type``, inside a connection of ``page`` items."""
        total = 0
        for details in fields:
            total += self._count_field(parent_type, details, parents, page)
        return total

    def _count_field(
        self,
        parent_type: GraphQLObjectType,
        details: FieldDetailsList,
        parents: int,
        page: int | None,
    ) -> int:
        node = details[0].node
        definition = parent_type.fields.get(node.name.value)
        if definition is None:  # __typename and introspection
            return 0
        arguments = get_argument_values(
            definition, node, self.variables, details[0].fragment_variable_values
        )
        is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return parents if is_list else 0
        size = (_list_argument_length(definition.args, arguments) or page or 1) if is_list else 1
        items = parents * max(size, 0)
        first = arguments.get("first")
        inner_page = first if isinstance(first, int) else None
        runtime_types = (
            self.schema.get_possible_types(named) if is_abstract_type(named) else [named]
        )
        inner = 0
        for runtime_type in runtime_types:
            assert isinstance(runtime_type, GraphQLObjectType)
            subfields = collect_subfields(
                self.schema, self.fragments, self.variables, self.operation, runtime_type, details
            ).grouped_field_set
            inner = max(inner, self.count(runtime_type, subfields.values(), items, inner_page))
        return (items if named in self.entities else 0) + inner


def _list_argument_length(definitions: Mapping[str, Any], arguments: Mapping[str, Any]) -> int:
    """The length of the field's list argument, if it has one and it was given."""
    for name, definition in definitions.items():
        value = arguments.get(name)
        if isinstance(get_nullable_type(definition.type), GraphQLList) and isinstance(value, list):
            return len(value)
    return 0


def refusal(estimate: int, max_objects: int) -> GraphQLError:
    """The error that refuses an operation over the budget."""
    return bad_user_input(
        f"This operation could fetch up to {estimate} objects; the limit is {max_objects}. "
        "Ask for smaller pages (`first`) or fewer refs, and page through the rest.",
        estimatedObjects=estimate,
        maxObjects=max_objects,
    )
