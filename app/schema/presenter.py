"""Every error of an operation as its client sees it: a message and ``extensions``.

The schema's error hook (``SubgraphSchema.process_errors``) passes the errors of every operation
through :func:`present_all`, so ``schema.execute()`` gives exactly what HTTP gives. What a client
gets:

* ``code`` (see ``app.errors``) and ``retryable``, to decide what to do;
* what it asked for (``imageName``, ``version``, ``alias``, ``imageVersionArn``), to tell which
  of many lookups failed, cut to a short prefix so a huge bad value is not echoed back in full;
* where AWS answered, ``awsErrorCode`` and ``awsRequestId`` for a support case;
* for anything unexpected, a generic message and an ``errorId`` that the log prints beside the
  traceback. No message or extension carries a stack trace, a credential or an endpoint URL.

An operation gives at most ``max_errors`` of them (:func:`present_all`): 50 aliases of
``imageVersions`` with 100 bad refs each are 5,000 errors, a 1.3 MB answer to a 4 KB request. The
rest are left out, with one TOO_MANY_ERRORS error that says how many, and are not presented
(building each again is most of what presenting costs), except that an unexpected one is still
logged: a bug must not hide behind the client's own mistakes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Hashable
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError

from app.errors import ErrorCode, code_for, extension
from app.sagemaker import (
    ImageKey,
    ImageVersionKey,
    ImageVersionsPage,
    InvalidInput,
    SageMakerError,
)
from app.sagemaker.errors import shown
from app.sagemaker.targets import NotServed, Target

log = logging.getLogger("app.schema.presenter")

# The AWS package's names for the inputs it checks -> the GraphQL arguments they come from.
ARGUMENTS = {
    "image_name": "imageName",
    "version": "version",
    "alias": "alias",
    "name_contains": "nameContains",
    "image_version_arn": "imageVersionArn",
    "image_arn": "imageArn",
}


def bad_user_input(message: str, **facts: Any) -> GraphQLError:
    """An error about an argument that only the schema knows (``first``, ``after``, ``refs``,
    a representation), raised by a resolver or an extension."""
    return GraphQLError(message, extensions=extension(ErrorCode.BAD_USER_INPUT, **facts))


def present_all(errors: list[GraphQLError], max_errors: int) -> list[GraphQLError]:
    """``errors`` as the client will see them: the first ``max_errors`` presented, then, for the
    rest, one error that says how many were left out (module docstring)."""
    presented = [present(error) for error in errors[:max_errors]]
    left_out = errors[max_errors:]
    if not left_out:
        return presented
    for error in left_out:
        if _unexpected(error):
            present(error)
    presented.append(
        GraphQLError(
            f"{len(left_out)} more errors were left out: a response carries at most {max_errors}."
            " Ask for fewer refs or fields at once to see them all.",
            extensions=extension(
                ErrorCode.TOO_MANY_ERRORS, maxErrors=max_errors, errorsLeftOut=len(left_out)
            ),
        )
    )
    return presented


def present(error: GraphQLError) -> GraphQLError:
    """``error`` as the client will see it: with an ``extensions.code`` whatever raised it."""
    if error.extensions and error.extensions.get("code"):
        return error
    original = error.original_error
    refused = _refused_before_execution(original)
    if refused is not None:
        return refused
    if _unexpected(error):
        cause = (
            original if original is not None and not isinstance(original, GraphQLError) else error
        )
        return _internal(error, cause)
    if original is None or isinstance(original, GraphQLError):
        return _about_the_document(error)
    code = code_for(original)
    facts = _asked(original)
    if isinstance(original, SageMakerError):
        if original.aws_code:
            facts["awsErrorCode"] = original.aws_code
        if original.request_id:
            facts["awsRequestId"] = original.request_id
    return GraphQLError(
        _message(original), nodes=error.nodes, path=error.path, extensions=extension(code, **facts)
    )


def unknown_operation(operation_name: str | None) -> GraphQLError:
    """The document has no operation of that name (or, unnamed, none at all)."""
    if operation_name is None:
        message = "The document has no operation to run."
    else:
        message = f'Unknown operation named "{operation_name}".'
    return GraphQLError(message, extensions=extension(ErrorCode.GRAPHQL_VALIDATION_FAILED))


def _refused_before_execution(original: BaseException | None) -> GraphQLError | None:
    """What strawberry refuses before it runs anything (an empty query, no operation of the
    name asked), as a coded error. Over HTTP the endpoint answers these itself; over WebSocket
    they arrive here."""
    if isinstance(original, MissingQueryError):
        return GraphQLError(
            "The request needs a `query`: a GraphQL document as a string.",
            extensions=extension(ErrorCode.BAD_REQUEST),
        )
    if isinstance(original, CannotGetOperationTypeError):
        return unknown_operation(original.operation_name)
    return None


def _unexpected(error: GraphQLError) -> bool:
    """Whether ``error`` is a bug of ours: an exception without a code of its own, or
    graphql-core's complaint about a value during execution (it has a path: our resolver's
    value, not the client's)."""
    if error.extensions and error.extensions.get("code"):
        return False
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return not isinstance(error, GraphQLSyntaxError) and error.path is not None
    return code_for(original) is ErrorCode.INTERNAL_SERVER_ERROR


def _about_the_document(error: GraphQLError) -> GraphQLError:
    """An error graphql-core made itself (or from its own, as when a scalar refuses a
    variable), and not about a value during execution (:func:`_unexpected`). Validation errors
    are coded where validation runs (``app.schema.documents``); what is left is a syntax error
    or a variable that cannot be coerced (no path: before execution)."""
    if isinstance(error, GraphQLSyntaxError):
        code = ErrorCode.GRAPHQL_PARSE_FAILED
    else:
        code = ErrorCode.BAD_USER_INPUT
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), **extension(code)},
    )


def _message(error: Exception) -> str:
    if isinstance(error, InvalidInput) and error.field:
        return f"{ARGUMENTS.get(error.field, error.field)} {error.problem}"
    return str(error)


def _asked(error: BaseException) -> dict[str, Any]:
    """What the failed lookup asked for, in the client's words."""
    if not isinstance(error, SageMakerError):
        return {}
    asked = _key_facts(error.key)
    if isinstance(error, InvalidInput) and error.field and error.value is not None:
        asked.setdefault(ARGUMENTS.get(error.field, error.field), error.value)
    if isinstance(error, NotServed):
        asked["region"], asked["account"] = error.region, error.account
    return {
        name: shown(value) if isinstance(value, str) else value for name, value in asked.items()
    }


def _key_facts(key: Hashable | None) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if isinstance(key, ImageVersionKey):
        facts["imageName"] = key.image_name
        if key.version is not None:
            facts["version"] = key.version
        if key.alias is not None:
            facts["alias"] = key.alias
    elif isinstance(key, ImageKey | ImageVersionsPage):
        facts["imageName"] = key.image_name
    target = getattr(key, "target", None)
    if isinstance(target, Target):
        facts["region"], facts["account"] = target.region, target.account
    return facts


def _internal(error: GraphQLError, original: Exception) -> GraphQLError:
    error_id = uuid.uuid4().hex
    asked = _asked(original)
    log.error(
        {"event": "unexpected_error", "errorId": error_id, "path": error.path, **asked},
        exc_info=(type(original), original, original.__traceback__),
    )
    return GraphQLError(
        f"Internal server error. Quote errorId {error_id} when reporting it.",
        nodes=error.nodes,
        path=error.path,
        extensions=extension(ErrorCode.INTERNAL_SERVER_ERROR, errorId=error_id, **asked),
    )
