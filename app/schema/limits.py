"""Limits on the document itself, enforced before GraphQL validation spends anything on it.

Validation is the costly step for a hostile document: graphql-core's OverlappingFieldsCanBeMerged
compares every pair of selections that share a response name, so a 30 KB document repeating one
field a thousand times costs seconds of CPU on the event loop. The depth, alias and token limits
do not catch that shape. So one walk of the parsed document, linear in its size, checks before
validation:

* tokens (while parsing: graphql-core stops at the limit);
* selections in all (fields, fragment spreads, inline fragments);
* how often one selection set repeats a response name or spreads the same fragment;
* field depth (through fragments) and aliases;
* number literals no Int or Float can hold (a 5,000-digit literal would otherwise fail inside
  validation as an internal error);
* that the operation to run exists: the one named, or the only one (the spec's rule; graphql
  would otherwise run the first of several).

A document over a limit is refused with GRAPHQL_VALIDATION_FAILED and no validation runs. Errors
validation itself finds are coded here too, so that they are told apart from variable errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_operation_ast,
)
from graphql.language import Visitor, visit
from strawberry.extensions import SchemaExtension

from app.errors import ErrorCode

# Longer than any Float: 1.8e308 written out in full has 309 digits.
MAX_NUMBER_CHARACTERS = 400


@dataclass(frozen=True)
class DocumentLimitSettings:
    max_tokens: int
    max_selections: int
    max_repeated_selections: int
    max_depth: int
    max_aliases: int


class DocumentLimits(SchemaExtension):
    def __init__(self, limits: DocumentLimitSettings) -> None:
        self.limits = limits

    def on_parse(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            # operation_name falls back to the first operation's; the spec wants the one asked.
            asked = context._provided_operation_name
            problem = document_problem(document, asked, self.limits)
            if problem is not None:
                # Set before validation runs: strawberry then skips it.
                context.pre_execution_errors = [problem]
        yield
        for error in context.pre_execution_errors or ():
            if not error.extensions or "code" not in error.extensions:
                error.extensions = {
                    **(error.extensions or {}),
                    "code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value,
                    "retryable": False,
                }


def document_problem(
    document: DocumentNode, operation_name: str | None, limits: DocumentLimitSettings
) -> GraphQLError | None:
    """The first limit ``document`` breaks, as the error to answer; None when it keeps them."""
    counts = _Counts()
    visit(document, counts)
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    problems = (
        (
            counts.selections > limits.max_selections,
            f"The document has {counts.selections} selections; the limit is "
            f"{limits.max_selections}.",
        ),
        (
            counts.most_repeated > limits.max_repeated_selections,
            f"A selection set asks for the same field or fragment {counts.most_repeated} times; "
            f"the limit is {limits.max_repeated_selections}.",
        ),
        (
            counts.aliases > limits.max_aliases,
            f"The document has {counts.aliases} aliases; the limit is {limits.max_aliases}.",
        ),
        (
            counts.longest_number > MAX_NUMBER_CHARACTERS,
            f"A number literal of {counts.longest_number} characters is larger than any Int "
            "or Float.",
        ),
    )
    for broken, message in problems:
        if broken:
            return _refusal(message)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            depth = _Depth(fragments).of(definition.selection_set)
            if depth > limits.max_depth:
                name = definition.name.value if definition.name else "anonymous"
                return _refusal(f"'{name}' exceeds maximum operation depth of {limits.max_depth}.")
    if get_operation_ast(document, operation_name) is None:
        if operation_name is not None:
            return _refusal(f'Unknown operation named "{operation_name}".')
        return _refusal("The document has several operations: say which in operationName.")
    return None


def _refusal(message: str) -> GraphQLError:
    return GraphQLError(
        message,
        extensions={"code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value, "retryable": False},
    )


class _Counts(Visitor):
    """Selections, repeats within a selection set, aliases and the longest number literal."""

    def __init__(self) -> None:
        super().__init__()
        self.selections = 0
        self.most_repeated = 0
        self.aliases = 0
        self.longest_number = 0

    def enter_selection_set(self, node: SelectionSetNode, *_: object) -> None:
        self.selections += len(node.selections)
        names: Counter[str] = Counter()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                names["field " + (selection.alias or selection.name).value] += 1
            elif isinstance(selection, FragmentSpreadNode):
                names["fragment " + selection.name.value] += 1
        if names:
            self.most_repeated = max(self.most_repeated, max(names.values()))

    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.alias is not None:
            self.aliases += 1

    def enter_int_value(self, node: IntValueNode, *_: object) -> None:
        self.longest_number = max(self.longest_number, len(node.value))

    def enter_float_value(self, node: FloatValueNode, *_: object) -> None:
        self.longest_number = max(self.longest_number, len(node.value))


class _Depth:
    """Field depth through fragments, each fragment measured once; a fragment cycle (which
    validation reports) counts as no depth rather than looping."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.measured: dict[str, int] = {}

    def of(self, selection_set: SelectionSetNode | None, depth: int = 0) -> int:
        deepest = depth
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                if selection.selection_set is not None:
                    deepest = max(deepest, self.of(selection.selection_set, depth + 1))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.of(selection.selection_set, depth))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, depth + self._fragment(selection.name.value))
        return deepest

    def _fragment(self, name: str) -> int:
        if name not in self.measured:
            self.measured[name] = 0
            fragment = self.fragments.get(name)
            self.measured[name] = self.of(fragment.selection_set) if fragment else 0
        return self.measured[name]
