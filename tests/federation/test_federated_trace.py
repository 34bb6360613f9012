"""Apollo's federated trace (ftv1): a gateway that sends ``apollo-federation-include-trace:
ftv1`` gets the operation's resolver timings in ``extensions.ftv1``, decoded here by Apollo's own
protobuf reader (``decode_trace.mjs``); nobody else gets a trace, and the response cache neither
answers a traced request nor keeps its trace."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from typing import Any

import httpx

from app.local_sagemaker import BackgroundEndpoint
from tests.federation.conftest import HERE, _node
from tests.service.conftest import TEST_SETTINGS, serving

QUERY = """query Versions {
  imageVersions(refs: [{imageName: "sklearn-kernel", version: 1},
                       {imageName: "sklearn-kernel", alias: "stable"}]) { version aliases }
}"""
TRACE_ME = {"apollo-federation-include-trace": "ftv1"}


def decode(*traces: str) -> list[dict[str, Any]]:
    decoded = subprocess.run(
        [_node(), str(HERE / "decode_trace.mjs")],
        input="\n".join(traces),
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in decoded.stdout.splitlines()]


def _child(node: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        child for child in node.get("child", []) if child.get("responseName") == name
    ]
    (only,) = found
    return only


async def _post(http: httpx.AsyncClient, **headers: str) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": QUERY}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body
    return body


async def test_a_gateway_asking_for_ftv1_gets_the_resolver_timings(
    endpoint: BackgroundEndpoint,
) -> None:
    # With the response cache on: the untraced answer is kept first, and must not answer the
    # traced request; the traced one must not leave its trace for the next.
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url, cache="memory")
    async with serving(settings) as (_, client):
        plain = await _post(client.http)
        traced = await _post(client.http, **TRACE_ME)
        after = await _post(client.http)

    assert "ftv1" not in plain.get("extensions", {})
    assert "ftv1" not in after.get("extensions", {})
    (trace,) = decode(traced["extensions"]["ftv1"])
    duration = trace["durationNs"]
    assert duration > 0
    assert trace["endTime"]["seconds"] >= trace["startTime"]["seconds"]
    versions = _child(trace["root"], "imageVersions")
    assert (versions["parentType"], versions["type"]) == ("Query", "[ImageVersion]!")
    assert 0 < versions["startTime"] < versions["endTime"] <= duration
    # One node per element of the list, each with its own field that called SageMaker.
    assert [item["index"] for item in versions["child"]] == [0, 1]
    for item in versions["child"]:
        aliases = _child(item, "aliases")
        assert aliases["parentType"] == "ImageVersion"
        assert versions["startTime"] < aliases["startTime"] < aliases["endTime"] <= duration


async def test_no_trace_for_another_header_value(endpoint: BackgroundEndpoint) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    async with serving(settings) as (_, client):
        body = await _post(client.http, **{"apollo-federation-include-trace": "ftv2"})
    assert "extensions" not in body
