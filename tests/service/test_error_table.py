"""Every row of the error table gives the same errors through ``schema.execute()`` as through
HTTP: the presenter runs inside the schema's execution, not in the HTTP view.

(``BAD_REQUEST`` is the one code HTTP gives alone: a body refused before GraphQL has no operation
for the schema to run.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest

from app.assembly.settings import Settings
from app.errors import ErrorCode
from app.loaders import Loaders
from app.local_sagemaker.server import BackgroundEndpoint
from app.sagemaker import SageMaker, build_transport
from app.sagemaker.targets import ServedTargets
from app.schema import build_schema
from app.schema.context import RequestContext
from tests.conftest import EndpointControl, insert_version_of_the_future
from tests.service.conftest import LOCAL_TARGET, TEST_SETTINGS, GraphQLClient

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


@pytest.fixture
async def aws(endpoint: BackgroundEndpoint) -> AsyncIterator[SageMaker]:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    client = SageMaker(build_transport(settings.aws(), settings.target_specs()[0]))
    yield client
    await client.aclose()


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
async def test_schema_execute_and_http_give_the_same_errors(
    row: Row,
    service: GraphQLClient,
    aws: SageMaker,
    endpoint: BackgroundEndpoint,
    control: EndpointControl,
) -> None:
    variables = dict(row.variables)
    if variables.get("name") == "FUTURE":
        variables["name"] = insert_version_of_the_future(endpoint)
    control.set_faults(**row.faults)

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

    http_errors = _comparable(over_http["errors"])
    assert http_errors == _comparable([error.formatted for error in executed.errors or []])
    assert {error["extensions"]["code"] for error in http_errors} == {row.code.value}
