"""Documents: parsed, checked against the document limits and validated once per distinct text.

Parsing and validation are most of a small query's CPU, and a frontend sends the same few
documents over and over. So :class:`PreparedDocuments` keeps, per query text (bounded LRU; texts
over :data:`MAX_CACHED_TEXT` are never kept), the parsed document and what checking it found.
A repeated document costs a dictionary lookup; the schema and its rules are fixed for the cache's
life (one cache per schema), so the answer cannot go stale.

Validation is also the costly step for a hostile document: graphql-core's
OverlappingFieldsCanBeMerged compares every pair of selections that share a response name, so a
30 KB document repeating one field a thousand times costs seconds of CPU on the event loop. The
depth, alias and token limits do not catch that shape, and neither does counting a selection set
as written: the rule merges each set's fragment spreads and inline fragments into it (and the
sub-selections of the fields it merges), so 333 fragments that each select ``image``, spread into
one set, are 333 ``image`` fields to compare pairwise. So before validation the document is
checked for:

* tokens (while parsing: graphql-core stops at the limit);
* selections in all (fields, fragment spreads, inline fragments), counted as the rule and
  execution meet them: each fragment's selections once per place it is spread, and once more as
  its own definition (validation visits that too);
* how many fields share a response name in one selection set once its fragments are merged in,
  and with them the sub-selections of fields merged under one name;
* field depth (through fragments; introspection aside) and aliases;
* number literals no Int or Float can hold (a 5,000-digit literal would otherwise fail inside
  validation as an internal error);

and, on every request since it depends on ``operationName``, that the operation to run exists:
the one named, or the only one (the spec's rule; graphql would otherwise run the first of
several).

A document over a limit is refused with GRAPHQL_VALIDATION_FAILED and no validation runs. Errors
validation itself finds are coded here too, so that they are told apart from variable errors.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_operation_ast,
)
from graphql.language import Visitor, visit
from strawberry.extensions import SchemaExtension

from app.errors import ErrorCode, extension
from app.schema.context import RequestContext
from app.schema.cost import estimate_objects, refusal, variables_read
from app.schema.limits import SchemaLimits
from app.schema.presenter import unknown_operation

VALIDATION_FAILED = extension(ErrorCode.GRAPHQL_VALIDATION_FAILED)
# Longer than any Float: 1.8e308 written out in full has 309 digits.
MAX_NUMBER_CHARACTERS = 400
# Documents kept, and the longest text kept: together at most 16 MiB of query text.
MAX_CACHED_DOCUMENTS = 1024
MAX_CACHED_TEXT = 16 * 1024


# Object estimates kept per document, at most: one per operation and values of the variables
# an estimate reads (app.schema.cost.variables_read), such as each page size asked for.
MAX_ESTIMATES = 64


@dataclass
class _Prepared:
    """One query text: its document, once checked the errors that refuse it (none: []), the
    variables an object estimate of it reads, and the estimates made, by operation and those
    variables' values (an operation reading none is estimated once)."""

    document: DocumentNode
    errors: list[GraphQLError] | None = None
    variables_read: frozenset[str] | None = None
    estimates: dict[tuple[str | None, str], int] = field(default_factory=dict)

    def estimate_key(
        self, operation: str | None, variables: dict[str, Any] | None
    ) -> tuple[str | None, str]:
        """Which estimate serves ``operation`` run with ``variables``: a digest of the values
        read, not the values, which a client chooses (a thousand representations are 50 KB,
        and a document keeps up to :data:`MAX_ESTIMATES` keys)."""
        if self.variables_read is None:
            self.variables_read = variables_read(self.document)
        read = self.variables_read
        if not read or not variables:
            return operation, ""
        values = {name: value for name, value in variables.items() if name in read}
        text = json.dumps(values, sort_keys=True, default=repr)
        return operation, hashlib.sha256(text.encode()).hexdigest()


@dataclass
class DocumentCache:
    """A bounded LRU of query text -> :class:`_Prepared`, shared by a schema's requests."""

    entries: OrderedDict[str, _Prepared] = field(default_factory=OrderedDict)
    lock: Lock = field(default_factory=Lock)

    def get(self, text: str) -> _Prepared | None:
        with self.lock:
            entry = self.entries.get(text)
            if entry is not None:
                self.entries.move_to_end(text)
            return entry

    def put(self, text: str, entry: _Prepared) -> None:
        if len(text) > MAX_CACHED_TEXT:
            return
        with self.lock:
            self.entries[text] = entry
            self.entries.move_to_end(text)
            while len(self.entries) > MAX_CACHED_DOCUMENTS:
                self.entries.popitem(last=False)


