"""Every row of the error table gives the same errors through ``schema.execute()`` as through
HTTP: the presenter runs inside the schema's execution, not in the HTTP view.

(``BAD_REQUEST`` is the one code HTTP gives alone: a body refused before GraphQL has no operation
for the schema to run.)

AWS answers the local endpoint never gives (a ``RequestTimeoutException``, a bare 429, SageMaker's
``ResourceInUse``) come from a stand-in upstream on loopback that answers every call with one AWS
error, parsed by botocore as AWS's own; tests/unit/test_error_table_vs_botocore.py covers every
code, these a representative few end to end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.assembly.settings import Settings
from app.errors import ErrorCode
from app.loaders import Loaders
from app.local_sagemaker.server import BackgroundEndpoint
from app.sagemaker import SageMaker, build_transport
from app.sagemaker.targets import ServedTargets
from app.schema import build_schema
from app.schema.context import RequestContext
from app.server_thread import ServerThread
from tests.conftest import EndpointControl, insert_version_of_the_future
from tests.service.conftest import LOCAL_TARGET, TEST_SETTINGS, serving

ONE = """query($name: String!, $version: Int) {
  imageVersion(imageName: $name, version: $version) { version vendorGuidance } }"""
NESTED = """query($n: Int = 100) { images(first: $n) { edges { node {
  versions(first: $n) { edges { node { baseImage } } } } } } }"""

schema = build_schema(Settings().schema_limits())


@dataclasses.dataclass(frozen=True)
class Row:
    code: ErrorCode
    query: str
    variables: dict[str, Any]
    faults: dict[str, Any] = dataclasses.field(default_factory=dict)
    # The AWS error (HTTP status, code) the stand-in upstream answers every call with; None: the
    # local endpoint serves the row.
    answer: tuple[int, str] | None = None


ROWS = {
    "not-found": Row(ErrorCode.NOT_FOUND, ONE, {"name": "no-such-image"}),
    "our-check": Row(ErrorCode.BAD_USER_INPUT, ONE, {"name": "bad name"}),
    "budget": Row(ErrorCode.BAD_USER_INPUT, NESTED, {}),
    "variable": Row(ErrorCode.BAD_USER_INPUT, ONE, {"name": "x", "version": "three"}),
    "throttled": Row(ErrorCode.THROTTLED, ONE, {"name": "sklearn-kernel"}, {"throttleRate": 1.0}),
    "unavailable": Row(
        ErrorCode.UPSTREAM_UNAVAILABLE, ONE, {"name": "sklearn-kernel"}, {"serverErrorRate": 1.0}
    ),
    "denied": Row(
        ErrorCode.UPSTREAM_ACCESS_DENIED,
        ONE,
        {"name": "sklearn-kernel"},
        {"rejectedAccessKeys": ["local"]},
    ),
    "request-timeout": Row(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        ONE,
        {"name": "sklearn-kernel"},
        answer=(408, "RequestTimeoutException"),
    ),
    "slow-down": Row(
        ErrorCode.THROTTLED, ONE, {"name": "sklearn-kernel"}, answer=(400, "SlowDown")
    ),
    "bare-429": Row(
        ErrorCode.THROTTLED, ONE, {"name": "sklearn-kernel"}, answer=(429, "SomethingNew")
    ),
    "in-use": Row(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        ONE,
        {"name": "sklearn-kernel"},
        answer=(400, "ResourceInUse"),
    ),
    "quota": Row(
        ErrorCode.THROTTLED, ONE, {"name": "sklearn-kernel"}, answer=(400, "ResourceLimitExceeded")
    ),
    "internal": Row(ErrorCode.INTERNAL_SERVER_ERROR, ONE, {"name": "FUTURE"}),
    "parse": Row(ErrorCode.GRAPHQL_PARSE_FAILED, "{ imageVersion(", {}),
    "validation": Row(
        ErrorCode.GRAPHQL_VALIDATION_FAILED, '{ imageVersion(imageName: "x") { nope } }', {}
    ),
}


def _comparable(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The errors with what differs between any two runs (ids) blanked."""
    blanked = []
    for error in errors:
        extensions = dict(error.get("extensions", {}))
        error_id = extensions.get("errorId")
        for volatile in ("awsRequestId", "errorId"):
            if volatile in extensions:
                extensions[volatile] = "<id>"
        message = error["message"].replace(error_id, "<id>") if error_id else error["message"]
        blanked.append({**error, "message": message, "extensions": extensions})
    return blanked


class StandInUpstream:
    """An AWS JSON endpoint that answers every SageMaker call with :attr:`answer`, an AWS
    error; STS's GetCallerIdentity (query protocol, which the service asks at start to learn
    its account) it answers as the local endpoint does."""

    def __init__(self) -> None:
        self.answer = (500, "InternalFailure")
        self.url = ""
        self.app = Starlette(routes=[Route("/{path:path}", self._respond, methods=["POST"])])

    async def _respond(self, request: Request) -> Response:
        if b"Action=GetCallerIdentity" in await request.body():
            return Response(
                "<GetCallerIdentityResponse><GetCallerIdentityResult>"
                f"<Account>{LOCAL_TARGET.account}</Account>"
                f"<Arn>arn:aws:iam::{LOCAL_TARGET.account}:user/local</Arn><UserId>local</UserId>"
                "</GetCallerIdentityResult></GetCallerIdentityResponse>",
                media_type="text/xml",
            )
        status, code = self.answer
        return JSONResponse(
            {"__type": code, "message": "the stand-in says so"},
            status_code=status,
            headers={"x-amzn-RequestId": "stand-in-request"},
        )


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandInUpstream]:
    upstream = StandInUpstream()
    server = ServerThread(upstream.app, quiet=True)
    upstream.url = server.start()
    yield upstream
    server.stop()


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
async def test_schema_execute_and_http_give_the_same_errors(
    row: Row, endpoint: BackgroundEndpoint, control: EndpointControl, stand_in: StandInUpstream
) -> None:
    variables = dict(row.variables)
    if variables.get("name") == "FUTURE":
        variables["name"] = insert_version_of_the_future(endpoint)
    control.set_faults(**row.faults)
    url = endpoint.url
    if row.answer is not None:
        stand_in.answer = row.answer
        url = stand_in.url
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=url)
    aws = SageMaker(build_transport(settings.aws(), settings.target_specs()[0]))

    async with serving(settings) as (_, service):
        over_http = (
            await service.http.post("/graphql", json={"query": row.query, "variables": variables})
        ).json()
    executed = await schema.execute(
        row.query,
        variable_values=variables,
        context_value=RequestContext(
            Loaders(aws, timeout=10), TEST_SETTINGS.schema_limits(), ServedTargets([LOCAL_TARGET])
        ),
    )
    await aws.aclose()

    http_errors = _comparable(over_http["errors"])
    assert http_errors == _comparable([error.formatted for error in executed.errors or []])
    assert {error["extensions"]["code"] for error in http_errors} == {row.code.value}
    assert {error["extensions"]["retryable"] for error in http_errors} == {row.code.retryable}
    if row.answer is not None:
        assert {error["extensions"]["awsErrorCode"] for error in http_errors} == {row.answer[1]}
