"""Trusted documents (``SMGQL_TRUSTED_DOCUMENTS``): with a manifest, only its documents run,
named by id (Apollo's persisted-query hash, or ``documentId``) or sent as their exact text;
every other request, a registration of a new text included, is refused with
DOCUMENT_NOT_TRUSTED before it is parsed, over HTTP and over WebSocket; GraphiQL is off unless
kept by name. The manifest here is written as relay-compiler writes one (bare hex digests, MD5
and SHA-256); tests/trusted_documents/ runs graphql-codegen's own."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.assembly.build import create_app
from app.assembly.settings import Settings
from app.local_sagemaker import BackgroundEndpoint
from app.server_thread import ServerThread
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, serving

LISTED = (
    'query Kernel { imageVersion(imageName: "sklearn-kernel", version: 1) { version jobType } }'
)
FOLLOW = (
    'subscription Follow { imageVersionStatus(imageName: "sklearn-kernel", version: 1) {'
    " version imageVersionStatus } }"
)
UNLISTED = '{ imageVersion(imageName: "sklearn-kernel", version: 1) { version } }'
SHA256 = hashlib.sha256(LISTED.encode()).hexdigest()
FOLLOW_MD5 = hashlib.md5(FOLLOW.encode(), usedforsecurity=False).hexdigest()
KERNEL = {"data": {"imageVersion": {"version": 1, "jobType": "NOTEBOOK_KERNEL"}}}
HTML = {"accept": "text/html"}
GRAPHQL_WS = Subprotocol("graphql-transport-ws")


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "persisted_queries.json"
    path.write_text(json.dumps({SHA256: LISTED, FOLLOW_MD5: FOLLOW}))
    return path


@pytest.fixture
def settings(endpoint: BackgroundEndpoint, manifest: Path) -> Settings:
    return dataclasses.replace(
        TEST_SETTINGS, endpoint_url=endpoint.url, trusted_documents=str(manifest)
    )


@pytest.fixture
async def trusted(settings: Settings) -> AsyncIterator[GraphQLClient]:
    async with serving(settings) as (_, client):
        yield client


def _code(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    code: str = error["extensions"]["code"]
    return code


def _persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_a_listed_document_runs_by_its_id_or_its_exact_text(trusted: GraphQLClient) -> None:
    by_hash = await trusted.http.post("/graphql", json={"extensions": _persisted(SHA256)})
    assert by_hash.json() == KERNEL
    by_document_id = await trusted.http.post("/graphql", json={"documentId": f"sha256:{SHA256}"})
    assert by_document_id.json() == KERNEL
    over_get = await trusted.http.get("/graphql", params={"documentId": SHA256})
    assert over_get.json() == KERNEL
    by_text = await trusted.http.post("/graphql", json={"query": LISTED})
    assert by_text.json() == KERNEL
    # Apollo's link after a miss: the hash with its text. The text is the listed one: it runs.
    both = await trusted.http.post(
        "/graphql", json={"query": LISTED, "extensions": _persisted(SHA256)}
    )
    assert both.json() == KERNEL


@pytest.mark.parametrize(
    "request_body",
    [
        {"query": UNLISTED},
        # Refused before parsing: not a parse error.
        {"query": "{ imageVersion(imageName:"},
        # Introspection is a document like any other: it runs only if listed.
        {"query": "{ __schema { queryType { name } } }"},
        {"documentId": "0" * 64},
        {"extensions": _persisted(hashlib.sha256(UNLISTED.encode()).hexdigest())},
        # A new text under a listed id.
        {"query": UNLISTED, "extensions": _persisted(SHA256)},
        {"query": UNLISTED, "documentId": SHA256},
    ],
    ids=[
        "unlisted text",
        "unparsable text",
        "introspection",
        "unknown documentId",
        "unknown hash",
        "new text, listed hash",
        "new text, listed documentId",
    ],
)
async def test_anything_else_is_refused_before_it_is_parsed(
    trusted: GraphQLClient, request_body: dict[str, Any]
) -> None:
    response = await trusted.http.post(
        "/graphql", json=request_body, headers={"accept": "application/graphql-response+json"}
    )
    assert _code(response) == "DOCUMENT_NOT_TRUSTED"
    assert response.json()["errors"][0]["extensions"]["retryable"] is False


async def test_an_apq_registration_is_refused_and_registers_nothing(
    trusted: GraphQLClient,
) -> None:
    digest = hashlib.sha256(UNLISTED.encode()).hexdigest()
    registration = {"query": UNLISTED, "extensions": _persisted(digest)}
    assert _code(await trusted.http.post("/graphql", json=registration)) == "DOCUMENT_NOT_TRUSTED"
    hash_only = {"extensions": _persisted(digest)}
    assert _code(await trusted.http.post("/graphql", json=hash_only)) == "DOCUMENT_NOT_TRUSTED"


async def test_graphiql_is_off_unless_kept_by_name(
    trusted: GraphQLClient, settings: Settings
) -> None:
    assert (await trusted.http.get("/graphql", headers=HTML)).status_code == 404
    kept = dataclasses.replace(settings, graphiql=True)
    async with serving(kept) as (_, client):
        assert (await client.http.get("/graphql", headers=HTML)).status_code == 200


async def test_without_a_manifest_a_document_id_is_refused_clearly(
    service: GraphQLClient,
) -> None:
    response = await service.http.post("/graphql", json={"documentId": SHA256})
    assert _code(response) == "BAD_REQUEST"
    assert "trusted document" in response.json()["errors"][0]["message"]


@pytest.fixture
def live_url(settings: Settings) -> Iterator[str]:
    server = ServerThread(create_app(settings), lifespan="on")
    url = server.start()
    try:
        yield url.replace("http://", "ws://") + "/graphql"
    finally:
        server.stop()


def test_a_subscribe_runs_only_a_listed_document(live_url: str) -> None:
    with connect(live_url, subprotocols=[GRAPHQL_WS]) as socket_:
        socket_.send(json.dumps({"type": "connection_init"}))
        assert json.loads(socket_.recv(timeout=10)) == {"type": "connection_ack"}
        unlisted = FOLLOW.replace("version imageVersionStatus", "imageVersionStatus")
        for sub_id, payload in [
            ("unlisted", {"query": unlisted}),
            ("new text, listed id", {"query": unlisted, "documentId": FOLLOW_MD5}),
            ("unlisted query", {"query": UNLISTED}),
        ]:
            socket_.send(json.dumps({"id": sub_id, "type": "subscribe", "payload": payload}))
            answer = json.loads(socket_.recv(timeout=10))
            assert answer["id"] == sub_id
            assert answer["type"] == "error"
            assert [e["extensions"]["code"] for e in answer["payload"]] == ["DOCUMENT_NOT_TRUSTED"]
        payload = {"query": FOLLOW, "documentId": FOLLOW_MD5}
        socket_.send(json.dumps({"id": "listed", "type": "subscribe", "payload": payload}))
        first = json.loads(socket_.recv(timeout=10))
        assert first["type"] == "next", first
        status = first["payload"]["data"]["imageVersionStatus"]
        assert status == {"version": 1, "imageVersionStatus": "CREATED"}
        assert json.loads(socket_.recv(timeout=10)) == {"id": "listed", "type": "complete"}
