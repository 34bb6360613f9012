"""Automatic persisted queries (Apollo's protocol): a client sends a query's SHA-256 instead of
its text, and the text only when the service does not know the hash yet.

A request whose ``extensions.persistedQuery`` is ``{"version": 1, "sha256Hash": H}``:

* without a query: the text kept under H is run; unknown H is answered with
  PERSISTED_QUERY_NOT_FOUND, and the client sends the text with H (Apollo Client and urql do);
* with a query: its SHA-256 must be H (else BAD_REQUEST: a client must not register one text
  under another's hash); the text is kept under H and run.

Texts are kept in the cache's store (Redis when replicas share one, so a hash registered through
one replica is known to all; a bounded in-process LRU otherwise) for a day.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from typing import Any

from app.cache.codec import PersistedQuery
from app.cache.stores import KEY_PREFIX, Store

KEPT_SECONDS = 24 * 3600
HEX_DIGITS = frozenset(string.hexdigits)


class PersistedQueryNotFound(Exception):
    """The hash is not known: the client should send the query's text with it."""


class PersistedQueryRefused(Exception):
    """The persisted-query extension is malformed, or the hash is not the query's."""


class PersistedQueries:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def query_for(
        self, query: str | None, extensions: Mapping[str, Any] | None
    ) -> tuple[str | None, str | None]:
        """The query to run (``query`` itself, or the text kept under the request's hash) and
        the request's hash, if it sent one."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query, None
        digest = _hash_of(persisted)
        key = f"{KEY_PREFIX}:apq:{digest}"
        if query is None:
            entry = await self.store.get(key)
            if entry is None or not isinstance(entry.answer, PersistedQuery):
                raise PersistedQueryNotFound(digest)
            return entry.answer.query, digest
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            raise PersistedQueryRefused("The query's SHA-256 is not extensions.persistedQuery's.")
        await self.store.put(key, PersistedQuery(query), KEPT_SECONDS, 0)
        return query, digest


def _hash_of(persisted: object) -> str:
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise PersistedQueryRefused("extensions.persistedQuery must be {version: 1, sha256Hash}.")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= HEX_DIGITS:
        raise PersistedQueryRefused("extensions.persistedQuery.sha256Hash must be 64 hex digits.")
    return digest.lower()
