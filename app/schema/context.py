"""What every resolver gets as ``info.context``: this request's loaders (and through them its
ledger), the schema's limits, the shared version watch (subscriptions) and the request's log
line."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from strawberry.types import Info as StrawberryInfo

from app.ledger import Ledger
from app.loaders import Loaders
from app.schema.limits import SchemaLimits
from app.watch import VersionWatch


@dataclass
class RequestContext:
    loaders: Loaders
    limits: SchemaLimits
    watch: VersionWatch | None = None
    # Facts for the request's log line (operation name, error codes); see app.web.middleware.
    log_fields: dict[str, Any] = field(default_factory=dict)
    # What a WebSocket client sent in connection_init (strawberry fills it in).
    connection_params: dict[str, Any] | None = None

    @property
    def ledger(self) -> Ledger:
        """What the request cost, noted by everything its loaders called."""
        return self.loaders.ledger

    def for_operation(self) -> RequestContext:
        """This context for one more operation on the same connection: fresh loaders (their own
        memo, deadline and ledger) and a log line of its own. A WebSocket runs many operations
        over one connection; sharing its loaders would serve old answers and, once the first
        deadline passed, fail every new lookup."""
        return replace(self, loaders=self.loaders.renewed(), log_fields=dict(self.log_fields))


Info = StrawberryInfo[RequestContext, None]
