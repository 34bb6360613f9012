"""The service's error codes, and which code each domain error is: one table.

A client (or a federated gateway, which otherwise reports DOWNSTREAM_SERVICE_ERROR) needs
``extensions.code`` to decide what to do. The codes are the service's public vocabulary, used by
the GraphQL presenter (``app.schema.presenter``), by requests refused before GraphQL, and by
``/readyz``; so they live here, apart from GraphQL and from botocore.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from app.sagemaker import (
    AccessDenied,
    DeadlineExceeded,
    InvalidInput,
    NotFound,
    SageMakerError,
    Throttled,
    Unavailable,
)


class ErrorCode(StrEnum):
    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    THROTTLED = "THROTTLED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_ACCESS_DENIED = "UPSTREAM_ACCESS_DENIED"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"


# Domain error -> code. A domain error not listed (UnexpectedAnswer) is an internal error.
DOMAIN_CODES: dict[type[SageMakerError], ErrorCode] = {
    NotFound: ErrorCode.NOT_FOUND,
    InvalidInput: ErrorCode.BAD_USER_INPUT,
    Throttled: ErrorCode.THROTTLED,
    Unavailable: ErrorCode.UPSTREAM_UNAVAILABLE,
    AccessDenied: ErrorCode.UPSTREAM_ACCESS_DENIED,
    DeadlineExceeded: ErrorCode.DEADLINE_EXCEEDED,
}


def code_for(error: BaseException) -> ErrorCode:
    """The code a client sees for ``error``."""
    if isinstance(error, SageMakerError):
        return DOMAIN_CODES.get(type(error), ErrorCode.INTERNAL_SERVER_ERROR)
    return ErrorCode.INTERNAL_SERVER_ERROR


def error_document(message: str, code: ErrorCode) -> dict[str, Any]:
    """A GraphQL response body for a request refused before execution (bad JSON, too large)."""
    return {
        "errors": [{"message": message, "extensions": {"code": code.value, "retryable": False}}]
    }
