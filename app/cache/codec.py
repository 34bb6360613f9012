"""Cached answers as JSON, for a store shared between processes (Redis).

JSON rather than pickle: a shared store is a trust boundary, and unpickling what another writer
left there would run its code. Each kind of answer is written with a tag, and read back only as
one of the types listed here; anything else reads as a miss.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.sagemaker import (
    ImageDescription,
    ImageSummary,
    ImageVersionDescription,
    ImageVersionSummary,
    NotFound,
    Page,
)
from app.sagemaker.records import AwsRecord

RECORDS: dict[str, type[AwsRecord]] = {
    cls.__name__: cls
    for cls in (ImageSummary, ImageDescription, ImageVersionSummary, ImageVersionDescription)
}


@dataclass(frozen=True)
class CachedResponse:
    """A whole GraphQL answer's body as it was sent (UTF-8 JSON), and its operation's name
    (app.cache.responses)."""

    body: bytes
    operation: str | None


@dataclass(frozen=True)
class PersistedQuery:
    """A query text kept under its SHA-256 (app.web.persisted_queries)."""

    query: str


class Undecodable(ValueError):
    """What a store held is not an answer this version of the service wrote."""


def encode(answer: object) -> bytes:
    return json.dumps(_tagged(answer), separators=(",", ":")).encode()


def decode(data: bytes | str) -> object:
    try:
        return _untagged(json.loads(data))
    except (ValueError, KeyError, TypeError) as error:
        raise Undecodable(str(error)) from None


def _tagged(answer: object) -> dict[str, Any]:
    if isinstance(answer, AwsRecord):
        values = {
            field.name: _plain(getattr(answer, field.name)) for field in dataclasses.fields(answer)
        }
        return {"record": type(answer).__name__, "values": values}
    if isinstance(answer, Page):
        return {"page": [_tagged(item) for item in answer.items], "next": answer.next_token}
    if isinstance(answer, NotFound):
        return {
            "notFound": answer.message,
            "awsCode": answer.aws_code,
            "requestId": answer.request_id,
        }
    if isinstance(answer, list) and all(isinstance(item, str) for item in answer):
        return {"strings": answer}
    if isinstance(answer, CachedResponse):
        return {"responseBody": answer.body.decode(), "operation": answer.operation}
    if isinstance(answer, PersistedQuery):
        return {"persistedQuery": answer.query}
    raise TypeError(f"cannot cache a {type(answer).__name__}")


def _untagged(data: dict[str, Any]) -> object:
    if "record" in data:
        record = RECORDS[data["record"]]
        times = {
            field.name
            for field in dataclasses.fields(record)
            if field.type in ("datetime", datetime)
        }
        values = {
            name: datetime.fromisoformat(value) if name in times else value
            for name, value in data["values"].items()
        }
        return record(**values)
    if "page" in data:
        return Page([_untagged(item) for item in data["page"]], data["next"])
    if "notFound" in data:
        return NotFound(data["notFound"], aws_code=data["awsCode"], request_id=data["requestId"])
    if "strings" in data:
        return [str(item) for item in data["strings"]]
    if "responseBody" in data and isinstance(data["responseBody"], str):
        operation = data.get("operation")
        return CachedResponse(
            data["responseBody"].encode(), operation if isinstance(operation, str) else None
        )
    if "persistedQuery" in data and isinstance(data["persistedQuery"], str):
        return PersistedQuery(data["persistedQuery"])
    raise KeyError("no known tag")


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value
