"""The error table against botocore's own knowledge, read from the installed botocore: every code
its retry modes retry is retryable here, and every exception its credential code raises is
UPSTREAM_ACCESS_DENIED. An upgrade of botocore that adds a code or a credential failure fails
here, instead of reaching clients as INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import ast
import inspect
import json
import string
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, cast

import botocore
import botocore.configloader
import botocore.credentials
import botocore.exceptions
import botocore.session
import botocore.tokens
import botocore.utils
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries import standard
from botocore.retries.special import RetryIDPCommunicationError

from app.errors import ErrorCode
from app.sagemaker import ImageKey
from app.sagemaker import errors as table
from app.sagemaker.errors import from_botocore

KEY = ImageKey("img")


def _botocores(owner: object, name: str) -> Any:
    """A private member of botocore's retry code (its type stubs leave them out)."""
    return vars(owner)[name]


# What botocore's standard mode (and adaptive, which uses its checkers) retries. Private lists:
# the table mirrors them, and these tests say when they drift apart.
THROTTLING_CODES = sorted(_botocores(standard.ThrottledRetryableChecker, "_THROTTLED_ERROR_CODES"))
TRANSIENT_ERROR_CODES = _botocores(standard.TransientRetryableChecker, "_TRANSIENT_ERROR_CODES")
TRANSIENT_CODES = sorted(set(TRANSIENT_ERROR_CODES) - set(THROTTLING_CODES))
TRANSIENT_STATUSES = _botocores(standard.TransientRetryableChecker, "_TRANSIENT_STATUS_CODES")
THROTTLING_STATUSES = _botocores(
    _botocores(standard, "ThrottlingStatusCodeChecker"), "_THROTTLING_STATUS_CODES"
)
# STS's, retried by botocore's special case (botocore.retries.special) in every mode.
IDP_COMMUNICATION_ERROR = "IDPCommunicationError"
# Legacy mode's table: the general policies every service gets.
LEGACY_RETRY = json.loads((Path(botocore.__file__).parent / "data" / "_retry.json").read_text())
LEGACY_ANSWERS = sorted(
    (
        policy["applies_when"]["response"].get("service_error_code", ""),
        policy["applies_when"]["response"]["http_status_code"],
    )
    for policy in LEGACY_RETRY["definitions"].values()
    if "response" in policy["applies_when"]
)


def _answer(code: str, status: int, operation: str = "DescribeImage") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "AWS says so"},
            "ResponseMetadata": {
                "RequestId": "req-1",
                "HTTPStatusCode": status,
                "HTTPHeaders": {},
                "HostId": "",
                "RetryAttempts": 0,
            },
        },
        operation,
    )


@pytest.mark.parametrize("code", THROTTLING_CODES)
def test_botocores_throttling_codes_are_throttled_and_retryable(code: str) -> None:
    failure = from_botocore(_answer(code, 400), KEY)
    assert failure is not None
    assert (failure.code, failure.retryable, failure.aws_code) == (ErrorCode.THROTTLED, True, code)


@pytest.mark.parametrize("code", [*TRANSIENT_CODES, IDP_COMMUNICATION_ERROR])
def test_botocores_transient_codes_are_unavailable_and_retryable(code: str) -> None:
    failure = from_botocore(_answer(code, 400), KEY)
    assert failure is not None
    assert (failure.code, failure.retryable) == (ErrorCode.UPSTREAM_UNAVAILABLE, True)


@pytest.mark.parametrize("status", THROTTLING_STATUSES)
def test_a_throttling_status_with_a_code_nobody_knows_is_throttled(status: int) -> None:
    failure = from_botocore(_answer("SomethingNew", status), KEY)
    assert failure is not None
    assert (failure.code, failure.retryable) == (ErrorCode.THROTTLED, True)


@pytest.mark.parametrize("status", TRANSIENT_STATUSES)
def test_botocores_transient_statuses_are_retryable(status: int) -> None:
    failure = from_botocore(_answer("SomethingNew", status), KEY)
    assert failure is not None
    assert failure.retryable


