"""The HTTP surface: health, readiness, GraphiQL, the request log, and a live uvicorn."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from typing import Any

import httpx
import pytest

from app import graphiql
from app.assembly.build import create_app
from app.local_sagemaker.server import BackgroundEndpoint
from app.server_thread import ServerThread
from tests.conftest import EndpointControl, free_port
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, serving

QUERIES: list[tuple[str, dict[str, Any]]] = [
    (
        '{ imageVersion(imageName: "pytorch-training", alias: "stable") '
        "{ imageVersionArn version creationTime vendorGuidance processor horovod } }",
        {},
    ),
    (
        "query($refs: [ImageVersionRef!]!) { imageVersions(refs: $refs) { version jobType } }",
        {
            "refs": [
                {"imageName": "sklearn-kernel"},
                {"imageName": "bad name"},
                {"imageName": "tensorflow-notebook", "version": 1},
            ]
        },
    ),
    ('{ imageVersion(imageName: "no-such-image") { version } }', {}),
    ("{ imageVersion(imageName: ", {}),
]


def _without_request_ids(body: dict[str, Any]) -> dict[str, Any]:
    for error in body.get("errors", []):
        error.get("extensions", {}).pop("awsRequestId", None)
    return body


async def test_a_live_uvicorn_answers_as_the_asgi_transport_does(
    service: GraphQLClient, endpoint: BackgroundEndpoint
) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    live = ServerThread(create_app(settings), lifespan="on")
    url = live.start()
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            for query, variables in QUERIES:
                payload = {"query": query, "variables": variables}
                over_asgi = await service.http.post("/graphql", json=payload)
                over_socket = await http.post("/graphql", json=payload)
                assert over_socket.status_code == over_asgi.status_code
                assert _without_request_ids(over_socket.json()) == _without_request_ids(
                    over_asgi.json()
                )
    finally:
        live.stop()


async def test_healthz_and_readyz(service: GraphQLClient, control: EndpointControl) -> None:
    assert (await service.http.get("/healthz")).json() == {"status": "ok"}
    control.reset()
    for _ in range(3):
        ready = await service.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready"}
    assert control.calls("ListImages") == 1, "readiness checks are cached"


async def test_readyz_is_503_while_sagemaker_is_unreachable() -> None:
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1
    )
    async with serving(settings) as (_, client):
        response = await client.http.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "code": "UPSTREAM_UNAVAILABLE"}
        assert (await client.http.get("/healthz")).status_code == 200


async def test_a_browser_gets_graphiql_with_bundles_served_here(service: GraphQLClient) -> None:
    page = await service.http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(assets) == sorted(f"/graphiql/{name}" for name in graphiql.ASSETS)
    for asset in assets:
        served = await service.http.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000
    for elsewhere in ("/graphiql/package.json", "/graphiql/..%2Fpage.html", "/graphiql/x.js"):
        assert (await service.http.get(elsewhere)).status_code == 404, elsewhere


async def test_one_structured_log_line_per_request(
    service: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.requests"):
        await service.http.post(
            "/graphql",
            json={
                "query": 'query Lookup { imageVersion(imageName: "no-such-image") { version } }',
                "operationName": "Lookup",
            },
        )
        await service.http.get("/healthz")
    lines = [r.msg for r in caplog.records if r.name == "app.requests"]
    assert len(lines) == 2
    graphql_line, health_line = lines
    assert isinstance(graphql_line, dict)
    assert isinstance(health_line, dict)
    assert graphql_line["path"] == "/graphql"
    assert graphql_line["status"] == 200
    assert graphql_line["operationName"] == "Lookup"
    assert graphql_line["operationType"] == "query"
    assert graphql_line["errorCodes"] == ["NOT_FOUND"]
    assert graphql_line["durationMs"] >= 0
    assert health_line["path"] == "/healthz"
    json.dumps(graphql_line)
