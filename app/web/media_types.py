"""The media types of GraphQL over HTTP: which body a request is read from, which type its
answer is written in, and how an answer is written.

``application/graphql-response+json`` is preferred when the client accepts it (its status codes
say whether the operation ran: the GraphQL-over-HTTP spec); ``application/json`` serves legacy
clients. Both ``/graphql`` and the kept-answer layer in front of it negotiate here, so a kept
answer is sent in the type a fresh one would have been.
"""

from __future__ import annotations

import json

from app.errors import Refusal

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def negotiate(accept: str) -> str:
    """The media type to answer a request whose Accept header is ``accept`` in; 406 when it
    allows neither."""
    if not accept:
        return JSON
    ranges = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if GRAPHQL_RESPONSE in ranges:
        return GRAPHQL_RESPONSE
    if ranges & {JSON, "application/*", "*/*"}:
        return JSON
    raise Refusal(406, f"Accept {GRAPHQL_RESPONSE} or {JSON}.")


def declares_json(content_type: str) -> bool:
    """Whether a body of ``content_type`` is JSON, the one body GraphQL is read from."""
    return content_type.split(";")[0].strip().lower() == JSON


def encode(answer: object) -> bytes:
    """An answer's bytes: compact, and UTF-8 rather than escapes."""
    return json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode()
