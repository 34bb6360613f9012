"""What every resolver gets as ``info.context``: this request's loaders, the service's settings
(its limits) and the request's log line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from app.loaders import Loaders
from app.settings import Settings


@dataclass
class RequestContext:
    loaders: Loaders
    settings: Settings
    # Facts for the request's log line (operation name, error codes); see app.middleware.
    log_fields: dict[str, Any] = field(default_factory=dict)


Info = StrawberryInfo[RequestContext, None]
