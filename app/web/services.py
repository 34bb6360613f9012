"""What the web room serves requests with: the services the app's lifespan starts, and the
context each request gets from them.

The app's lifespan yields :class:`Services` as Starlette's lifespan state, so every request and
WebSocket finds them on ``connection.state`` (:func:`services_of`): no handler holds a reference
to something that does not exist until the app has started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from starlette.requests import HTTPConnection

from app.cache.responses import ResponseCache
from app.loaders import Loaders
from app.sagemaker import SageMakerCalls
from app.sagemaker.targets import ServedTargets
from app.schema.context import RequestContext
from app.schema.limits import SchemaLimits
from app.watch import VersionWatch
from app.web.health import Readiness
from app.web.middleware import log_fields
from app.web.persisted_queries import PersistedQueries

# What a federation gateway sends to have an operation's resolver timings (Apollo's ftv1).
FEDERATED_TRACE_HEADER = "apollo-federation-include-trace"


@dataclass(frozen=True)
class Services:
    """What requests use, from the app's start to its stop."""

    # SageMaker's calls, through the record cache when it is on.
    sagemaker: SageMakerCalls
    responses: ResponseCache | None
    persisted: PersistedQueries
    watch: VersionWatch
    readiness: Readiness
    targets: ServedTargets


class State(TypedDict):
    """The app's lifespan state."""

    services: Services


def services_of(connection: HTTPConnection) -> Services:
    services: Services = connection.state.services
    return services


@dataclass(frozen=True)
class RequestContexts:
    """Makes each request's context: fresh loaders (their memo is this request's, never another
    user's; their deadline ``request_timeout`` seconds from now), the schema's limits, the shared
    version watch, the request's log line, and whether a federation gateway asked for its trace
    (over HTTP, as gateways ask)."""

    limits: SchemaLimits
    request_timeout: float

    def __call__(self, connection: HTTPConnection) -> RequestContext:
        services = services_of(connection)
        return RequestContext(
            loaders=Loaders(services.sagemaker, self.request_timeout),
            limits=self.limits,
            targets=services.targets,
            watch=services.watch,
            log_fields=log_fields(connection.scope),
            federated_trace=connection.scope["type"] == "http"
            and wants_federated_trace(connection.headers.get(FEDERATED_TRACE_HEADER)),
        )


def wants_federated_trace(asked: str | None) -> bool:
    """Whether a gateway asks for a request's federated trace (``extensions.ftv1``), the
    request's :data:`FEDERATED_TRACE_HEADER` being ``asked``."""
    return (asked or "").lower() == "ftv1"