@pytest.mark.parametrize(("code", "status"), LEGACY_ANSWERS)
def test_what_legacy_mode_retries_is_retryable(code: str, status: int) -> None:
    failure = from_botocore(_answer(code, status), KEY)
    assert failure is not None
    assert failure.retryable


def test_the_mirrored_lists_are_botocores() -> None:
    """The table's copies equal botocore's lists: a code botocore drops goes from here too."""
    assert set(THROTTLING_CODES) == table._THROTTLING_CODES
    assert {
        *TRANSIENT_ERROR_CODES,
        IDP_COMMUNICATION_ERROR,
    } == table._TRANSIENT_CODES
    sts_answer = SimpleNamespace(
        operation_model=SimpleNamespace(service_model=SimpleNamespace(service_name="sts")),
        get_error_code=lambda: IDP_COMMUNICATION_ERROR,
    )
    assert RetryIDPCommunicationError().is_retryable(cast(standard.RetryContext, sts_answer))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ResourceInUse", ErrorCode.UPSTREAM_UNAVAILABLE),
        ("ResourceLimitExceeded", ErrorCode.THROTTLED),
    ],
)
def test_sagemakers_passing_troubles_are_retryable(code: str, expected: ErrorCode) -> None:
    failure = from_botocore(_answer(code, 400), KEY)
    assert failure is not None
    assert (failure.code, failure.retryable, failure.aws_code) == (expected, True, code)


# --- Credentials -------------------------------------------------------------------------------

# Raised only to code that edits botocore's provider chains by name, which this service never does:
# a bug, not a credential failure.
CHAIN_EDITING_ERRORS = {"UnknownCredentialError", "UnknownTokenProviderError"}


def _raised_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(raised, ast.Name):
                names.add(raised.id)
            elif isinstance(raised, ast.Attribute):
                names.add(raised.attr)
    return names


def _tree(module: ModuleType) -> ast.Module:
    return ast.parse(inspect.getsource(module))


def _used_from_utils() -> Iterator[ast.AST]:
    """The classes and functions of botocore.utils that the credential modules use, with the
    classes they derive from there (the metadata fetchers' base)."""
    imported: set[str] = set()
    for module in (botocore.credentials, botocore.tokens):
        for node in ast.walk(_tree(module)):
            if isinstance(node, ast.ImportFrom) and node.module == "botocore.utils":
                imported |= {alias.name for alias in node.names}
    definitions = {
        node.name: node
        for node in _tree(botocore.utils).body
        if isinstance(node, ast.ClassDef | ast.FunctionDef)
    }
    pending = [name for name in imported if name in definitions]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        definition = definitions[name]
        yield definition
        if isinstance(definition, ast.ClassDef):
            pending += [base.id for base in definition.bases if isinstance(base, ast.Name)]
            pending = [name for name in pending if name in definitions]


def credential_failures() -> list[type[BotoCoreError]]:
    """Every botocore exception that botocore's credential code raises: botocore.credentials,
    botocore.tokens, the config loader, and what they use of botocore.utils."""
    names: set[str] = set()
    for module in (botocore.credentials, botocore.tokens, botocore.configloader):
        names |= _raised_names(_tree(module))
    for definition in _used_from_utils():
        names |= _raised_names(definition)
    classes = set()
    for name in names - CHAIN_EDITING_ERRORS:
        found = getattr(botocore.exceptions, name, None) or getattr(botocore.utils, name, None)
        if isinstance(found, type) and issubclass(found, BotoCoreError):
            classes.add(found)
    return sorted(classes, key=lambda kind: kind.__name__)


def _instance(kind: type[BotoCoreError]) -> BotoCoreError:
    """An instance of ``kind`` with every field its message names filled in."""
    fields = {name for _, name, _, _ in string.Formatter().parse(kind.fmt) if name}
    return kind(**{field: f"<{field}>" for field in fields})


