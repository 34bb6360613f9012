"""The switches an operator turns for production: GraphiQL and introspection off, a CORS
allow-list, API keys and JWTs (and ``/metrics`` behind them), and the headers of the GraphiQL
page."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Route

from app.assembly.settings import Settings
from app.local_sagemaker import BackgroundEndpoint
from app.server_thread import ServerThread
from app.web.auth import Credentials, Identity
from tests.fakes import FakeClock
from tests.issuer import Issuer
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, serving

QUERY = {"query": '{ imageVersion(imageName: "sklearn-kernel") { version } }'}
HTML = {"accept": "text/html"}


@pytest.fixture
def settings(endpoint: BackgroundEndpoint) -> Settings:
    return dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)


@pytest.fixture
async def locked_down(settings: Settings) -> AsyncIterator[GraphQLClient]:
    closed = dataclasses.replace(settings, graphiql=False, introspection=False)
    async with serving(closed) as (_, client):
        yield client


async def test_graphiql_can_be_turned_off(locked_down: GraphQLClient) -> None:
    page = await locked_down.http.get("/graphql", headers=HTML)
    assert page.status_code == 404
    assert page.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert (await locked_down.query(QUERY["query"]))["data"]["imageVersion"]["version"] == 2


async def test_introspection_can_be_turned_off(
    locked_down: GraphQLClient, service: GraphQLClient
) -> None:
    query = "{ __schema { queryType { name } } }"
    refused = (await locked_down.http.post("/graphql", json={"query": query})).json()
    assert "data" not in refused
    for error in refused["errors"]:
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection has been disabled" in error["message"]
    # A federated gateway still reads the subgraph's SDL, which is not introspection.
    sdl = await locked_down.http.post("/graphql", json={"query": "{ _service { sdl } }"})
    assert "type ImageVersion" in sdl.json()["data"]["_service"]["sdl"]
    opened = await service.http.post("/graphql", json={"query": query})
    assert opened.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_the_graphiql_page_sends_its_security_headers(service: GraphQLClient) -> None:
    page = await service.http.get("/graphql", headers=HTML)
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy
    assert "script-src 'self' 'sha256-" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_no_cross_origin_caller_by_default(service: GraphQLClient) -> None:
    answer = await service.http.post(
        "/graphql", json=QUERY, headers={"origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in answer.headers


async def test_cors_allows_the_listed_origins_only(settings: Settings) -> None:
    listed = dataclasses.replace(settings, cors_origins=("https://app.example",))
    async with serving(listed) as (_, client):
        preflight = {
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, authorization",
        }
        allowed = await client.http.options(
            "/graphql", headers={"origin": "https://app.example", **preflight}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        refused = await client.http.options(
            "/graphql", headers={"origin": "https://evil.example", **preflight}
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        answer = await client.http.post(
            "/graphql", json=QUERY, headers={"origin": "https://app.example"}
        )
        assert answer.headers["access-control-allow-origin"] == "https://app.example"


@pytest.fixture
def issuer(tmp_path: Path) -> Issuer:
    return Issuer.in_folder(tmp_path)


@pytest.fixture
async def guarded(
    settings: Settings, issuer: Issuer, tmp_path: Path
) -> AsyncIterator[GraphQLClient]:
    keys = tmp_path / "keys"
    keys.write_text("# one key a line\nkey-one\n\nkey-two\nops.team.key\n")
    secured = dataclasses.replace(
        settings,
        api_keys_file=str(keys),
        jwks_file=str(issuer.jwks_file),
        jwt_audience="images",
        jwt_issuer="https://issuer",
    )
    async with serving(secured) as (_, client):
        yield client


async def _status(client: GraphQLClient, headers: dict[str, str]) -> tuple[int, Any]:
    response = await client.http.post("/graphql", json=QUERY, headers=headers)
    return response.status_code, response.json()


async def test_with_keys_configured_a_request_needs_a_valid_credential(
    guarded: GraphQLClient, issuer: Issuer
) -> None:
    accepted = [
        {"x-api-key": "key-one"},
        {"authorization": "Bearer key-two"},
        {"authorization": f"Bearer {issuer.token()}"},
    ]
    for headers in accepted:
        status, body = await _status(guarded, headers)
        assert status == 200, (headers, body)
        assert body["data"]["imageVersion"]["version"] == 2
    refused = [
        {},
        {"x-api-key": "key-three"},
        {"x-api-key": "key-on"},
        {"authorization": "Basic a2V5LW9uZQ=="},
        {"authorization": f"Bearer {issuer.token(exp=int(time.time()) - 10)}"},
        {"authorization": f"Bearer {issuer.token(aud='other')}"},
        {"authorization": f"Bearer {issuer.token(iss='https://elsewhere')}"},
        {"authorization": "Bearer " + jwt.encode({"sub": "x", "exp": 2**40}, "k" * 32)},
        {"authorization": "Bearer " + issuer.token()[:-4] + "AAAA"},
    ]
    for headers in refused:
        status, body = await _status(guarded, headers)
        assert status == 401, headers
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_jwt_whose_times_are_not_numbers_is_refused(
    guarded: GraphQLClient, issuer: Issuer
) -> None:
    """PyJWT reads a time claim with ``int()``, so ``"exp": "9999999999"`` would pass it."""
    now = int(time.time())
    fractional = {"authorization": f"Bearer {issuer.token(iat=now - 0.5, exp=now + 60.5)}"}
    assert (await _status(guarded, fractional))[0] == 200
    refused = [
        issuer.token(exp=str(now + 60)),
        issuer.token(exp="9999999999"),
        issuer.token(exp=True),
        issuer.token(iat=str(now)),
        issuer.token(iat=None),
        issuer.token(nbf=str(now)),
    ]
    for token in refused:
        status, body = await _status(guarded, {"authorization": f"Bearer {token}"})
        assert status == 401, jwt.decode(token, options={"verify_signature": False})
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "JWT" in body["errors"][0]["message"]


async def test_a_jwt_valid_for_longer_than_the_max_lifetime_is_refused(
    guarded: GraphQLClient, issuer: Issuer
) -> None:
    """The default limit, a day: exp - iat, or exp - now for a token without iat."""
    now = int(time.time())
    day = 24 * 3600
    accepted = [issuer.token(iat=now, exp=now + day), issuer.token(exp=now + day)]
    for token in accepted:
        assert (await _status(guarded, {"authorization": f"Bearer {token}"}))[0] == 200
    refused = [
        issuer.token(iat=now, exp=now + day + 60),
        issuer.token(iat=now - day, exp=now + 60),
        issuer.token(exp=now + day + 60),
        issuer.token(exp=2**40),
    ]
    for token in refused:
        status, body = await _status(guarded, {"authorization": f"Bearer {token}"})
        assert status == 401, jwt.decode(token, options={"verify_signature": False})
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_api_key_shaped_like_a_jwt_still_works_with_a_jwks(
    guarded: GraphQLClient,
) -> None:
    for headers in ({"x-api-key": "ops.team.key"}, {"authorization": "Bearer ops.team.key"}):
        status, body = await _status(guarded, headers)
        assert status == 200, body
    status, body = await _status(guarded, {"x-api-key": "ops.team.kez"})
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_credential_says_who_presented_it_and_until_when(issuer: Issuer, tmp_path: Path) -> None:
    """What a WebSocket session needs to end when its JWT expires, judged by the given clock."""
    keys = tmp_path / "keys"
    keys.write_text("key-one\n")
    clock = FakeClock()
    credentials = Credentials.load(
        str(keys), str(issuer.jwks_file), "images", "https://issuer", 3600, clock
    )
    expires_at = clock.now + 60
    bearer = Headers({"authorization": f"Bearer {issuer.token(iat=clock.now, exp=expires_at)}"})
    assert credentials.identify(bearer) == Identity("jwt:alice", expires_at)
    assert credentials.identify(Headers({"x-api-key": "key-one"})) == Identity("api-key:1", None)
    clock.advance(59)
    assert credentials.identify(bearer) == Identity("jwt:alice", expires_at)
    clock.advance(1)
    assert credentials.identify(bearer) is None
    assert credentials.identify(Headers({"x-api-key": "key-one"})) == Identity("api-key:1", None)


async def test_with_keys_configured_metrics_need_a_credential(
    guarded: GraphQLClient, issuer: Issuer
) -> None:
    for headers in ({}, HTML, {"x-api-key": "key-three"}):
        refused = await guarded.http.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for headers in (
        {"x-api-key": "key-one"},
        {"authorization": "Bearer key-two"},
        {"authorization": f"Bearer {issuer.token()}"},
    ):
        scraped = await guarded.http.get("/metrics", headers=headers)
        assert scraped.status_code == 200, headers
        assert "smgql_" in scraped.text


async def test_health_and_graphiql_stay_open_with_keys_configured(guarded: GraphQLClient) -> None:
    assert (await guarded.http.get("/healthz")).status_code == 200
    assert (await guarded.http.get("/readyz")).status_code == 200
    assert (await guarded.http.get("/graphql", headers=HTML)).status_code == 200
    assert (await guarded.http.get("/graphiql/graphiql.min.js")).status_code == 200
    query = await guarded.http.get("/graphql", params=QUERY, headers=HTML)
    assert query.status_code == 401


async def test_readyz_refuses_an_upstream_that_answers_garbage(settings: Settings) -> None:
    async def garbage(_: object) -> Response:
        return Response(b"<html>not sagemaker</html>", media_type="text/html")

    upstream = ServerThread(Starlette(routes=[Route("/", garbage, methods=["POST"])]))
    url = upstream.start()
    try:
        async with serving(dataclasses.replace(settings, endpoint_url=url)) as (_, client):
            ready = await client.http.get("/readyz")
    finally:
        upstream.stop()
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "code": "UPSTREAM_UNAVAILABLE"}


async def test_readyz_answers_within_its_timeout_when_sagemaker_is_slow(
    settings: Settings, endpoint: BackgroundEndpoint
) -> None:
    endpoint.endpoint.faults.configure(
        dataclasses.replace(endpoint.endpoint.faults.plan, latency=3.0)
    )
    slow = dataclasses.replace(settings, readiness_timeout=0.3, read_timeout=10)
    async with serving(slow) as (_, client):
        started = time.monotonic()
        ready = await client.http.get("/readyz")
        elapsed = time.monotonic() - started
    assert ready.status_code == 503
    assert elapsed < 1.5
