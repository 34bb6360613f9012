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
    ConfigNotFound,
    ConfigParseError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    InvalidConfigError,
    InvalidIMDSEndpointError,
    InvalidIMDSEndpointModeError,
    LoginError,
    MetadataRetrievalError,
    MissingDependencyException,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    RefreshWithMFAUnsupportedError,
    SSOError,
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


# botocore's own lists of the codes that mean "throttled" and "failed for now", as its standard
# retry mode keeps them (ThrottledRetryableChecker and TransientRetryableChecker in
# botocore.retries.standard): what botocore retries, the service calls retryable. They are
# private there, so they are mirrored, and tests/unit/test_error_table_vs_botocore.py fails when
# an upgrade of botocore changes them. ``PriorRequestNotComplete`` is on both lists; as botocore's
# throttling detector does (its adaptive mode slows down for it), it counts as throttling.
_THROTTLING_CODES = frozenset(
    (
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    )
)
# STS's IDPCommunicationError (a web identity provider that did not answer STS) is retried by
# botocore in every mode (botocore.retries.special), so it is here too.
_TRANSIENT_CODES = frozenset(
    (
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "IDPCommunicationError",
    )
)
# A 429 whose code is none of the above is throttling too (botocore's ThrottlingStatusCodeChecker).
_TOO_MANY_REQUESTS = 429
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
# SageMaker's own errors that are neither of the above. ResourceInUse ("resource being accessed
# is in use": another change to it is under way) passes once that change ends, so a retry helps;
# it is UPSTREAM_UNAVAILABLE, not THROTTLED, because the caller's rate has nothing to do with it
# and slowing down (what THROTTLED asks) would not help. ResourceLimitExceeded is an account's
# quota: THROTTLED, retryable, as a quota on what runs at once frees up when it ends.
_IN_USE = "ResourceInUse"
_LIMIT_EXCEEDED = "ResourceLimitExceeded"

# Everything botocore raises while it finds, loads or refreshes the service's credentials: the
# default chain's providers (environment, shared files, assume-role, web identity, SSO,
# ``aws login``, credential process, container and instance metadata) and the config files they
# read. botocore has no one base class for these; whole families are named by their base
# (SSOError, LoginError, InvalidConfigError), so a new member of a family is covered, and
# tests/unit/test_error_table_vs_botocore.py reads botocore's credential code and fails if it raises
# anything this misses. Each needs an operator, and retrying the same request does not help.
_CREDENTIAL_FAILURES = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    RefreshWithMFAUnsupportedError,
    MetadataRetrievalError,
    InvalidIMDSEndpointError,
    InvalidIMDSEndpointModeError,
    TokenRetrievalError,
    SSOError,
    LoginError,
    InvalidConfigError,
    ProfileNotFound,
    ConfigNotFound,
    ConfigParseError,
    # Raised when an ``aws login`` profile needs a package that is not installed.
    MissingDependencyException,
)
# The calls botocore's credential providers make to get credentials (STS, SSO, SSO OIDC and
# ``aws login``'s sign-in service): an error answered to one of these is about the credentials,
# whatever its code (``InvalidIdentityToken``, ``RegionDisabledException``, ...), unless it is a
# throttle or an outage, which pass.
_CREDENTIAL_OPERATIONS = frozenset(
    (
        "AssumeRole",
        "AssumeRoleWithWebIdentity",
        "GetRoleCredentials",
        "CreateToken",
        "CreateOAuth2Token",
    )
)

# Our wording where AWS's message is not meant for the people who read ours (it can name the
# account, the role or the endpoint); AWS's own words where they are written for API callers.
THROTTLED_MESSAGE = "SageMaker is throttling requests; retry after a short wait."
QUOTA_MESSAGE = "SageMaker refused the call under an account quota; retry later."
UNAVAILABLE_MESSAGE = "SageMaker could not be reached or did not complete the call; retry later."
IN_USE_MESSAGE = "SageMaker is busy with this resource; retry later."
UNREADABLE_MESSAGE = "SageMaker answered with something this service cannot read."
DENIED_MESSAGE = (
    "SageMaker refused the service's AWS credentials; an operator must fix its permissions."
)
NO_CREDENTIALS_MESSAGE = (
    "The service could not get AWS credentials; an operator must fix its credential setup."
)


def from_botocore(error: Exception, key: Hashable | None) -> SageMakerError | None:
    """The domain error for a failure botocore raised while serving ``key``; None when it is
    not a SageMaker failure at all (a bug), which the caller lets propagate."""
    if isinstance(error, ParamValidationError):
        # botocore's report reads "Parameter validation failed:\n<one line per problem>".
        problem = " ".join(str(error).split("\n")[1:]) or "Invalid argument."
        return InvalidInput(problem, key=key)
    if isinstance(error, _CREDENTIAL_FAILURES):
        return AccessDenied(NO_CREDENTIALS_MESSAGE, key=key)
    if isinstance(error, ConnectionError | HTTPClientError):
        return Unavailable(UNAVAILABLE_MESSAGE, key=key)
    if isinstance(error, ClientError):
        return _from_aws_answer(error.response, error.operation_name, key)
    if isinstance(error, ResponseParserError):
        return UnexpectedAnswer(UNREADABLE_MESSAGE, key=key)
    return None


def _from_aws_answer(
    response: Mapping[str, Any], operation: str, key: Hashable | None
) -> SageMakerError:
    code = str(response.get("Error", {}).get("Code", ""))
    message = str(response.get("Error", {}).get("Message", "")) or "SageMaker refused the call."
    metadata = response.get("ResponseMetadata", {})
    status = int(metadata.get("HTTPStatusCode", 0))
    facts: dict[str, Any] = {
        "key": key,
        "aws_code": code or None,
        "request_id": metadata.get("RequestId") or None,
    }
    if code in _THROTTLING_CODES:
        return Throttled(THROTTLED_MESSAGE, **facts)
    if code in _TRANSIENT_CODES:
        return Unavailable(UNAVAILABLE_MESSAGE, **facts)
    if code in _DENIED_CODES:
        return AccessDenied(DENIED_MESSAGE, **facts)
    if operation in _CREDENTIAL_OPERATIONS and status < 500 and status != _TOO_MANY_REQUESTS:
        return AccessDenied(NO_CREDENTIALS_MESSAGE, **facts)
    if code == "ResourceNotFound":
        return NotFound(message, **facts)
    if code == "ValidationException":
        return InvalidInput(message, **facts)
    if code == _IN_USE:
        return Unavailable(IN_USE_MESSAGE, **facts)
    if code == _LIMIT_EXCEEDED:
        return Throttled(QUOTA_MESSAGE, **facts)
    if status == _TOO_MANY_REQUESTS:
        return Throttled(THROTTLED_MESSAGE, **facts)
    if status >= 500:
        return Unavailable(UNAVAILABLE_MESSAGE, **facts)
    return UnexpectedAnswer(f"SageMaker answered with error code {code!r}.", **facts)
