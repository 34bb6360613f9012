"""The list operations' common machinery: time filters, sort orders and keyset pagination.

Pages are cut by keyset (``WHERE (sort, tiebreak) > last seen``), not by offset, so paging never
repeats or skips a row, whatever is inserted or deleted meanwhile. The ``NextToken`` carries the
last row's keys and a digest of the query; a token is refused with AWS's ValidationException
("Invalid pagination token") when it is garbled, forged or replayed against another query, whose
order it would not fit. Whatever a client puts in a token, it never reaches SQLite unless it is
a pair of plain keys (text, or numbers SQLite holds), so no token can fail the endpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import sqlite3
from typing import Any

from app.local_sagemaker.database import milliseconds
from app.local_sagemaker.protocol import AwsError

DEFAULT_PAGE_SIZE = 10

# Sort keys of the list operations: API value -> column. A second column breaks ties so that
# keyset pagination visits every row exactly once.
IMAGE_SORT = {"CREATION_TIME": "created", "LAST_MODIFIED_TIME": "modified", "IMAGE_NAME": "name"}
VERSION_SORT = {"CREATION_TIME": "created", "LAST_MODIFIED_TIME": "modified", "VERSION": "version"}

# AWS documents the filters as "on or after" and "on or before": a bound is inclusive.
_TIME_FILTERS = {
    "CreationTimeAfter": "created >= ?",
    "CreationTimeBefore": "created <= ?",
    "LastModifiedTimeAfter": "modified >= ?",
    "LastModifiedTimeBefore": "modified <= ?",
}


def time_filters(params: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """The ``WHERE`` clauses and arguments of the request's time filters, cut to milliseconds
    as the stored times are, so a bound read from an answer matches its row exactly."""
    where = [clause for member, clause in _TIME_FILTERS.items() if member in params]
    # As floats, like the columns: an integer timestamp past 64 bits would overflow SQLite's.
    bounds = [milliseconds(float(params[member])) for member in _TIME_FILTERS if member in params]
    return where, bounds


def _fingerprint(params: dict[str, Any]) -> str:
    """A digest of a listing's filters, so a token cannot be replayed against another query."""
    query = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:16]


def _encode_token(position: list[Any], fingerprint: str) -> str:
    raw = json.dumps({"after": position, "query": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, fingerprint: str) -> list[Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        position = decoded["after"]
        valid = (
            decoded["query"] == fingerprint
            and isinstance(position, list)
            and len(position) == 2
            and all(_is_a_key(key) for key in position)
        )
    # RecursionError: a token of deeply nested JSON, which json.loads cannot read.
    except (binascii.Error, ValueError, KeyError, TypeError, RecursionError):
        valid = False
    if not valid:
        raise AwsError(
            "ValidationException",
            "Invalid pagination token: the NextToken is not one this request returned",
        )
    return list(position)


def _is_a_key(key: Any) -> bool:
    """Whether ``key`` is a value a page can end on: text or a number SQLite can bind."""
    if isinstance(key, bool):
        return False
    if isinstance(key, int):
        return -(2**63) <= key < 2**63
    if isinstance(key, float):
        return math.isfinite(key)
    return isinstance(key, str)


def page(
    db: sqlite3.Connection,
    table: str,
    where: list[str],
    args: list[Any],
    sort_column: str,
    tiebreak_column: str,
    params: dict[str, Any],
) -> tuple[list[sqlite3.Row], dict[str, str]]:
    """One page of ``table``'s rows matching ``where``, in the order ``params`` asks for.
    Returns the rows and, when more remain, ``{"NextToken": ...}``."""
    descending = params.get("SortOrder", "DESCENDING") == "DESCENDING"
    direction, comparison = ("DESC", "<") if descending else ("ASC", ">")
    digest = _fingerprint(params)
    where, args = list(where), list(args)
    if "NextToken" in params:
        where.append(f"({sort_column}, {tiebreak_column}) {comparison} (?, ?)")
        args.extend(_decode_token(params["NextToken"], digest))
    limit = params.get("MaxResults", DEFAULT_PAGE_SIZE)
    sql = (
        f"SELECT * FROM {table} WHERE {' AND '.join(where) or '1'} "  # noqa: S608
        f"ORDER BY {sort_column} {direction}, {tiebreak_column} {direction} LIMIT ?"
    )
    rows = db.execute(sql, (*args, limit + 1)).fetchall()
    if len(rows) <= limit:
        return rows, {}
    last = rows[limit - 1]
    token = _encode_token([last[sort_column], last[tiebreak_column]], digest)
    return rows[:limit], {"NextToken": token}
