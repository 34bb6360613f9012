"""What an operation tells those who trace it: Apollo's federated trace (ftv1) for the gateway
that asks, and the operation's name and type on the request's OpenTelemetry span."""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry import trace
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing.apollo_federation import ApolloFederationTracingExtension

from app.schema.context import RequestContext


class FederatedTracing(ApolloFederationTracingExtension):
    """Strawberry's ftv1 extension, asked by the request's context (``federated_trace``, set
    from the gateway's ``apollo-federation-include-trace: ftv1`` header) rather than by a
    request object the context does not hold. The schema adds it only to an operation whose
    request asks (``SubgraphSchema.get_extensions``)."""

    def _check_should_trace(self) -> bool:
        context = self.execution_context.context
        return isinstance(context, RequestContext) and context.federated_trace


class OperationOnSpan(SchemaExtension):
    """Name the GraphQL operation (``graphql.operation.name`` and ``.type``, as OpenTelemetry's
    conventions call them) on the span of the request that runs it, so that a trace says which
    operation it was and not only ``POST /graphql``. The schema adds it only to an operation
    whose request's span records (``SubgraphSchema.get_extensions``)."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        name_operation_on_span(execution.operation_type.value, execution.operation_name)
        yield


def name_operation_on_span(operation_type: str, operation_name: str | None) -> None:
    """Name the operation on the current span, when it records."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("graphql.operation.type", operation_type)
        if operation_name:
            span.set_attribute("graphql.operation.name", operation_name)
