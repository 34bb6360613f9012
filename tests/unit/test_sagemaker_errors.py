"""botocore's failures sorted into the domain errors, one case per row of the table."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from app.sagemaker import (
    AccessDenied,
    ImageKey,
    InvalidInput,
    NotFound,
    SageMakerError,
    Throttled,
    Unavailable,
    UnexpectedAnswer,
)
from app.sagemaker.errors import from_botocore

KEY = ImageKey("img")


def _answer(code: str, status: int, message: str = "AWS says no") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {
                "RequestId": "req-1",
                "HTTPStatusCode": status,
                "HTTPHeaders": {},
                "HostId": "",
                "RetryAttempts": 0,
            },
        },
        "DescribeImage",
    )


@pytest.mark.parametrize(
    ("error", "expected", "retryable"),
    [
        (_answer("ResourceNotFound", 400), NotFound, False),
        (_answer("ValidationException", 400), InvalidInput, False),
        (_answer("ThrottlingException", 400), Throttled, True),
        (_answer("UnrecognizedClientException", 400), AccessDenied, False),
        (_answer("InternalFailure", 500), Unavailable, True),
        (_answer("SomethingNew", 400), UnexpectedAnswer, False),
    ],
)
def test_aws_answers_keep_their_code_request_id_and_key(
    error: ClientError, expected: type[SageMakerError], retryable: bool
) -> None:
    failure = from_botocore(error, KEY)
    assert type(failure) is expected
    assert failure.retryable is retryable
    assert (failure.key, failure.aws_code, failure.request_id) == (
        KEY,
        error.response["Error"]["Code"],
        "req-1",
    )


def test_only_callers_messages_of_aws_are_passed_on() -> None:
    assert str(
        from_botocore(_answer("ResourceNotFound", 400, "Image img does not exist"), KEY)
    ) == ("Image img does not exist")
    denied = from_botocore(_answer("AccessDeniedException", 400, "role arn:aws:iam::1:x"), KEY)
    assert "arn:aws:iam" not in str(denied)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ParamValidationError(report="Invalid type for parameter Version"), InvalidInput),
        (NoCredentialsError(), AccessDenied),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), Unavailable),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), Unavailable),
    ],
)
def test_botocores_own_failures(error: Exception, expected: type[SageMakerError]) -> None:
    failure = from_botocore(error, KEY)
    assert type(failure) is expected
    assert "127.0.0.1" not in str(failure)


def test_anything_else_is_not_a_sagemaker_failure() -> None:
    assert from_botocore(KeyError("bug"), KEY) is None
