"""The local SageMaker endpoint as an ASGI app: routing, checks, faults and one log line per call.

``POST /`` serves the SageMaker operations the project uses. A few ``/_local/...`` routes, which
AWS does not have, let tests and benchmarks steer the endpoint and read what reached it:

==========================  =====================================================================
``GET /_local/health``      liveness, for docker-compose and for waiting on a fresh start
``GET /_local/stats``       calls per operation, calls in flight now and at the peak
``DELETE /_local/stats``    reset the counters
``GET|PUT /_local/faults``  read or replace the fault plan (``latencyMs``, ``throttleRate``,
                            ``serverErrorRate``, ``rejectedAccessKeys``)
==========================  =====================================================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.local_sagemaker import protocol, signatures
from app.local_sagemaker.faults import FaultPlan, Faults
from app.local_sagemaker.protocol import AwsError
from app.local_sagemaker.shapes import SERIALIZATION, input_shape, problems
from app.local_sagemaker.store import ImageStore

log = logging.getLogger("app.local_sagemaker")

Operation = Callable[[dict[str, Any]], dict[str, Any]]


def supported_operations(store: ImageStore) -> dict[str, Operation]:
    return {
        "CreateImage": store.create_image,
        "DescribeImage": store.describe_image,
        "ListImages": store.list_images,
        "DeleteImage": store.delete_image,
        "CreateImageVersion": store.create_image_version,
        "DescribeImageVersion": store.describe_image_version,
        "ListImageVersions": store.list_image_versions,
        "UpdateImageVersion": store.update_image_version,
        "DeleteImageVersion": store.delete_image_version,
        "ListAliases": store.list_aliases,
    }


def check_input(operation: str, params: dict[str, Any]) -> None:
    """Raise the error AWS would give for ``params``: a SerializationException for the first
    wrong type, else one ValidationException listing every broken constraint."""
    found = list(problems(input_shape(operation), params))
    for problem in found:
        if problem.kind == SERIALIZATION:
            raise AwsError(SERIALIZATION, problem.message)
    if found:
        count = len(found)
        summary = f"{count} validation error{'s' if count > 1 else ''} detected: "
        raise AwsError("ValidationException", summary + "; ".join(p.message for p in found))


def create_endpoint_app(
    store: ImageStore, faults: Faults, secrets: Mapping[str, str] | None = None
) -> Starlette:
    """The endpoint over ``store``; with ``secrets`` (access key to secret key), it checks
    every request's SigV4 signature as AWS would."""
    operations = supported_operations(store)

    async def serve_call(request: Request) -> Response:
        request_id = protocol.new_request_id()
        started = time.perf_counter()
        operation = "-"
        try:
            if request.method != "POST":
                raise AwsError("UnknownOperationException", "Only POST / is served", status=405)
            body = await protocol.read_body(request)
            if secrets is None:
                access_key = signatures.access_key(request)
            else:
                access_key = signatures.check(request, body, secrets, store.arns.region)
            operation = protocol.operation_name(request)
            serve = operations.get(operation)
            if serve is None:
                raise AwsError(
                    "UnknownOperationException",
                    f"Operation {operation[:100]!r} is not supported by the local endpoint; "
                    f"supported: {', '.join(sorted(operations))}",
                )
            params = protocol.decode_input(body)
            async with faults.call(operation, access_key):
                check_input(operation, params)
                response = protocol.success(serve(params), request_id)
            error_code = None
        except AwsError as error:
            response, error_code = protocol.failure(error, request_id), error.code
        except Exception:
            log.exception(
                "local SageMaker endpoint failed on %s (request %s)", operation, request_id
            )
            fault = AwsError("InternalFailure", "The local endpoint failed", status=500)
            response, error_code = protocol.failure(fault, request_id), fault.code
        log.info(
            {
                "event": "sagemaker_call",
                "operation": operation[:100],
                "status": response.status_code,
                "errorCode": error_code,
                "durationMs": round((time.perf_counter() - started) * 1000, 2),
                "requestId": request_id,
            }
        )
        return response

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            faults.reset_stats()
        return JSONResponse(faults.stats())

    async def fault_plan(request: Request) -> Response:
        if request.method == "PUT":
            try:
                faults.configure(FaultPlan.from_json(protocol.decode_json(await request.body())))
            except ValueError as error:
                return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(faults.plan.to_json())

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        error = AwsError("UnknownOperationException", f"No route for {request.url.path}", status)
        return protocol.failure(error, protocol.new_request_id())

    return Starlette(
        routes=[
            Route("/", serve_call, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            Route("/_local/health", health, methods=["GET"]),
            Route("/_local/stats", stats, methods=["GET", "DELETE"]),
            Route("/_local/faults", fault_plan, methods=["GET", "PUT"]),
        ],
        exception_handlers={404: not_found, 405: not_found},
    )
