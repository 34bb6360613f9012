"""Automatic persisted queries (Apollo's protocol): a client sends a query's SHA-256 instead of
its text, and the text only when the service does not know the hash yet.

A request whose ``extensions.persistedQuery`` is ``{"version": 1, "sha256Hash": H}``:

* without a query: the text kept under H is run; unknown H is answered with
  PERSISTED_QUERY_NOT_FOUND, and the client sends the text with H (Apollo Client and urql do);
* with a query: its SHA-256 must be H (else BAD_REQUEST: a client must not register one text
  under another's hash); the text is run, and kept under H (:meth:`PersistedQueries.register`)
  only once it has been parsed, held to the limits and validated: a text the service would
  refuse costs no memory, however often it is sent.

Texts are kept in Redis when replicas share one (a hash registered through one replica is known
to all), in a store of their own bounded in bytes otherwise, for ``kept_seconds``. What comes
back from a store is hashed again before it runs: a store is shared, and a text kept under the
wrong hash would run in place of the client's.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from typing import Any

from app.cache.codec import PersistedQuery
from app.cache.stores import KEY_PREFIX, Store

HEX_DIGITS = frozenset(string.hexdigits)


class PersistedQueryNotFound(Exception):
    """The hash is not known: the client should send the query's text with it."""


class PersistedQueryRefused(Exception):
    """The persisted-query extension is malformed, or the hash is not the query's."""


class PersistedQueries:
    def __init__(self, store: Store, kept_seconds: float) -> None:
        self.store = store
        self.kept_seconds = kept_seconds

    async def query_for(
        self, query: str | None, extensions: Mapping[str, Any] | None
    ) -> tuple[str | None, str | None]:
        """The query to run (``query`` itself, or the text kept under the request's hash) and
        the request's hash, if it sent one."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query, None
        digest = _hash_of(persisted)
        if query is None:
            entry = await self.store.get(_key(digest))
            if (
                entry is None
                or not isinstance(entry.answer, PersistedQuery)
                or _sha256(entry.answer.query) != digest
            ):
                raise PersistedQueryNotFound(digest)
            return entry.answer.query, digest
        if _sha256(query) != digest:
            raise PersistedQueryRefused("The query's SHA-256 is not extensions.persistedQuery's.")
        return query, digest

    async def register(self, digest: str, query: str) -> None:
        """Keep ``query`` under its hash ``digest``: call it once the query has run."""
        await self.store.put(_key(digest), PersistedQuery(query), self.kept_seconds, 0)


def _key(digest: str) -> str:
    return f"{KEY_PREFIX}:apq:{digest}"


def _sha256(query: str) -> str:
    # Only a tampered store can hold a text with a lone surrogate: it hashes without failing,
    # to a digest no client's text has.
    return hashlib.sha256(query.encode(errors="surrogatepass")).hexdigest()


def _hash_of(persisted: object) -> str:
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise PersistedQueryRefused("extensions.persistedQuery must be {version: 1, sha256Hash}.")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= HEX_DIGITS:
        raise PersistedQueryRefused("extensions.persistedQuery.sha256Hash must be 64 hex digits.")
    return digest.lower()
