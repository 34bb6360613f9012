"""The GraphQL schema: an Apollo Federation v2 subgraph over SageMaker image versions."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from inspect import isawaitable
from typing import Any, TypeGuard, cast

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule, execute
from opentelemetry import trace
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry.schema.schema import (
    DEFAULT_ALLOWED_OPERATION_TYPES,
    StrawberryGraphQLCoreExecutionContext,
    StreamResult,
)
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from app.schema.context import Info, RequestContext
from app.schema.documents import DocumentCache, PreparedDocuments, Ready, admit, ready
from app.schema.limits import SchemaLimits
from app.schema.presenter import bad_user_input, present_all
from app.schema.query import Query, Subscription
from app.schema.tracing import FederatedTracing, OperationOnSpan, name_operation_on_span
from app.schema.types import ENTITIES, Image, ImageVersion

# Strawberry's test of a resolver's result (faster than inspect's), typed as graphql-core asks.
_IS_AWAITABLE = cast("Callable[[Any], TypeGuard[Awaitable[Any]]]", optimized_is_awaitable)

# Whether the operation being started asked for a federated trace: set by
# SubgraphSchema.execute for the extensions it builds (one value per task, so per request).
_TRACED: ContextVar[bool] = ContextVar("federated_trace", default=False)


class SubgraphSchema(strawberry.federation.Schema):
    # What operations on this schema may ask (set by build_schema); resolvers read it from
    # their request's context.
    limits: SchemaLimits
    # The documents checked so far (set by build_schema).
    documents: DocumentCache

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Present every error as its client will see it (``app.schema.presenter``).

        Strawberry calls this hook once for each list of errors an operation produces (parse,
        validation, execution, a failing extension), and the result carries that same list, so
        rewriting it in place is how the presented errors reach every caller: HTTP and
        ``schema.execute()`` alike; and it is where an operation's errors are held to
        ``SMGQL_MAX_ERRORS``. Nothing is logged here but the unexpected (by the
        presenter, with its errorId); strawberry's default would log every NOT_FOUND as a
        traceback.
        """
        self._present(errors, execution_context.context if execution_context else None)

    def _present(self, errors: list[GraphQLError], context: object) -> None:
        errors[:] = present_all(errors, self.limits.max_errors)
        if isinstance(context, RequestContext) and errors:
            codes = {str((error.extensions or {}).get("code")) for error in errors}
            context.log_fields["errorCodes"] = sorted(codes)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Run one operation, with the federated-trace extension only when its request asks for
        a trace (:meth:`get_extensions`); a document checked before, straight on graphql-core
        when nothing asks for an extension's work (:meth:`_run_ready`)."""
        traced = isinstance(context_value, RequestContext) and context_value.federated_trace
        if query is not None and not traced:
            found = ready(self.documents, query, operation_name)
            allowed = allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES
            if found is not None and OperationType(found.operation.operation.value) in allowed:
                return await self._run_ready(
                    found, variable_values, context_value, root_value, operation_extensions
                )
        asked = _TRACED.set(traced)
        try:
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        finally:
            _TRACED.reset(asked)

    async def _run_ready(
        self,
        found: Ready,
        variable_values: dict[str, Any] | None,
        context_value: Any | None,
        root_value: Any | None,
        operation_extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        """Run a document that was parsed, checked and validated before, as strawberry's
        ``execute`` would once its extensions had found that: hold it to the object budget,
        execute it on graphql-core, present its errors. Strawberry's path builds the
        extensions, their runner and its four hooks around every operation, a tenth of a small
        query's CPU; here nothing needs them: no federated trace is asked for, the operation
        is named on the request's span here, and what the others would do for this document is
        known already."""
        request = context_value if isinstance(context_value, RequestContext) else None
        operation = found.operation
        over = admit(found.entry, operation, variable_values, request, self.limits, self._schema)
        name = operation.name.value if operation.name else None
        name_operation_on_span(operation.operation.value, name)
        if over is not None:
            refused = [over]
            self._present(refused, context_value)
            return ExecutionResult(data=None, errors=refused)
        try:
            result = execute(
                self._schema,
                found.entry.document,
                root_value=root_value,
                context_value=context_value,
                variable_values=variable_values,
                operation_name=name,
                executor_class=self.execution_context_class,
                is_awaitable=_IS_AWAITABLE,
                operation_extensions=operation_extensions,
            )
            if isawaitable(result):
                result = await result
        except Exception as error:  # As strawberry's execute answers one.
            failed = [GraphQLError(str(error), original_error=error)]
            self._present(failed, context_value)
            return ExecutionResult(data=None, errors=failed)
        if result.errors:
            self._present(result.errors, context_value)
        return ExecutionResult(data=result.data, errors=result.errors)

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        """The operation's extensions, and two only when they have work: the one naming the
        operation on the request's span when that span records (an extension's hooks cost
        every operation; this one was about 2 % of an untraced single-version query's
        instructions), and ftv1's when its request asked for a trace: on every operation, its
        hooks and its wrapper around every field cost an untraced one about a tenth of its CPU
        (measured with the cache off: 5.5 ms a request with it, 4.9 without, the local
        endpoint's share included)."""
        extensions = super().get_extensions(sync)
        if trace.get_current_span().is_recording():
            extensions.append(OperationOnSpan())
        if _TRACED.get():
            extensions.append(FederatedTracing())
        return extensions

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """Run one operation of a streaming transport (the WebSocket) in a context of its own:
        the transport hands every operation its connection's context."""
        if isinstance(context_value, RequestContext):
            context_value = context_value.for_operation()
        return await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """``_entities``: each representation resolved on its own, so a malformed one (not an
        object, no or an unknown ``__typename``) fails alone with BAD_USER_INPUT and the rest
        still come back. Strawberry's own lets such an item fail the whole list."""
        # Strawberry builds the field from this signature: the same types as its own.
        return [_entity(info, index, item) for index, item in enumerate(representations)]


class PartialResults(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, whose response also carries the errors of fields that still
    answered (``RequestContext.partial_errors``): a field's value and an error at its path
    cannot both come from a resolver, which either returns or raises."""

    def build_response(self, data: dict[str, Any] | None) -> Any:
        context = self.context_value
        if isinstance(context, RequestContext) and context.partial_errors:
            self.collected_errors.errors.extend(context.partial_errors)
            context.partial_errors.clear()
        return super().build_response(data)


def _entity(info: Info, index: int, representation: object) -> FederationAny:
    type_name = representation.get("__typename") if isinstance(representation, dict) else None
    resolve = ENTITIES.get(type_name) if isinstance(type_name, str) else None
    if resolve is None:
        return FederationAny(
            bad_user_input(f"Representation {index} needs a __typename of {' or '.join(ENTITIES)}.")
        )
    assert isinstance(representation, dict)
    return FederationAny(resolve(info, representation))


def build_schema(limits: SchemaLimits) -> SubgraphSchema:
    """The schema, holding operations to ``limits`` (the SDL is the same for all)."""
    # One cache of prepared documents per schema. Strawberry builds extensions per request,
    # hence the factories.
    documents = DocumentCache()
    extensions: list[Any] = [lambda: PreparedDocuments(limits, documents)]
    if not limits.introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    schema = SubgraphSchema(
        query=Query,
        subscription=Subscription,
        types=[Image, ImageVersion],
        extensions=extensions,
        execution_context_class=PartialResults,
    )
    schema.limits = limits
    schema.documents = documents
    return schema


def schema_sdl(schema: SubgraphSchema) -> str:
    """The subgraph SDL, as checked in at ``schema.graphql``."""
    return schema.as_str() + "\n"


def schema_version(schema: SubgraphSchema) -> str:
    """A short digest of what decides the answer to a request besides the request itself: the
    SDL and the limits operations are held to. Replicas share whole responses only when it is
    the same: one whose limits refuse a query must never serve another's answer to it."""
    described = f"{schema_sdl(schema)}\n{schema.limits!r}"
    return hashlib.sha256(described.encode()).hexdigest()[:16]
