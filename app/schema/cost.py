"""A budget on how many objects one operation may fetch, checked before it runs; and the same
counts as Apollo's demand-control directives (``@cost``, ``@listSize``) for a router.

Depth, alias and token limits bound a document's size, not its fan-out: ``images(first: 100)``
with ``versions(first: 100) { ... baseImage }`` inside is a small document that would make ten
thousand SageMaker calls. So before execution the operation is walked once, as graphql-core will
execute it (its own field collection: fragments, aliases, ``@skip``/``@include``; and its own
argument coercion: variables, their defaults and the arguments' defaults), and counted the way
Apollo's router scores an operation from the cost directives, read from one table
(:data:`TYPE_WEIGHTS`, :data:`FIELD_DEMANDS`) that also writes those directives into the SDL:

* an item of a composite type counts its type's weight: one object for an entity (``Image``,
  ``ImageVersion``: what SageMaker describes) and for anything not in the table (as the router
  counts), nothing for a connection's wrappers, which come with the page;
* a field with a weight of its own counts that per item instead (``aliases``: one ListAliases
  call per version, whatever the number of aliases);
* a list field returns as many items as its parent times the length its demand gives: its
  slicing argument (``first``), sized for the connection's ``edges`` by the field above, or the
  length of its list argument (``refs``, ``ids``, ``representations``);
* leaves cost nothing.

The router reads only Int slicing arguments, so for a list argument the SDL says the size it may
reach (``assumedSize``); the budget counts the list actually sent.

An operation over the budget (``SMGQL_MAX_OBJECTS``) is refused with BAD_USER_INPUT and the
estimate, and costs SageMaker nothing. The check runs in ``app.schema.documents``, with the other
checks made before execution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
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
from graphql.language import (
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    ValueNode,
    VariableNode,
    Visitor,
    visit,
)
from strawberry.federation.schema_directives import Cost, ListSize
from strawberry.types.unset import UNSET

from app.schema.presenter import bad_user_input

# How many refs or ids one list argument may hold with the default limits (SMGQL_MAX_REFS): the
# size a router assumes for such a list, which it cannot read from an Int argument.
ASSUMED_REFS = 100

# The objects one item of a composite type counts, where not the router's default of one: a
# connection's wrappers come with its page and count nothing. Entities are listed although the
# default would count them the same, so that the SDL says what a describe costs.
TYPE_WEIGHTS: dict[str, int] = {
    "Image": 1,
    "ImageVersion": 1,
    "ImageConnection": 0,
    "ImageEdge": 0,
    "ImageVersionConnection": 0,
    "ImageVersionEdge": 0,
    "PageInfo": 0,
}
_DEFAULT_COMPOSITE_WEIGHT = 1


@dataclass(frozen=True)
class Demand:
    """What one field may fetch beyond its type's weight, for the budget and the router."""

    # Objects per item, instead of its type's weight (@cost).
    weight: int | None = None
    # Int arguments that give the list's length (@listSize(slicingArguments)).
    slicing_arguments: tuple[str, ...] = ()
    # Fields of the returned object whose lists the slicing argument sizes (a connection's
    # edges: @listSize(sizedFields)).
    sized_fields: tuple[str, ...] = ()
    # The list argument whose length is the list's: counted exactly by the budget; the router
    # assumes ``assumed_size``.
    list_argument: str | None = None
    assumed_size: int | None = None

    def size(self, arguments: Mapping[str, Any]) -> int | None:
        """The list's length the arguments give, if they give one."""
        sizes = [arguments.get(name) for name in self.slicing_arguments]
        given = [size for size in sizes if isinstance(size, int)]
        if given:
            return max(given)
        listed = arguments.get(self.list_argument) if self.list_argument else None
        return len(listed) if isinstance(listed, list) else None

    def directives(self) -> list[object]:
        """``@cost`` and ``@listSize`` for this demand, as the field declares them."""
        directives: list[object] = []
        if self.weight is not None:
            directives.append(Cost(weight=self.weight))
        if self.slicing_arguments or self.assumed_size is not None:
            # UNSET leaves an argument out of the SDL (null would be printed).
            directives.append(
                ListSize(
                    assumed_size=UNSET if self.assumed_size is None else self.assumed_size,
                    slicing_arguments=list(self.slicing_arguments) or UNSET,
                    sized_fields=list(self.sized_fields) or UNSET,
                    require_one_slicing_argument=False,
                )
            )
        return directives


_CONNECTION = Demand(slicing_arguments=("first",), sized_fields=("edges",))
_REFS = Demand(list_argument="refs", assumed_size=ASSUMED_REFS)

