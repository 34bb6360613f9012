"""Trusted documents end to end, with the manifest a frontend's build writes: graphql-codegen's
client preset (``persistedDocuments: true``: SHA-256 ids, ``sha256:``-prefixed) generates
``persisted-documents.json`` from ``operations/*.graphql`` against the repository's
``schema.graphql``; the service starts with it as ``SMGQL_TRUSTED_DOCUMENTS`` (read from the
environment, as ``serve`` reads it) and serves over a real socket. Each operation runs by the
hash codegen gives it, in both shapes a client sends it; one runs by its exact text; an
unlisted query, an APQ registration and an unlisted subscription are refused; GraphiQL is off.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.assembly.build import create_app
from app.assembly.settings import Settings, environment_of
from app.local_sagemaker import BackgroundEndpoint
from app.server_thread import ServerThread
from tests.conftest import ROOT, assert_node_packages_are_the_locked_ones
from tests.service.conftest import TEST_SETTINGS

HERE = Path(__file__).parent
GRAPHQL_WS = Subprotocol("graphql-transport-ws")
CODE = ("errors", 0, "extensions", "code")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """codegen's output for the sample operations: its persisted-documents.json."""
    node = shutil.which("node")
    assert node, "Node.js is needed for the trusted-documents tests (scripts/bootstrap --test)"
    assert (HERE / "node_modules").is_dir(), (
        "run scripts/bootstrap --test: it installs tests/trusted_documents"
    )
    assert_node_packages_are_the_locked_ones(HERE)
    output = tmp_path_factory.mktemp("gql")
    subprocess.run(
        [node, str(HERE / "generate.mjs"), str(ROOT / "schema.graphql"), str(output)],
        check=True,
        timeout=120,
    )
    return output / "persisted-documents.json"


@pytest.fixture
def hashes(manifest: Path) -> dict[str, str]:
    """Each operation's name and the hash codegen gave it."""
    documents: dict[str, str] = json.loads(manifest.read_text(encoding="utf-8"))
    return {_operation_name(text): digest for digest, text in documents.items()}


def _operation_name(text: str) -> str:
    # codegen prints fragments first: the operation is the definition that is not one.
    for kind in ("query ", "subscription ", "mutation "):
        if kind in text:
            return text.split(kind, 1)[1].split("(", 1)[0].split(" ", 1)[0]
    raise AssertionError(f"no operation in {text!r}")


@pytest.fixture
def live_url(endpoint: BackgroundEndpoint, manifest: Path) -> Iterator[str]:
    environment = environment_of(dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url))
    settings = Settings.from_env({**environment, "SMGQL_TRUSTED_DOCUMENTS": str(manifest)})
    server = ServerThread(create_app(settings), lifespan="on")
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.post(f"{url}/graphql", json=body, timeout=10).json()
    return answer


def _code(body: dict[str, Any]) -> Any:
    value: Any = body
    for step in CODE:
        value = value[step]
    return value


def test_codegen_operations_run_by_hash_and_nothing_else_runs(
    live_url: str, manifest: Path, hashes: dict[str, str]
) -> None:
    assert set(hashes) == {"VersionJobType", "ImageWithLatest", "FollowVersion"}
    variables = {"imageName": "sklearn-kernel", "version": 1}
    # The GraphQL-over-HTTP field, with codegen's id as it is.
    by_document_id = _post(
        live_url, {"documentId": hashes["VersionJobType"], "variables": variables}
    )
    assert by_document_id == {
        "data": {"imageVersion": {"jobType": "NOTEBOOK_KERNEL", "version": 1}}
    }
    # Apollo's extension, as codegen's docs send it (and as Apollo's and urql's links do).
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": hashes["ImageWithLatest"]}}
    by_hash = _post(
        live_url, {"extensions": persisted, "variables": {"imageName": "sklearn-kernel"}}
    )
    assert by_hash["data"]["image"]["imageName"] == "sklearn-kernel"
    assert by_hash["data"]["image"]["latestVersion"]["imageVersionStatus"] == "CREATED"
    listed_text = json.loads(manifest.read_text(encoding="utf-8"))[hashes["VersionJobType"]]
    by_text = _post(live_url, {"query": listed_text, "variables": variables})
    assert by_text == by_document_id

    unlisted = '{ imageVersion(imageName: "sklearn-kernel", version: 1) { version } }'
    assert _code(_post(live_url, {"query": unlisted})) == "DOCUMENT_NOT_TRUSTED"
    registration = {"persistedQuery": {"version": 1, "sha256Hash": "a" * 64}}
    refused = _post(live_url, {"query": unlisted, "extensions": registration})
    assert _code(refused) == "DOCUMENT_NOT_TRUSTED"
    page = httpx.get(f"{live_url}/graphql", headers={"accept": "text/html"}, timeout=10)
    assert page.status_code == 404


def test_only_the_listed_subscription_runs_over_websocket(
    live_url: str, manifest: Path, hashes: dict[str, str]
) -> None:
    listed = json.loads(manifest.read_text(encoding="utf-8"))[hashes["FollowVersion"]]
    variables = {"imageName": "sklearn-kernel", "version": 1}
    unlisted = (
        "subscription { imageVersionStatus(imageName: $imageName, version: $version)"
        " { failureReason } }"
    )
    ws_url = live_url.replace("http://", "ws://") + "/graphql"
    with connect(ws_url, subprotocols=[GRAPHQL_WS]) as socket_:
        socket_.send(json.dumps({"type": "connection_init"}))
        assert json.loads(socket_.recv(timeout=10)) == {"type": "connection_ack"}
        payload = {"query": unlisted, "variables": variables}
        socket_.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        refused = json.loads(socket_.recv(timeout=10))
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
        payload = {"query": listed, "variables": variables, "documentId": hashes["FollowVersion"]}
        socket_.send(json.dumps({"id": "2", "type": "subscribe", "payload": payload}))
        first = json.loads(socket_.recv(timeout=10))
        assert first["payload"]["data"]["imageVersionStatus"]["imageVersionStatus"] == "CREATED"
        assert json.loads(socket_.recv(timeout=10)) == {"id": "2", "type": "complete"}
