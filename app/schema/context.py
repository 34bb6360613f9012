"""What every resolver gets as ``info.context``: this request's loaders (and through them its
ledger), the schema's limits, the targets served, the shared version watch (subscriptions) and
the request's log line."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from graphql import GraphQLError
from strawberry.types import Info as StrawberryInfo

from app.ledger import Ledger
from app.loaders import Loaders
from app.sagemaker.targets import ServedTargets
from app.schema.limits import SchemaLimits
from app.watch import VersionWatch


@dataclass
class RequestContext:
    loaders: Loaders
    limits: SchemaLimits
    # The regions and accounts a lookup may name, and the one it goes to when it names none.
    targets: ServedTargets
    watch: VersionWatch | None = None
    # Facts for the request's log line (operation name, error codes); see app.web.middleware.
    log_fields: dict[str, Any] = field(default_factory=dict)
    # What a WebSocket client sent in connection_init (strawberry fills it in).
    connection_params: dict[str, Any] | None = None
    # Errors of a field that still answered (a listing across targets that lost one of them):
    # added to the response's errors with the field's path (app.schema.SubgraphSchema).
    partial_errors: list[GraphQLError] = field(default_factory=list)
    # Whether a federation gateway asked for this operation's resolver timings (its
    # `apollo-federation-include-trace: ftv1` header): app.schema.tracing.
    federated_trace: bool = False

    @property
    def ledger(self) -> Ledger:
        """What the request cost, noted by everything its loaders called."""
        return self.loaders.ledger

    def for_operation(self) -> RequestContext:
        """This context for one more operation on the same connection: fresh loaders (their own
        memo, deadline and ledger) and a log line of its own. A WebSocket runs many operations
        over one connection; sharing its loaders would serve old answers and, once the first
        deadline passed, fail every new lookup."""
        return replace(
            self,
            loaders=self.loaders.renewed(),
            log_fields=dict(self.log_fields),
            partial_errors=[],
        )


Info = StrawberryInfo[RequestContext, None]
