"""What every resolver gets as ``info.context``: this request's loaders and its log line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from app.loaders import Loaders


@dataclass
class RequestContext:
    loaders: Loaders
    # Facts for the request's log line (operation name, error codes); see app.middleware.
    log_fields: dict[str, Any] = field(default_factory=dict)


Info = StrawberryInfo[RequestContext, None]
