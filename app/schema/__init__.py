"""The GraphQL schema: an Apollo Federation v2 subgraph over SageMaker image versions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types import ExecutionContext

from app.schema.context import RequestContext
from app.schema.cost import ObjectBudget
from app.schema.presenter import present
from app.schema.query import Query
from app.schema.types import Image, ImageVersion


class SubgraphSchema(strawberry.federation.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Present every error as its client will see it (``app.schema.presenter``).

        Strawberry calls this hook once for each list of errors an operation produces (parse,
        validation, execution, a failing extension), and the result carries that same list, so
        rewriting it in place is how the presented errors reach every caller: HTTP and
        ``schema.execute()`` alike. Nothing is logged here but the unexpected (by the
        presenter, with its errorId); strawberry's default would log every NOT_FOUND as a
        traceback.
        """
        errors[:] = [present(error) for error in errors]
        context = execution_context.context if execution_context else None
        if isinstance(context, RequestContext) and errors:
            codes = {str((error.extensions or {}).get("code")) for error in errors}
            context.log_fields["errorCodes"] = sorted(codes)


class RecordOperation(SchemaExtension):
    """Leave the operation's name and type for the request's log line."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if isinstance(context, RequestContext):
            execution = self.execution_context
            context.log_fields["operationName"] = execution.operation_name
            try:
                context.log_fields["operationType"] = execution.operation_type.value
            except Exception:  # a document that did not parse has no operation type
                context.log_fields["operationType"] = None


def build_schema() -> SubgraphSchema:
    # Limits that keep one document from costing more than a page of real queries would.
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=10_000),
        lambda: MaxAliasesLimiter(max_alias_count=100),
        lambda: QueryDepthLimiter(max_depth=12),
        ObjectBudget,
        RecordOperation,
    ]
    return SubgraphSchema(query=Query, types=[Image, ImageVersion], extensions=extensions)


schema = build_schema()


def schema_sdl() -> str:
    """The subgraph SDL, as checked in at ``schema.graphql``."""
    return schema.as_str() + "\n"
