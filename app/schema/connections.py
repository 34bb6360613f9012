"""Relay cursor connections over SageMaker's NextToken pagination.

SageMaker pages with an opaque ``NextToken`` that points between two of its pages; Relay wants a
cursor on every edge. A cursor here names a position as (the token that starts the SageMaker
page holding the edge, how many items of that page come before the position), plus a digest of
the query's filters and order so that a cursor cannot be replayed against another query.
Resuming from the end of a page, the common case, is a single call with that page's NextToken;
resuming from the middle of a page re-reads that page and skips.

Cursors are opaque base64 to clients. One that does not decode, or that belongs to another
query, is a BAD_USER_INPUT error, never a server error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import heapq
import itertools
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry

from app.sagemaker import Page
from app.sagemaker.keys import PageRequest
from app.schema.cost import type_directives
from app.schema.presenter import bad_user_input

DEFAULT_FIRST = 10
# SageMaker's largest page (the model's MaxResults): a longer connection page reads several.
MAX_RESULTS = 100

NodeT = TypeVar("NodeT")
ItemT = TypeVar("ItemT")
RequestT = TypeVar("RequestT", bound=PageRequest)


# Relay's PageInfo, which every Relay subgraph defines: shareable, so that several compose, with
# graphql-relay's descriptions, so that they compose without a hint (app.schema.global_ids).
@strawberry.federation.type(
    shareable=True,
    description="Information about pagination in a connection.",
    directives=type_directives("PageInfo"),
)
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="When paginating forwards, are there more items?"
    )
    has_previous_page: bool = strawberry.field(
        description="When paginating backwards, are there more items?"
    )
    start_cursor: str | None = strawberry.field(
        description="When paginating backwards, the cursor to continue."
    )
    end_cursor: str | None = strawberry.field(
        description="When paginating forwards, the cursor to continue."
    )


@strawberry.type(
    description="One item of a connection and its position.",
    directives=type_directives("ImageEdge", "ImageVersionEdge"),
)
class Edge(Generic[NodeT]):
    node: NodeT = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="An opaque cursor pointing just after the item.")


@strawberry.type(
    description="A page of items with Relay cursors.",
    directives=type_directives("ImageConnection", "ImageVersionConnection"),
)
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(
        description="Where this page starts and ends. Connections page forward only, as "
        "SageMaker does: `hasPreviousPage` is always false."
    )


def _fingerprint(request: PageRequest) -> str:
    return hashlib.sha256(repr(request.at(None, 0)).encode()).hexdigest()[:16]


def _encode(token: str | None, skip: int, fingerprint: str) -> str:
    raw = json.dumps([token, skip, fingerprint], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, fingerprint: str) -> tuple[str | None, int]:
    try:
        token, skip, digest = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        valid = (
            (token is None or isinstance(token, str))
            and isinstance(skip, int)
            and 0 <= skip <= MAX_RESULTS
            and digest == fingerprint
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        valid = False
    if not valid:
        raise _invalid_cursor()
    return token, skip


def _invalid_cursor() -> Exception:
    return bad_user_input(
        "The cursor `after` is not valid for this query: pass an endCursor or cursor that "
        "this connection returned, with the same arguments."
    )


async def paginate(
    fetch: Callable[[RequestT], Awaitable[Page[ItemT]]],
    request: RequestT,
    first: int,
    after: str | None,
    to_node: Callable[[ItemT], NodeT],
    max_first: int,
) -> Connection[NodeT]:
    """Up to ``first`` (at most ``max_first``) items after the cursor ``after``, as a
    connection."""
    if not 1 <= first <= max_first:
        raise bad_user_input(f"first must be from 1 to {max_first}, not {first}.")
    fingerprint = _fingerprint(request)
    token, skip = _decode(after, fingerprint) if after else (None, 0)
    edges: list[Edge[NodeT]] = []
    while True:
        want = min(MAX_RESULTS, skip + first - len(edges))
        page = await fetch(request.at(token, want))
        taken = page.items[skip : skip + first - len(edges)]
        for offset, item in enumerate(taken, start=skip + 1):
            at_page_end = offset == len(page.items) and page.next_token is not None
            position = (page.next_token, 0) if at_page_end else (token, offset)
            edges.append(Edge(node=to_node(item), cursor=_encode(*position, fingerprint)))
        more_in_page = skip + len(taken) < len(page.items)
        if len(edges) == first or page.next_token is None or more_in_page:
            has_next = more_in_page or page.next_token is not None
            break
        token, skip = page.next_token, 0
    page_info = PageInfo(
        has_next_page=has_next,
        has_previous_page=False,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return Connection(edges=edges, page_info=page_info)


@dataclass(frozen=True)
class _Position:
    """Where one target's part of a merged listing resumes: the token of the SageMaker page
    and the items of it already listed; or ``done``, nothing more."""

    token: str | None = None
    skip: int = 0
    done: bool = False


def _encode_merged(positions: Sequence[_Position], fingerprint: str) -> str:
    parts = [[position.token, position.skip, position.done] for position in positions]
    raw = json.dumps([parts, fingerprint], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_merged(cursor: str, fingerprint: str, count: int) -> list[_Position]:
    try:
        parts, digest = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        positions = [
            _Position(token, skip, done)
            for token, skip, done in parts
            if (token is None or isinstance(token, str))
            and isinstance(skip, int)
            and 0 <= skip <= MAX_RESULTS
            and isinstance(done, bool)
        ]
        valid = digest == fingerprint and len(positions) == len(parts) == count
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        valid = False
    if not valid:
        raise _invalid_cursor()
    return positions


async def _read_on(
    fetch: Callable[[RequestT], Awaitable[Page[ItemT]]],
    request: RequestT,
    start: _Position,
    first: int,
) -> list[tuple[ItemT, _Position]]:
    """Up to ``first`` items of one target from ``start``, each with the position after it."""
    read: list[tuple[ItemT, _Position]] = []
    token, skip = start.token, start.skip
    while not start.done and len(read) < first:
        page = await fetch(request.at(token, min(MAX_RESULTS, skip + first - len(read))))
        for offset, item in enumerate(page.items[skip:], start=skip + 1):
            if offset < len(page.items):
                after = _Position(token, offset)
            else:
                after = _Position(page.next_token, 0, done=page.next_token is None)
            read.append((item, after))
        if page.next_token is None or len(page.items) <= skip:
            break
        token, skip = page.next_token, 0
    return read


async def paginate_merged(
    fetch: Callable[[RequestT], Awaitable[Page[ItemT]]],
    requests: Sequence[RequestT],
    first: int,
    after: str | None,
    order: Callable[[ItemT], Any],
    descending: bool,
    to_node: Callable[[int, ItemT], NodeT],
    max_first: int,
) -> tuple[Connection[NodeT], list[tuple[int, Exception]]]:
    """One connection over several listings (one per target), merged in the order ``order``
    and ``descending`` give (the order each listing is already in), with one cursor that
    names where every listing resumes, so that paging visits each item exactly once.

    Every listing is read at once. One that fails leaves its items out, keeps its position
    (it is read again on the next page) and comes back as ``(index, error)``; ``to_node`` gets
    each item with the index of its listing.
    """
    if not 1 <= first <= max_first:
        raise bad_user_input(f"first must be from 1 to {max_first}, not {first}.")
    fingerprint = hashlib.sha256(
        repr([request.at(None, 0) for request in requests]).encode()
    ).hexdigest()[:16]
    positions = (
        _decode_merged(after, fingerprint, len(requests))
        if after
        else [_Position()] * len(requests)
    )
    read = await asyncio.gather(
        *(
            _read_on(fetch, request, start, first)
            for request, start in zip(requests, positions, strict=True)
        ),
        return_exceptions=True,
    )
    failures: list[tuple[int, Exception]] = []
    streams: list[list[tuple[int, ItemT, _Position]]] = []
    for index, result in enumerate(read):
        if isinstance(result, Exception):
            failures.append((index, result))
        elif isinstance(result, BaseException):
            raise result
        elif not result:
            # Nothing more to read there: the listing ended where it was to resume.
            positions = [*positions[:index], _Position(done=True), *positions[index + 1 :]]
        else:
            streams.append([(index, item, position) for item, position in result])
    merged = heapq.merge(*streams, key=lambda entry: order(entry[1]), reverse=descending)
    edges: list[Edge[NodeT]] = []
    for index, item, position in itertools.islice(merged, first):
        positions = [*positions[:index], position, *positions[index + 1 :]]
        edges.append(Edge(node=to_node(index, item), cursor=_encode_merged(positions, fingerprint)))
    page_info = PageInfo(
        has_next_page=not all(position.done for position in positions),
        has_previous_page=False,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return Connection(edges=edges, page_info=page_info), failures
