"""SigV4 signatures, checked the way AWS checks them, when the endpoint is given secrets.

By default the endpoint holds no secrets: it reads the access key from the ``Authorization``
header (fault plans can reject a key) and trusts the rest. Given a table of access keys and
their secrets, it recomputes each request's signature with botocore's own SigV4 code over the
headers the client says it signed, so a client that signs wrongly gets AWS's answer
(403 ``InvalidSignatureException``; an unknown key, ``UnrecognizedClientException``). Tests use
this to prove that the service's requests would pass AWS's check, not only the endpoint's routing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.requests import Request

from app.local_sagemaker.protocol import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "sagemaker"
TIMESTAMP = "%Y%m%dT%H%M%SZ"
# How far a request's X-Amz-Date may be from the endpoint's clock, as AWS allows.
MAX_SKEW = timedelta(minutes=15)


def access_key(request: Request) -> str:
    """The access key ID of a SigV4 ``Authorization`` header; AWS's error when there is none."""
    return _access_key(_fields(request.headers.get("authorization", "")))


def _access_key(fields: Mapping[str, str]) -> str:
    key = fields.get("Credential", "").split("/")[0]
    if not key:
        raise AwsError(
            "MissingAuthenticationTokenException", "Missing Authentication Token", status=403
        )
    return key


def check(request: Request, body: bytes, secrets: Mapping[str, str], region: str) -> str:
    """The request's access key, once its signature proves it holds the key's secret."""
    fields = _fields(request.headers.get("authorization", ""))
    key = _access_key(fields)
    secret = secrets.get(key)
    if secret is None:
        raise AwsError(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            status=403,
        )
    scope = fields["Credential"].split("/")
    signed = fields.get("SignedHeaders", "").split(";")
    timestamp = request.headers.get("x-amz-date", "")
    if scope[1:] != [timestamp[:8], region, SERVICE, "aws4_request"]:
        raise _mismatch()
    # AWS requires the host and every x-amz-* header sent to be signed: a header left out
    # (the operation's X-Amz-Target, say) could be swapped without breaking the signature.
    unsigned = {name for name in request.headers if name.startswith("x-amz-")} - set(signed)
    if "host" not in signed or unsigned:
        raise _mismatch()
    _check_clock(timestamp)
    # botocore signs the body's hash as the client declares it, when it does: it must be the
    # body's hash (never "UNSIGNED-PAYLOAD"), or the body could be swapped.
    declared = request.headers.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        raise _mismatch()
    signable = AWSRequest(
        method=request.method,
        url=str(request.url),
        headers={name: request.headers.get(name, "") for name in signed},
        data=body,
    )
    signable.context["timestamp"] = timestamp
    signer = SigV4Auth(Credentials(key, secret), SERVICE, region)
    canonical = signer.canonical_request(signable)
    expected = signer.signature(signer.string_to_sign(signable, canonical), signable)
    given = fields.get("Signature", "")
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise _mismatch()
    return key


def _fields(authorization: str) -> dict[str, str]:
    """``Credential``, ``SignedHeaders`` and ``Signature`` of a SigV4 ``Authorization`` header."""
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != ALGORITHM:
        return {}
    pairs = (part.strip().partition("=") for part in rest.split(","))
    return {name: value for name, _, value in pairs}


def _check_clock(timestamp: str) -> None:
    try:
        signed_at = datetime.strptime(timestamp, TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise _mismatch() from None
    if abs(datetime.now(UTC) - signed_at) > MAX_SKEW:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature expired: {timestamp} is more than {MAX_SKEW} from the endpoint's clock.",
            status=403,
        )


def _mismatch() -> AwsError:
    return AwsError(
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
        status=403,
    )