# Every field that calls SageMaker for more than its entity's describe, or returns a list, by its
# schema coordinate. Fields that return one entity need no entry: its type's weight counts it.
FIELD_DEMANDS: dict[str, Demand] = {
    "Query.images": _CONNECTION,
    "Query.imageVersions": _REFS,
    "Query.nodes": Demand(list_argument="ids", assumed_size=ASSUMED_REFS),
    # Strawberry's field, not declared here: a gateway's, never a client's, so unpriced in the SDL.
    "Query._entities": Demand(list_argument="representations"),
    "Image.versions": _CONNECTION,
    # One ListAliases call, however many aliases it answers.
    "ImageVersion.aliases": Demand(weight=1, assumed_size=1),
}


def field_directives(coordinate: str) -> list[object]:
    """The demand-control directives of the field at ``coordinate`` (``Type.field``)."""
    return FIELD_DEMANDS[coordinate].directives()


def type_directives(*names: str) -> list[object]:
    """The ``@cost`` of the types ``names``: one class that is several GraphQL types (a
    generic connection) declares one weight for all of them, so they must have the same."""
    (weight,) = {TYPE_WEIGHTS[name] for name in names}
    return [Cost(weight=weight)]


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
    return walk.count(root, fields.values(), parents=1, sizes={})


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

    def count(
        self,
        parent_type: GraphQLObjectType,
        fields: Any,
        parents: int,
        sizes: Mapping[str, int],
    ) -> int:
        """Objects fetched by ``fields`` (one FieldDetailsList per response key) of
        ``parents`` objects of ``parent_type``, whose list fields ``sizes`` names have that
        length (a connection's edges)."""
        total = 0
        for details in fields:
            total += self._count_field(parent_type, details, parents, sizes)
        return total

    def _count_field(
        self,
        parent_type: GraphQLObjectType,
        details: FieldDetailsList,
        parents: int,
        sizes: Mapping[str, int],
    ) -> int:
        node = details[0].node
        name = node.name.value
        definition = parent_type.fields.get(name)
        if definition is None:  # __typename and introspection
            return 0
        arguments = get_argument_values(
            definition, node, self.variables, details[0].fragment_variable_values
        )
        demand = FIELD_DEMANDS.get(f"{parent_type.name}.{name}", Demand())
        size = demand.size(arguments)
        is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
        length = (
            (size if size is not None else sizes.get(name, demand.assumed_size or 1))
            if is_list
            else 1
        )
        items = parents * max(length, 0)
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return items * (demand.weight or 0)
        weight = demand.weight
        if weight is None:
            weight = TYPE_WEIGHTS.get(named.name, _DEFAULT_COMPOSITE_WEIGHT)
        inner_sizes = (
            dict.fromkeys(demand.sized_fields, size) if size is not None and not is_list else {}
        )
        runtime_types = (
            self.schema.get_possible_types(named) if is_abstract_type(named) else [named]
        )
        inner = 0
        for runtime_type in runtime_types:
            assert isinstance(runtime_type, GraphQLObjectType)
            subfields = collect_subfields(
                self.schema, self.fragments, self.variables, self.operation, runtime_type, details
            ).grouped_field_set
            inner = max(inner, self.count(runtime_type, subfields.values(), items, inner_sizes))
        return items * weight + inner


# The names of the fields whose arguments can change an estimate (any type's, as written).
_DEMAND_FIELD_NAMES = frozenset(coordinate.split(".")[1] for coordinate in FIELD_DEMANDS)


def variables_read(document: DocumentNode) -> frozenset[str]:
    """The variables an estimate of an operation of ``document`` can depend on: those in a
    directive's arguments (``@skip``, ``@include``: which fields are counted) and in the
    arguments of a field named as one with a demand (the length of its list). Any other
    variable changes what an operation fetches, never how many objects: an estimate made with
    other values of them holds. Found by the fields' names, whatever their type, so some
    variables may be read needlessly, never one missed."""
    found = _VariablesRead()
    visit(document, found)
    return frozenset(found.names)


class _VariablesRead(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_: object) -> None:
        self._read(argument.value for argument in node.arguments or ())

    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.name.value in _DEMAND_FIELD_NAMES:
            self._read(argument.value for argument in node.arguments or ())

    def _read(self, values: Iterable[ValueNode]) -> None:
        for value in values:
            if isinstance(value, VariableNode):
                self.names.add(value.name.value)
            elif isinstance(value, ListValueNode):
                self._read(value.values)
            elif isinstance(value, ObjectValueNode):
                self._read(field.value for field in value.fields)


def refusal(estimate: int, max_objects: int) -> GraphQLError:
    """The error that refuses an operation over the budget."""
    return bad_user_input(
        f"This operation could fetch up to {estimate} objects; the limit is {max_objects}. "
        "Ask for smaller pages (`first`) or fewer refs, and page through the rest.",
        estimatedObjects=estimate,
        maxObjects=max_objects,
    )
