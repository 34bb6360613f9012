"""STS on the endpoint's port: ``GetCallerIdentity`` and ``AssumeRole``, in the query protocol.

A client that reaches several accounts by assuming roles (botocore's ``role_arn`` profiles, or its
``AssumeRoleCredentialFetcher``) needs an STS that hands out credentials the endpoint then
recognises; pointing ``AWS_ENDPOINT_URL_STS`` (or an STS client's ``endpoint_url``) here gives it
one. A call is a form-encoded ``POST /`` with ``Action`` and ``Version=2011-06-15``, signed for
the ``sts`` service; the answer is XML in the shape botocore's query parser reads:
``<ActionResponse><ActionResult>...</ActionResult><ResponseMetadata><RequestId>`` on success,
``<ErrorResponse><Error><Type><Code><Message></Error><RequestId>`` on failure. The query protocol
names the errors the JSON protocol shares with it differently (``SignatureDoesNotMatch`` for
``InvalidSignatureException``, ...); :func:`failure` translates.

There are no IAM policies here: any caller may assume any well-formed role ARN, and the
credentials it gets act in the role's account.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from botocore.model import StructureShape
from botocore.session import get_session
from starlette.requests import Request
from starlette.responses import Response

from app.local_sagemaker import signatures
from app.local_sagemaker.identities import Caller, Identities
from app.local_sagemaker.protocol import AwsError
from app.local_sagemaker.shapes import check_input

SERVICE = "sts"
VERSION = "2011-06-15"
NAMESPACE = f"https://sts.amazonaws.com/doc/{VERSION}/"
FORM = "application/x-www-form-urlencoded"
DEFAULT_DURATION = 3600
# AWS caps a session of a role assumed with a role's credentials at an hour.
CHAINED_DURATION = 3600
# arn:aws:iam::<account>:role/<optional path/><name>; the name is the last part.
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]+")
# The members of AssumeRole the endpoint acts on; the model's others (policies, tags, MFA) have
# no meaning without IAM, and are refused rather than silently ignored.
_ASSUME_ROLE_MEMBERS = ("RoleArn", "RoleSessionName", "ExternalId", "DurationSeconds")
# The query protocol's names for the errors both protocols share.
_QUERY_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "ExpiredTokenException": "ExpiredToken",
    "ValidationException": "ValidationError",
    "SerializationException": "ValidationError",
}


def is_sts_call(request: Request) -> bool:
    """Whether a ``POST /`` is meant for STS: signed for it, or sent as a form (SageMaker's
    calls are JSON), so that even an unsigned STS call gets its answer in STS's shape."""
    content_type = request.headers.get("content-type", "")
    return signatures.scoped_service(request) == SERVICE or content_type.startswith(FORM)


def action(body: bytes) -> tuple[str, dict[str, str]]:
    """The action a form body names, and its other parameters."""
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise AwsError("MalformedQueryString", "The request body is not UTF-8") from None
    name, version = params.pop("Action", ""), params.pop("Version", "")
    if name not in ("GetCallerIdentity", "AssumeRole") or version != VERSION:
        raise AwsError(
            "InvalidAction",
            f"Could not find operation {name[:100]} for version {version[:40]}",
        )
    return name, params


def serve(
    name: str, params: dict[str, str], caller: Caller, identities: Identities
) -> ElementTree.Element:
    """The result element of one action."""
    if name == "GetCallerIdentity":
        return _get_caller_identity(params, caller)
    return _assume_role(params, caller, identities)


def _get_caller_identity(params: dict[str, str], caller: Caller) -> ElementTree.Element:
    if params:
        raise AwsError("ValidationError", f"Unknown parameters: {', '.join(sorted(params))[:200]}")
    return _element(
        "GetCallerIdentityResult",
        {"UserId": caller.user_id, "Account": caller.account, "Arn": caller.arn},
    )


def _assume_role(
    params: dict[str, str], caller: Caller, identities: Identities
) -> ElementTree.Element:
    unknown = set(params) - set(_ASSUME_ROLE_MEMBERS)
    if unknown:
        raise AwsError(
            "ValidationError",
            f"The local endpoint's AssumeRole takes only {', '.join(_ASSUME_ROLE_MEMBERS)}; "
            f"got {', '.join(sorted(unknown))[:200]}",
        )
    typed: dict[str, Any] = dict(params)
    duration = params.get("DurationSeconds")
    if duration is not None:
        # The form carries text; the model's integer check (and its range) needs a number.
        typed["DurationSeconds"] = (
            int(duration) if re.fullmatch(r"-?\d{1,12}", duration) else duration
        )
    check_input(_assume_role_shape(), typed)
    role_arn = params["RoleArn"]
    matched = _ROLE_ARN.fullmatch(role_arn)
    if matched is None:
        raise AwsError("ValidationError", "Request ARN is invalid")
    seconds = typed.get("DurationSeconds", DEFAULT_DURATION)
    if ":assumed-role/" in caller.arn and seconds > CHAINED_DURATION:
        raise AwsError(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining.",
        )
    minted = identities.assume_role(role_arn, matched[1], params["RoleSessionName"], seconds)
    expiration = datetime.fromtimestamp(minted.expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = _element("AssumeRoleResult", {})
    result.append(
        _element(
            "Credentials",
            {
                "AccessKeyId": minted.access_key,
                "SecretAccessKey": minted.secret,
                "SessionToken": minted.session_token,
                "Expiration": expiration,
            },
        )
    )
    result.append(
        _element(
            "AssumedRoleUser",
            {"AssumedRoleId": minted.caller.user_id, "Arn": minted.caller.arn},
        )
    )
    return result


@cache
def _assume_role_shape() -> StructureShape:
    shape = get_session().get_service_model(SERVICE).operation_model("AssumeRole").input_shape
    assert shape is not None
    return shape


def success(name: str, result: ElementTree.Element, request_id: str) -> Response:
    answer = ElementTree.Element(f"{name}Response", xmlns=NAMESPACE)
    answer.append(result)
    answer.append(_element("ResponseMetadata", {"RequestId": request_id}))
    return _xml(answer, 200, request_id)


def failure(error: AwsError, request_id: str) -> Response:
    """``error`` in the query protocol's shape and names."""
    answer = ElementTree.Element("ErrorResponse", xmlns=NAMESPACE)
    answer.append(
        _element(
            "Error",
            {
                "Type": "Sender" if error.status < 500 else "Receiver",
                "Code": _QUERY_CODES.get(error.code, error.code),
                "Message": error.message,
            },
        )
    )
    answer.append(_element("RequestId", {}, text=request_id))
    return _xml(answer, error.status, request_id)


def _element(tag: str, children: dict[str, str], text: str | None = None) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    element.text = text
    for child_tag, child_text in children.items():
        ElementTree.SubElement(element, child_tag).text = child_text
    return element


def _xml(root: ElementTree.Element, status: int, request_id: str) -> Response:
    return Response(
        ElementTree.tostring(root, encoding="unicode"),
        status_code=status,
        media_type="text/xml",
        headers={"x-amzn-RequestId": request_id},
    )