class PreparedDocuments(SchemaExtension):
    """Parse, check the limits and validate each distinct document once (module docstring),
    then hold the operation to the object budget (``app.schema.cost``) before it runs.

    One extension for all of it: strawberry's cost is per extension and hook, and this is the
    path of every request.
    """

    def __init__(self, limits: SchemaLimits, cache: DocumentCache) -> None:
        self.limits = limits
        self.cache = cache
        self.entry: _Prepared | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        text = context.query or ""
        self.entry = self.cache.get(text)
        if self.entry is not None:
            context.graphql_document = self.entry.document
        else:
            context.parse_options["max_tokens"] = self.limits.max_tokens
        yield
        if self.entry is None and context.graphql_document is not None:
            self.entry = _Prepared(context.graphql_document)
            self.cache.put(text, self.entry)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        entry = self.entry
        if entry is not None and entry.errors is None:
            problem = document_problem(entry.document, self.limits)
            if problem is not None:
                entry.errors = [problem]
        if entry is not None and entry.errors is not None:
            # Set before validation runs: strawberry then skips it (an empty list included).
            context.pre_execution_errors = list(entry.errors)
        unknown = None
        if entry is not None and not entry.errors:
            # operation_name falls back to the first operation's; the spec wants the one asked.
            unknown = operation_problem(entry.document, context._provided_operation_name)
            if unknown is not None:
                context.pre_execution_errors = [unknown]
        yield
        for error in context.pre_execution_errors or ():
            if not error.extensions or "code" not in error.extensions:
                error.extensions = {**(error.extensions or {}), **VALIDATION_FAILED}
        if entry is not None and entry.errors is None and unknown is None:
            entry.errors = list(context.pre_execution_errors or [])

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        entry = self.entry
        if entry is not None and context.result is None:
            operation = get_operation_ast(entry.document, context.operation_name)
            request = context.context if isinstance(context.context, RequestContext) else None
            if operation is not None:
                schema = context.schema._schema
                over = admit(entry, operation, context.variables, request, self.limits, schema)
                if over is not None:
                    context.result = ExecutionResult(data=None, errors=[over])
        yield


def ready(cache: DocumentCache, text: str, operation_name: str | None) -> Ready | None:
    """``text``'s document and operation to run, when both were checked before and found
    sound (parsed, within the limits, valid, and naming an operation it has); None otherwise,
    and the document then goes the whole way through :class:`PreparedDocuments`."""
    entry = cache.get(text)
    if entry is None or entry.errors != []:
        return None
    operation = get_operation_ast(entry.document, operation_name)
    return None if operation is None else Ready(entry, operation)


@dataclass(frozen=True)
class Ready:
    """A document checked and found sound, and its operation a request runs."""

    entry: _Prepared
    operation: OperationDefinitionNode


def admit(
    entry: _Prepared,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
    request: RequestContext | None,
    limits: SchemaLimits,
    schema: GraphQLSchema,
) -> GraphQLError | None:
    """Hold ``operation`` of ``entry``'s document, with ``variables``, to the object budget
    (noting its type and estimate on ``request``): the refusal when it is over.

    An operation is walked once per value of the variables its estimate reads (none, for most):
    the walk coerces the variables and collects the fields as execution will, and was an eighth
    of a cache-off request's CPU, made again on every request. An operation whose other
    variables do not coerce gets the estimate it would have if they did; execution then
    reports them, as it does when the estimate is made anew (no estimate, nothing refused)."""
    if request is not None:
        request.log_fields["operationType"] = operation.operation.value
    name = operation.name.value if operation.name else None
    key = entry.estimate_key(name, variables)
    estimate = entry.estimates.get(key)
    if estimate is None:
        estimate = estimate_objects(schema, entry.document, name, variables)
        if estimate is None:
            return None
        if len(entry.estimates) < MAX_ESTIMATES:
            entry.estimates[key] = estimate
    if request is not None:
        request.ledger.estimated_objects = estimate
    if estimate > limits.max_objects:
        return refusal(estimate, limits.max_objects)
    return None