# The ones named in the brief of this table, so a change in how they are found cannot lose them.
NAMED = {
    "SSOError",
    "SSOTokenLoadError",
    "UnauthorizedSSOTokenError",
    "ProfileNotFound",
    "InvalidConfigError",
    "CredentialRetrievalError",
    "RefreshWithMFAUnsupportedError",
    "InfiniteLoopConfigError",
    "MetadataRetrievalError",
    "NoCredentialsError",
    "PartialCredentialsError",
    "TokenRetrievalError",
}


def _named(name: str) -> type[BotoCoreError]:
    kind: type[BotoCoreError] = getattr(botocore.exceptions, name)
    return kind


CREDENTIAL_FAILURES = sorted(
    {*credential_failures(), *(_named(name) for name in NAMED)}, key=lambda kind: kind.__name__
)


@pytest.mark.parametrize(
    "kind", CREDENTIAL_FAILURES, ids=[kind.__name__ for kind in CREDENTIAL_FAILURES]
)
def test_every_credential_failure_is_upstream_access_denied(kind: type[BotoCoreError]) -> None:
    failure = from_botocore(_instance(kind), KEY)
    assert failure is not None
    assert (failure.code, failure.retryable, failure.key) == (
        ErrorCode.UPSTREAM_ACCESS_DENIED,
        False,
        KEY,
    )
    assert "<" not in str(failure), "botocore's message (paths, URLs, profiles) is not passed on"


def test_the_search_finds_botocores_credential_failures() -> None:
    """The enumeration above reads the source it means to read (a refactor of botocore that
    hid every raise from it would otherwise pass the test above with nothing to check)."""
    found = {kind.__name__ for kind in credential_failures()}
    assert {"SSOTokenLoadError", "CredentialRetrievalError", "MetadataRetrievalError"} <= found


NESTED_SERVICES = ("sts", "sso", "sso-oidc", "signin")


def test_the_nested_credential_services_are_all_known() -> None:
    """The services botocore's providers create clients for are the ones read below."""
    created = set()
    for module in (botocore.credentials, botocore.tokens):
        for node in ast.walk(_tree(module)):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            name = node.func.id if isinstance(node.func, ast.Name) else name
            if name in ("_client_creator", "client_creator", "create_nested_client"):
                created |= {
                    arg.value
                    for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                }
    assert created == set(NESTED_SERVICES)


def _operations_called_by_credential_providers() -> set[str]:
    session = botocore.session.get_session()
    method_to_operation: dict[str, str] = {}
    for service in NESTED_SERVICES:
        model = session.get_service_model(service)
        method_to_operation |= {botocore.xform_name(name): name for name in model.operation_names}
    called = set()
    for module in (botocore.credentials, botocore.tokens):
        for node in ast.walk(_tree(module)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = node.func.value
                named = receiver.id if isinstance(receiver, ast.Name) else None
                named = receiver.attr if isinstance(receiver, ast.Attribute) else named
                if named is not None and named.endswith("client"):
                    called.add(node.func.attr)
    # A client's method name is the operation's, in snake case; botocore's own spelling of one
    # (create_o_auth2_token) differs from xform_name's, so both are compared without "_".
    squashed = {method.replace("_", ""): op for method, op in method_to_operation.items()}
    return {squashed[name.replace("_", "")] for name in called if name.replace("_", "") in squashed}


def test_errors_answered_to_credential_calls_are_upstream_access_denied() -> None:
    operations = _operations_called_by_credential_providers()
    assert "AssumeRole" in operations
    for operation in operations:
        failure = from_botocore(_answer("InvalidIdentityToken", 400, operation), KEY)
        assert failure is not None
        assert (failure.code, failure.retryable) == (ErrorCode.UPSTREAM_ACCESS_DENIED, False)
        throttled = from_botocore(_answer("Throttling", 400, operation), KEY)
        assert throttled is not None
        assert throttled.code == ErrorCode.THROTTLED
