"""SigV4 signatures, checked the way AWS checks them, when the endpoint is given secrets.

The credential scope of the ``Authorization`` header says which region and service a request
was signed for, which routes it (:mod:`.endpoint`), and its access key says who calls
(:mod:`.identities`). By default the endpoint holds no secrets and trusts the rest (fault plans
can still reject a key). Given a table of access keys and their secrets, it recomputes each
request's signature with botocore's own SigV4 code over the headers the client says it signed, so
a client that signs wrongly gets AWS's answer (403 ``InvalidSignatureException``; an unknown key,
``UnrecognizedClientException``). Tests use this to prove that the service's requests would pass
AWS's check, not only the endpoint's routing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.requests import Request

from app.local_sagemaker.protocol import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP = "%Y%m%dT%H%M%SZ"
# How far a request's X-Amz-Date may be from the endpoint's clock, as AWS allows.
MAX_SKEW = timedelta(minutes=15)


@dataclass(frozen=True)
class Credential:
    """The ``Credential`` of a SigV4 ``Authorization`` header:
    ``<access key>/<date>/<region>/<service>/aws4_request``. A part missing is empty."""

    access_key: str
    region: str
    service: str


def credential(request: Request) -> Credential:
    """The credential a request was signed with; AWS's error when there is none."""
    found = _credential(request)
    if not found.access_key:
        raise AwsError(
            "MissingAuthenticationTokenException", "Missing Authentication Token", status=403
        )
    return found


def scoped_service(request: Request) -> str:
    """The service a request says it was signed for, or "" when it says none."""
    return _credential(request).service


def _credential(request: Request) -> Credential:
    scope = _fields(request.headers.get("authorization", "")).get("Credential", "").split("/")
    access_key, region, service = (
        scope[index] if len(scope) > index else "" for index in (0, 2, 3)
    )
    return Credential(access_key, region, service)


def check(request: Request, body: bytes, credential: Credential, secret: str) -> None:
    """Pass if the request's signature proves it holds ``secret``; AWS's 403 if not."""
    fields = _fields(request.headers.get("authorization", ""))
    scope = fields["Credential"].split("/")
    signed = fields.get("SignedHeaders", "").split(";")
    timestamp = request.headers.get("x-amz-date", "")
    if scope[1:] != [timestamp[:8], credential.region, credential.service, "aws4_request"]:
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
    signer = SigV4Auth(
        Credentials(credential.access_key, secret), credential.service, credential.region
    )
    canonical = signer.canonical_request(signable)
    expected = signer.signature(signer.string_to_sign(signable, canonical), signable)
    given = fields.get("Signature", "")
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise _mismatch()


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