def document_problem(document: DocumentNode, limits: SchemaLimits) -> GraphQLError | None:
    """The first limit ``document`` breaks, as the error to answer; None when it keeps them."""
    counts = _Counts()
    visit(document, counts)
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    merged = _Merged(fragments, limits)
    merged.walk(document)
    problems = (
        (
            merged.selections > limits.max_selections,
            f"The document has more than {limits.max_selections} selections (the limit) once "
            "each fragment is counted at every place it is spread.",
        ),
        (
            merged.most_repeated > limits.max_repeated_selections,
            f"A selection set asks for the field '{merged.most_repeated_name}' "
            f"{merged.most_repeated} times once its fragments are merged in; the limit is "
            f"{limits.max_repeated_selections}.",
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
    return None


def operation_problem(document: DocumentNode, operation_name: str | None) -> GraphQLError | None:
    """Why ``document`` has no operation to run for ``operation_name``; None when it has."""
    if get_operation_ast(document, operation_name) is not None:
        return None
    if operation_name is not None:
        return unknown_operation(operation_name)
    return _refusal("The document has several operations: say which in operationName.")


def _refusal(message: str) -> GraphQLError:
    return GraphQLError(message, extensions=dict(VALIDATION_FAILED))


class _Counts(Visitor):
    """Aliases and the longest number literal."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases = 0
        self.longest_number = 0

    def enter_field(self, node: FieldNode, *_: object) -> None:
        if node.alias is not None:
            self.aliases += 1

    def enter_int_value(self, node: IntValueNode, *_: object) -> None:
        self.longest_number = max(self.longest_number, len(node.value))

    def enter_float_value(self, node: FloatValueNode, *_: object) -> None:
        self.longest_number = max(self.longest_number, len(node.value))


# A selection set to merge, with the fragments spread on the way to it (a fragment that spreads
# itself, which validation reports, is not expanded again).
_Pending = tuple[SelectionSetNode, frozenset[str]]


class _Merged:
    """The document's selection sets merged as OverlappingFieldsCanBeMerged merges them: each
    definition's set with its fragment spreads and inline fragments expanded in place, fields
    grouped by response name, and each group's sub-selections merged in turn.

    The walk counts every selection it expands and stops once the count passes
    ``max_selections`` or a group passes ``max_repeated_selections``: a document whose fragments
    multiply (each spreading the next several times) is refused after at most that many steps,
    so the check costs no more than a document at the limit, however much the fragments expand.
    """

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], limits: SchemaLimits) -> None:
        self.fragments = fragments
        self.limits = limits
        self.selections = 0
        self.most_repeated = 0
        self.most_repeated_name = ""

    def walk(self, document: DocumentNode) -> None:
        """Count the document's definitions, each on its own as validation visits them."""
        merges: list[list[_Pending]] = []
        for definition in reversed(document.definitions):
            if isinstance(definition, OperationDefinitionNode):
                merges.append([(definition.selection_set, frozenset())])
            elif isinstance(definition, FragmentDefinitionNode):
                merges.append([(definition.selection_set, frozenset({definition.name.value}))])
        # A stack, not recursion: nesting is bounded only by the token limit.
        while merges:
            groups = self._group(merges.pop())
            if groups is None:
                return
            for name, fields in groups.items():
                if len(fields) > self.most_repeated:
                    self.most_repeated, self.most_repeated_name = len(fields), name
                if self.most_repeated > self.limits.max_repeated_selections:
                    return
                below = [(node.selection_set, path) for node, path in fields if node.selection_set]
                if below:
                    merges.append(below)

    def _group(
        self, merge: list[_Pending]
    ) -> dict[str, list[tuple[FieldNode, frozenset[str]]]] | None:
        """The fields of ``merge``'s sets by response name; None once over the selections."""
        groups: dict[str, list[tuple[FieldNode, frozenset[str]]]] = {}
        pending = list(merge)
        while pending:
            selection_set, path = pending.pop()
            self.selections += len(selection_set.selections)
            if self.selections > self.limits.max_selections:
                return None
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    name = (selection.alias or selection.name).value
                    groups.setdefault(name, []).append((selection, path))
                elif isinstance(selection, InlineFragmentNode):
                    pending.append((selection.selection_set, path))
                elif isinstance(selection, FragmentSpreadNode):
                    spread = selection.name.value
                    fragment = self.fragments.get(spread)
                    if fragment is not None and spread not in path:
                        pending.append((fragment.selection_set, path | {spread}))
        return groups


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
                # Introspection nests as deep as the schema's own type references (GraphiQL's
                # query goes past 12) and costs SageMaker nothing: not counted.
                introspection = selection.name.value.startswith("__")
                if selection.selection_set is not None and not introspection:
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
