"""Every failure becomes a GraphQL error a client can act on: one table, one place.

A client (or a federated gateway, which otherwise reports DOWNSTREAM_SERVICE_ERROR) needs
``extensions.code`` to decide what to do, ``retryable`` to know whether trying again can help,
the ``imageName``/``version``/``alias`` it asked for to tell which of many lookups failed, and,
where AWS answered, ``awsErrorCode`` and ``awsRequestId`` for a support case.

No message or extension carries a stack trace, a credential, an endpoint URL or a botocore
internal: AWS's own messages for NOT_FOUND and BAD_USER_INPUT are written for API callers and are
passed on; everything else gets our wording. An unexpected failure is logged with a fresh
``errorId`` that the client also receives, so an operator can find the traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    TokenRetrievalError,
)
from graphql import GraphQLError

log = logging.getLogger("app.errors")


class ErrorCode(StrEnum):
    BAD_REQUEST = "BAD_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    THROTTLED = "THROTTLED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_ACCESS_DENIED = "UPSTREAM_ACCESS_DENIED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class InvalidInput(ValueError):
    """An argument broke a rule the service checks itself, before any call to AWS."""


@dataclass(frozen=True)
class _Outcome:
    code: ErrorCode
    retryable: bool
    message: str | None  # None: pass AWS's own message on


_NOT_FOUND = _Outcome(ErrorCode.NOT_FOUND, retryable=False, message=None)
_BAD_INPUT = _Outcome(ErrorCode.BAD_USER_INPUT, retryable=False, message=None)
_THROTTLED = _Outcome(
    ErrorCode.THROTTLED, True, "SageMaker is throttling requests; retry after a short wait."
)
_UNAVAILABLE = _Outcome(
    ErrorCode.UPSTREAM_UNAVAILABLE, True, "SageMaker could not be reached; retry later."
)
_DENIED = _Outcome(
    ErrorCode.UPSTREAM_ACCESS_DENIED,
    False,
    "SageMaker refused the service's AWS credentials; an operator must fix its permissions.",
)

# The table: AWS error codes (botocore's ``Error.Code``) -> outcome.
AWS_ERROR_CODES: Mapping[str, _Outcome] = {
    "ResourceNotFound": _NOT_FOUND,
    "ValidationException": _BAD_INPUT,
    **dict.fromkeys(
        (
            "ThrottlingException",
            "Throttling",
            "ThrottledException",
            "RequestLimitExceeded",
            "TooManyRequestsException",
            "RequestThrottledException",
        ),
        _THROTTLED,
    ),
    **dict.fromkeys(
        (
            "AccessDenied",
            "AccessDeniedException",
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidSignatureException",
            "SignatureDoesNotMatch",
            "MissingAuthenticationTokenException",
            "IncompleteSignature",
        ),
        _DENIED,
    ),
}


class reported_as_graphql_errors:  # noqa: N801 - used as a statement: `with reported_as...`
    """Raise any failure inside the ``with`` block as its GraphQL error, carrying ``asked``."""

    def __init__(self, asked: Mapping[str, Any]) -> None:
        self.asked = asked

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Returning None (never True) also tells type checkers that nothing is swallowed.
        if isinstance(error, Exception):
            raise to_graphql_error(error, self.asked) from None


def to_graphql_error(error: BaseException, asked: Mapping[str, Any]) -> GraphQLError:
    """The GraphQL error for ``error``, raised while serving the arguments in ``asked``
    (``{"imageName": ..., "version": ..., "alias": ...}``; None values are left out)."""
    if isinstance(error, GraphQLError) and _code_of(error):
        return error
    facts = {key: value for key, value in asked.items() if value is not None}
    outcome, aws = _classify(error)
    if outcome is None:
        return _internal(error, facts)
    if outcome.code in (ErrorCode.UPSTREAM_ACCESS_DENIED, ErrorCode.UPSTREAM_UNAVAILABLE):
        log.warning({"event": "upstream_failure", "code": outcome.code, **aws, **facts})
    message = outcome.message or _safe_message(error)
    extensions = {"code": outcome.code.value, "retryable": outcome.retryable, **facts, **aws}
    return GraphQLError(message, extensions=extensions)


def _classify(error: BaseException) -> tuple[_Outcome | None, dict[str, Any]]:
    """The outcome for ``error`` and, where AWS answered, its error code and request id."""
    if isinstance(error, InvalidInput | ParamValidationError):
        return _BAD_INPUT, {}
    if isinstance(
        error,
        NoCredentialsError
        | PartialCredentialsError
        | CredentialRetrievalError
        | TokenRetrievalError,
    ):
        return _DENIED, {}
    if isinstance(error, ConnectionError | HTTPClientError):
        return _UNAVAILABLE, {}
    if isinstance(error, ClientError):
        response: Any = error.response
        aws_code = str(response.get("Error", {}).get("Code", ""))
        metadata = response.get("ResponseMetadata", {})
        aws = {"awsErrorCode": aws_code, "awsRequestId": metadata.get("RequestId")}
        outcome = AWS_ERROR_CODES.get(aws_code)
        if outcome is None and int(metadata.get("HTTPStatusCode", 0)) >= 500:
            outcome = _UNAVAILABLE
        return outcome, {k: v for k, v in aws.items() if v}
    return None, {}


def _safe_message(error: BaseException) -> str:
    if isinstance(error, ClientError):
        message = str(error.response.get("Error", {}).get("Message", ""))
        return message or "SageMaker rejected the request."
    if isinstance(error, ParamValidationError):
        # botocore's report reads "Parameter validation failed:\n<one line per problem>".
        return " ".join(str(error).split("\n")[1:]) or "Invalid argument."
    return str(error)


def _internal(error: BaseException, facts: Mapping[str, Any]) -> GraphQLError:
    error_id = uuid.uuid4().hex
    log.error(
        {"event": "unexpected_error", "errorId": error_id, **facts},
        exc_info=(type(error), error, error.__traceback__),
    )
    return GraphQLError(
        f"Internal server error. Quote errorId {error_id} when reporting it.",
        extensions={
            "code": ErrorCode.INTERNAL_SERVER_ERROR.value,
            "retryable": False,
            "errorId": error_id,
            **facts,
        },
    )


def error_document(message: str, code: ErrorCode) -> dict[str, Any]:
    """A GraphQL response body for a request refused before execution (bad JSON, too large)."""
    return {"errors": [{"message": message, "extensions": {"code": code.value}}]}


def _code_of(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return str(code) if code else None


def with_code(error: GraphQLError) -> GraphQLError:
    """``error`` as the client will see it: with an ``extensions.code`` whatever raised it.

    Errors that graphql-core made itself (no original error) are about the document: a syntax
    error, a validation failure, or a variable that could not be coerced. Any other error that
    reached the response without a code escaped our resolvers' mapping and is mapped (and, if it
    is unexpected, masked and logged) here.
    """
    if _code_of(error):
        return error
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        mapped = to_graphql_error(original, {})
        return GraphQLError(
            mapped.message,
            nodes=error.nodes,
            path=error.path,
            extensions=mapped.extensions,
        )
    if error.message.startswith("Syntax Error"):
        code = ErrorCode.GRAPHQL_PARSE_FAILED
    elif error.message.startswith("Variable '$"):
        code = ErrorCode.BAD_USER_INPUT
    else:
        code = ErrorCode.GRAPHQL_VALIDATION_FAILED
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code.value},
    )
