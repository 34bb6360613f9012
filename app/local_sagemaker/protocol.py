"""The AWS JSON 1.1 wire protocol, as botocore speaks it to SageMaker.

A call is ``POST /`` with ``X-Amz-Target: SageMaker.<Operation>``, a
``Content-Type: application/x-amz-json-1.1`` body holding the input structure, and an answer in
the same content type. Timestamps travel as epoch seconds. Every answer carries an
``x-amzn-RequestId`` header; errors are ``{"__type": "<Code>", "message": "..."}`` with a 4xx status
for the caller's faults and a 5xx for the server's. botocore reads the code from ``__type`` and
decides from it and the status whether to retry.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, NoReturn

from starlette.requests import Request
from starlette.responses import Response

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "SageMaker."
MAX_BODY_BYTES = 1024 * 1024


class AwsError(Exception):
    """An error answer in AWS's shape. ``code`` is what botocore exposes as ``Error.Code``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def new_request_id() -> str:
    return str(uuid.uuid4())


def operation_name(request: Request) -> str:
    """The operation named by ``X-Amz-Target``, or an UnknownOperationException."""
    target = request.headers.get("x-amz-target", "")
    if not target.startswith(TARGET_PREFIX) or len(target) == len(TARGET_PREFIX):
        raise AwsError(
            "UnknownOperationException",
            f"Missing or malformed X-Amz-Target header (expected '{TARGET_PREFIX}<Operation>')",
        )
    return target[len(TARGET_PREFIX) :]


async def read_body(request: Request) -> bytes:
    """The request body, read with a size cap so a huge body cannot exhaust memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    return bytes(body)


def decode_input(body: bytes) -> dict[str, Any]:
    """The input structure a body holds (none: an empty one)."""
    if not body:
        return {}
    try:
        decoded = decode_json(body)
    except ValueError as error:
        raise AwsError(
            "SerializationException", f"Request body is not valid JSON: {error}"
        ) from None
    if not isinstance(decoded, dict):
        raise AwsError("SerializationException", "Request body must be a JSON object")
    return decoded


def decode_json(body: bytes) -> Any:
    """Decode strict JSON (RFC 8259), raising ValueError with a readable reason.

    Python's decoder also reads ``NaN`` and ``Infinity``, which are not JSON, no AWS front door
    accepts, and no later check expects (NaN fails every comparison, so it slips through range
    checks). A body nested deeper than the interpreter's recursion limit is refused here too,
    instead of escaping as a RecursionError.
    """
    try:
        return json.loads(body, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("JSON is nested too deeply") from None


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not a JSON number")


def _too_large() -> AwsError:
    return AwsError(
        "RequestEntityTooLargeException",
        f"Request body exceeds {MAX_BODY_BYTES} bytes",
        status=413,
    )


def success(payload: dict[str, Any], request_id: str) -> Response:
    body = json.dumps(payload, separators=(",", ":"))
    return Response(body, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id})


def failure(error: AwsError, request_id: str) -> Response:
    body = json.dumps({"__type": error.code, "message": error.message})
    return Response(
        body,
        status_code=error.status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id},
    )
