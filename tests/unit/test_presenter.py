"""The presenter: domain errors in the client's words, never echoing a huge value whole."""

from __future__ import annotations

import logging

import pytest
from graphql import GraphQLError, GraphQLSyntaxError, Source

from app.sagemaker import ImageVersionKey, InvalidInput, NotFound, Throttled, UnexpectedAnswer
from app.schema.presenter import bad_user_input, present, present_all


def _presented(error: Exception) -> GraphQLError:
    return present(GraphQLError(str(error), path=["imageVersion"], original_error=error))


def test_an_invalid_field_is_named_as_the_argument_it_came_from() -> None:
    with pytest.raises(InvalidInput) as raised:
        ImageVersionKey.of("ok", None, "-bad")
    presented = _presented(raised.value)
    assert presented.message.startswith("alias '-bad' is not valid")
    assert presented.extensions == {
        "code": "BAD_USER_INPUT",
        "retryable": False,
        "imageName": "ok",
        "alias": "-bad",
    }


def test_echoed_values_are_cut_to_a_short_prefix() -> None:
    huge = "x" * 200_000
    with pytest.raises(InvalidInput) as raised:
        ImageVersionKey.of(huge, None, None)
    presented = _presented(raised.value)
    assert len(str(presented.formatted)) < 1_000
    assert presented.extensions is not None
    assert presented.extensions["imageName"] == "x" * 160 + "…"


def test_aws_facts_and_retryable_come_through() -> None:
    key = ImageVersionKey("img", 3)
    presented = _presented(
        Throttled("slow down", key=key, aws_code="ThrottlingException", request_id="r")
    )
    assert presented.extensions == {
        "code": "THROTTLED",
        "retryable": True,
        "imageName": "img",
        "version": 3,
        "awsErrorCode": "ThrottlingException",
        "awsRequestId": "r",
    }
    assert _presented(NotFound("gone", key=key)).path == ["imageVersion"]


def test_the_unexpected_is_masked_and_logged_with_its_id(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="app.schema.presenter"):
        presented = _presented(UnexpectedAnswer("secret detail", key=ImageVersionKey("img", 1)))
        masked = _presented(KeyError("internal"))
    for error in (presented, masked):
        assert error.extensions is not None
        assert error.extensions["code"] == "INTERNAL_SERVER_ERROR"
        assert error.extensions["errorId"] in error.message
        assert "secret" not in error.message
        assert "internal" not in error.message
    assert presented.extensions is not None
    assert presented.extensions["imageName"] == "img"
    assert [record.msg["errorId"] for record in caplog.records if isinstance(record.msg, dict)] == [
        error.extensions["errorId"] for error in (presented, masked) if error.extensions
    ]


def test_coded_errors_pass_through_and_document_errors_get_codes() -> None:
    coded = bad_user_input("first must be from 1 to 100, not 0.")
    assert present(coded) is coded
    syntax = GraphQLSyntaxError(Source("{"), 1, "Expected Name, found <EOF>.")
    assert present(syntax).extensions == {"code": "GRAPHQL_PARSE_FAILED", "retryable": False}
    variable = GraphQLError("Variable '$n' got invalid value 'x'; Int cannot represent it.")
    assert present(variable).extensions == {"code": "BAD_USER_INPUT", "retryable": False}


def test_errors_past_the_budget_are_counted_and_an_unexpected_one_still_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = [_raw(InvalidInput("is not valid", field="image_name", value="-")) for _ in range(4)]
    bug = _raw(KeyError("internal"))
    with caplog.at_level(logging.ERROR, logger="app.schema.presenter"):
        presented = present_all([*bad, bug], max_errors=2)
    assert [error.extensions["code"] for error in presented if error.extensions] == [
        "BAD_USER_INPUT",
        "BAD_USER_INPUT",
        "TOO_MANY_ERRORS",
    ]
    assert presented[-1].extensions == {
        "code": "TOO_MANY_ERRORS",
        "retryable": False,
        "maxErrors": 2,
        "errorsLeftOut": 3,
    }
    assert "3 more errors" in presented[-1].message
    [logged] = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    assert logged["event"] == "unexpected_error"
    assert [error.formatted for error in present_all(bad, max_errors=4)] == [
        present(error).formatted for error in bad
    ]


def _raw(error: Exception) -> GraphQLError:
    return GraphQLError(str(error), path=["imageVersions", 0], original_error=error)
