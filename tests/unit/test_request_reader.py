"""GraphQL over HTTP, as the endpoint reads a request: the parameters and their JSON types, the
media type answered, and what is refused before GraphQL (with its status)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.requests import Request

from app.errors import Refusal
from app.web.graphql_endpoint import read_params
from app.web.media_types import GRAPHQL_RESPONSE, JSON, negotiate


def request(
    method: str, body: bytes = b"", query: dict[str, str] | None = None, **headers: str
) -> Request:
    raw = [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    scope = {
        "type": "http",
        "method": method,
        "path": "/graphql",
        "query_string": urlencode(query or {}).encode(),
        "headers": raw,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def post(body: object, content_type: str = "application/json") -> Request:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return request("POST", data, content_type=content_type)


async def test_a_post_body_gives_every_parameter() -> None:
    params = await read_params(
        post({"query": "{ a }", "variables": {"x": 1}, "operationName": "A", "extensions": {}})
    )
    assert (params.query, params.variables, params.operation_name, params.extensions) == (
        "{ a }",
        {"x": 1},
        "A",
        {},
    )


async def test_a_get_reads_the_query_string_and_its_json_parameters() -> None:
    params = await read_params(
        request("GET", query={"query": "{ a }", "variables": '{"x": 2}', "operationName": ""})
    )
    assert (params.query, params.variables, params.operation_name) == ("{ a }", {"x": 2}, None)


@pytest.mark.parametrize(
    ("sent", "status", "says"),
    [
        (post({"query": "{ a }"}, content_type="text/plain"), 415, "Content-Type"),
        (post(b"{not json"), 400, "not valid JSON"),
        (post(b'{"query": NaN}'), 400, "not valid JSON"),
        (post(["{ a }"]), 400, "must be a JSON object"),
        (post({"query": 7}), 400, "`query` must be a GraphQL document"),
        (post({"query": ""}), 400, "`query` must be a GraphQL document"),
        (post({"query": "{ a }", "operationName": 1}), 400, "`operationName` must be"),
        (post({"query": "{ a }", "variables": [1]}), 400, "`variables` must be a JSON object"),
        (request("GET", query={"query": "{ a }", "variables": "{"}), 400, "not valid JSON"),
    ],
)
async def test_what_is_not_a_graphql_request_is_refused(
    sent: Request, status: int, says: str
) -> None:
    with pytest.raises(Refusal) as refused:
        await read_params(sent)
    assert refused.value.status == status
    assert says in refused.value.message
    assert refused.value.code == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("accept", "answered"),
    [
        ("", JSON),
        ("application/json", JSON),
        ("*/*", JSON),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        ("application/*", JSON),
    ],
)
def test_the_answer_is_in_a_media_type_the_client_accepts(accept: str, answered: str) -> None:
    assert negotiate(accept) == answered


def test_a_client_that_accepts_neither_media_type_is_refused_with_406() -> None:
    with pytest.raises(Refusal) as refused:
        negotiate("text/html")
    assert refused.value.status == 406


async def test_a_refusal_is_sent_as_graphql_json_that_no_cache_keeps() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await Refusal(413, "Too big.", headers={"Retry-After": "1"})({"type": "http"}, None, send)
    start, body = sent
    headers = dict(start["headers"])
    assert start["status"] == 413
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"retry-after"] == b"1"
    assert int(headers[b"content-length"]) == len(body["body"])
    assert json.loads(body["body"]) == {
        "errors": [
            {"message": "Too big.", "extensions": {"code": "BAD_REQUEST", "retryable": False}}
        ]
    }
