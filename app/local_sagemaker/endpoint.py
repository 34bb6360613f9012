"""The local SageMaker endpoint as an ASGI app: routing, checks, faults and one log line per call.

``POST /`` serves the SageMaker operations the project uses (AWS JSON 1.1) and, on the same port,
STS's ``GetCallerIdentity`` and ``AssumeRole`` (the query protocol, :mod:`.sts`). A call lands
where AWS would send it: in the region its SigV4 credential scope names, which must be one the
endpoint serves, and in the account its access key belongs to (:mod:`.identities`), each pair
with a catalog of its own (:mod:`.targets`). A few ``/_local/...`` routes, which AWS does not
have, let tests and benchmarks steer the endpoint and read what reached it:

==========================  =====================================================================
``GET /_local/health``      liveness, for docker-compose and for waiting on a fresh start
``GET /_local/stats``       calls per operation (``calls``) and per ``region/account`` and
                            operation (``byTarget``), STS calls per action (``sts``), calls in
                            flight now and at the peak
``DELETE /_local/stats``    reset the counters
``GET|PUT /_local/faults``  read or replace the fault plan (``latencyMs``, ``throttleRate``,
                            ``serverErrorRate``, ``rejectedAccessKeys``, ``expiredAccessKeys``,
                            ``resourceInUseRate``, ``resourceLimitExceededRate``,
                            ``failingBaseImages``, and ``regions``, the regions it applies to:
                            empty for all)
==========================  =====================================================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.local_sagemaker import protocol, signatures, sts
from app.local_sagemaker.faults import FaultPlan, Faults
from app.local_sagemaker.identities import Caller, Identities
from app.local_sagemaker.protocol import AwsError
from app.local_sagemaker.shapes import check_input, input_shape
from app.local_sagemaker.signatures import Credential
from app.local_sagemaker.store import ImageStore
from app.local_sagemaker.targets import Catalogs, Target

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
        "UpdateImage": store.update_image,
        "AddTags": store.add_tags,
        "ListTags": store.list_tags,
        "DeleteTags": store.delete_tags,
    }


def signed_for(credential: Credential, service: str, regions: tuple[str, ...]) -> None:
    """Pass if ``credential`` is scoped to ``service`` in a served region; AWS's 403 if not."""
    if credential.region not in regions:
        raise AwsError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{credential.region[:40]}'. ",
            status=403,
        )
    if credential.service != service:
        raise AwsError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'. ",
            status=403,
        )


def create_endpoint_app(
    catalogs: Catalogs, identities: Identities, faults: Faults, regions: tuple[str, ...]
) -> Starlette:
    """The endpoint over ``catalogs``, for calls signed for ``regions``; when ``identities``
    holds secrets, it checks every request's SigV4 signature as AWS would."""

    def authenticated(request: Request, body: bytes, service: str) -> tuple[str, Caller]:
        """The region a request was signed for, and its caller."""
        credential = signatures.credential(request)
        signed_for(credential, service, regions)
        return credential.region, identities.authenticate(request, body, credential)

    async def serve_call(request: Request) -> Response:
        request_id = protocol.new_request_id()
        started = time.perf_counter()
        operation = "-"
        target: Target | None = None
        for_sts = request.method == "POST" and sts.is_sts_call(request)
        try:
            if request.method != "POST":
                raise AwsError("UnknownOperationException", "Only POST / is served", status=405)
            body = await protocol.read_body(request)
            if for_sts:
                _, caller = authenticated(request, body, sts.SERVICE)
                operation, params = sts.action(body)
                faults.count_sts(operation)
                result = sts.serve(operation, params, caller, identities)
                response = sts.success(operation, result, request_id)
            else:
                region, caller = authenticated(request, body, "sagemaker")
                target = Target(region, caller.account)
                operation = protocol.operation_name(request)
                response = await serve_sagemaker(operation, body, caller, target, request_id)
            error_code = None
        except AwsError as error:
            error_code = error.code
            response = (sts.failure if for_sts else protocol.failure)(error, request_id)
        except Exception:
            log.exception(
                "local SageMaker endpoint failed on %s (request %s)", operation, request_id
            )
            fault = AwsError("InternalFailure", "The local endpoint failed", status=500)
            error_code = fault.code
            response = (sts.failure if for_sts else protocol.failure)(fault, request_id)
        log.info(
            {
                "event": "sts_call" if for_sts else "sagemaker_call",
                "operation": operation[:100],
                "target": None if target is None else str(target),
                "status": response.status_code,
                "errorCode": error_code,
                "durationMs": round((time.perf_counter() - started) * 1000, 2),
                "requestId": request_id,
            }
        )
        return response

    async def serve_sagemaker(
        operation: str, body: bytes, caller: Caller, target: Target, request_id: str
    ) -> Response:
        operations = supported_operations(catalogs.of(target))
        serve = operations.get(operation)
        if serve is None:
            raise AwsError(
                "UnknownOperationException",
                f"Operation {operation[:100]!r} is not supported by the local endpoint; "
                f"supported: {', '.join(sorted(operations))}",
            )
        params = protocol.decode_input(body)
        async with faults.call(operation, caller.access_key, target):
            check_input(input_shape(operation), params)
            return protocol.success(serve(params), request_id)

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
