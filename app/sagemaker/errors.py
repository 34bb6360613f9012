"""The few ways a SageMaker lookup can fail, as a caller can act on them.

botocore reports failures as a zoo of classes and AWS error codes; a caller needs to know only
what happened (not found, bad input, throttled, unavailable, access denied, or something this
service does not understand), which lookup it was (the key), whether trying again may help, and,
where AWS answered, its error code and request id for a support case. :func:`from_botocore` sorts
botocore's failures into these errors, so nothing above the AWS package sees botocore.

These errors know nothing of GraphQL: the schema's presenter turns them into ``extensions``, and
they are plain values a cache may keep (a not-found answer is worth remembering briefly).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
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
from botocore.parsers import ResponseParserError

from app.errors import CodedError, ErrorCode

# How much of a bad value an error repeats: enough to recognise it (any valid name, alias or
# ARN fits whole), never the whole of a long one (a client that sends a megabyte of name must not
# get it back once per failed lookup).
SHOWN_CHARACTERS = 160


def shown(value: str) -> str:
    """``value`` as an error may repeat it: cut to a short prefix."""
    return value if len(value) <= SHOWN_CHARACTERS else value[:SHOWN_CHARACTERS] + "…"


class SageMakerError(CodedError):
    """A failed lookup: what was asked (``key``), and what AWS said, where it answered."""

    def __init__(
        self,
        message: str,
        *,
        key: Hashable | None = None,
        aws_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.aws_code = aws_code
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        return self.code.retryable


class NotFound(SageMakerError):
    """SageMaker has no such image, version or alias (``ResourceNotFound``)."""

    code = ErrorCode.NOT_FOUND


class InvalidInput(SageMakerError):
    """The input breaks a rule of the service model, found by our checks, botocore's or AWS's.

    ``field`` names the input member at fault in the AWS package's words (``image_name``,
    ``alias``, ...), with the ``value`` given, so a presenter can name it in its own words;
    the message then reads as ``field`` followed by ``problem``.
    """

    code = ErrorCode.BAD_USER_INPUT

    def __init__(
        self,
        problem: str,
        *,
        field: str | None = None,
        value: object = None,
        key: Hashable | None = None,
        aws_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        message = f"{field} {problem}" if field else problem
        super().__init__(message, key=key, aws_code=aws_code, request_id=request_id)
        self.problem = problem
        self.field = field
        self.value = value


class Throttled(SageMakerError):
    """SageMaker still throttles after botocore's retries."""

    code = ErrorCode.THROTTLED


class Unavailable(SageMakerError):
    """SageMaker could not be reached, timed out, or failed (5xx) after retries."""

    code = ErrorCode.UPSTREAM_UNAVAILABLE


class AccessDenied(SageMakerError):
    """AWS refuses the service's credentials, or there are none: an operator must act."""

    code = ErrorCode.UPSTREAM_ACCESS_DENIED


class DeadlineExceeded(SageMakerError):
    """SageMaker had not answered when the request's time ran out; the call was abandoned."""

    code = ErrorCode.DEADLINE_EXCEEDED


class UnexpectedAnswer(SageMakerError):
    """SageMaker answered with something this service does not know: an error code outside
    the table below, or a value outside the model the service was built with. A bug to the
    client (INTERNAL_SERVER_ERROR, with an errorId the log explains)."""


_THROTTLING_CODES = frozenset(
    (
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottledException",
    )
)
_DENIED_CODES = frozenset(
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
    )
)
_CREDENTIAL_FAILURES = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    TokenRetrievalError,
)

# Our wording where AWS's message is not meant for the people who read ours (it can name the
# account, the role or the endpoint); AWS's own words where they are written for API callers.
THROTTLED_MESSAGE = "SageMaker is throttling requests; retry after a short wait."
UNAVAILABLE_MESSAGE = "SageMaker could not be reached; retry later."
UNREADABLE_MESSAGE = "SageMaker answered with something this service cannot read."
DENIED_MESSAGE = (
    "SageMaker refused the service's AWS credentials; an operator must fix its permissions."
)


def from_botocore(error: Exception, key: Hashable | None) -> SageMakerError | None:
    """The domain error for a failure botocore raised while serving ``key``; None when it is
    not a SageMaker failure at all (a bug), which the caller lets propagate."""
    if isinstance(error, ParamValidationError):
        # botocore's report reads "Parameter validation failed:\n<one line per problem>".
        problem = " ".join(str(error).split("\n")[1:]) or "Invalid argument."
        return InvalidInput(problem, key=key)
    if isinstance(error, _CREDENTIAL_FAILURES):
        return AccessDenied(DENIED_MESSAGE, key=key)
    if isinstance(error, ConnectionError | HTTPClientError):
        return Unavailable(UNAVAILABLE_MESSAGE, key=key)
    if isinstance(error, ClientError):
        return _from_aws_answer(error.response, key)
    if isinstance(error, ResponseParserError):
        return UnexpectedAnswer(UNREADABLE_MESSAGE, key=key)
    return None


def _from_aws_answer(response: Mapping[str, Any], key: Hashable | None) -> SageMakerError:
    code = str(response.get("Error", {}).get("Code", ""))
    message = str(response.get("Error", {}).get("Message", "")) or "SageMaker refused the call."
    metadata = response.get("ResponseMetadata", {})
    facts: dict[str, Any] = {
        "key": key,
        "aws_code": code or None,
        "request_id": metadata.get("RequestId") or None,
    }
    if code == "ResourceNotFound":
        return NotFound(message, **facts)
    if code == "ValidationException":
        return InvalidInput(message, **facts)
    if code in _THROTTLING_CODES:
        return Throttled(THROTTLED_MESSAGE, **facts)
    if code in _DENIED_CODES:
        return AccessDenied(DENIED_MESSAGE, **facts)
    if int(metadata.get("HTTPStatusCode", 0)) >= 500:
        return Unavailable(UNAVAILABLE_MESSAGE, **facts)
    return UnexpectedAnswer(f"SageMaker answered with error code {code!r}.", **facts)
