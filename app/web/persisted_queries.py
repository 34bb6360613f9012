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

With trusted documents (``SMGQL_TRUSTED_DOCUMENTS``, :class:`TrustedDocuments`) the manifest
takes the store's place, and is all that runs: a request names a listed document by its id
(``extensions.persistedQuery.sha256Hash``, as Apollo's and urql's links send it, or
``documentId``, the GraphQL-over-HTTP persisted-documents field) or sends a listed document's
exact text; anything else, a new text under a listed id included, is refused before it is
parsed, and nothing is registered.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, parse

from app.cache.codec import PersistedQuery
from app.cache.stores import KEY_PREFIX, Store

HEX_DIGITS = frozenset(string.hexdigits)


class PersistedQueryNotFound(Exception):
    """The hash is not known: the client should send the query's text with it."""


class PersistedQueryRefused(Exception):
    """The persisted-query extension is malformed, or the hash is not the query's."""


class DocumentNotTrusted(Exception):
    """Trusted documents are on, and the request names none of them."""


class PersistedQueries:
    def __init__(
        self, store: Store, kept_seconds: float, trusted: TrustedDocuments | None = None
    ) -> None:
        self.store = store
        self.kept_seconds = kept_seconds
        self.trusted = trusted

    async def query_for(
        self,
        query: str | None,
        extensions: Mapping[str, Any] | None,
        document_id: str | None = None,
    ) -> tuple[str | None, str | None]:
        """The query to run (``query`` itself, or the text kept under the request's hash, or
        the trusted document it names) and the request's hash or document id, if it sent one."""
        if self.trusted is not None:
            return self.trusted.document_for(query, extensions, document_id)
        if document_id is not None:
            raise PersistedQueryRefused(
                "`documentId` names a trusted document, and this service has none: send the"
                " query's text."
            )
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
        """Keep ``query`` under its hash ``digest``: call it once the query has run. With
        trusted documents nothing is kept: the manifest is all that runs."""
        if self.trusted is not None:
            return
        await self.store.put(_key(digest), PersistedQuery(query), self.kept_seconds, 0)


# The digests a manifest's ids are checked against, by name and by length in hex digits:
# relay-compiler's persistConfig hashes with MD5 (its default), SHA1 or SHA256; graphql-codegen's
# client preset with SHA1 or SHA256. An id of any other form is the manifest's own name.
_DIGESTS = {"md5": 32, "sha1": 40, "sha256": 64}
_DIGEST_BY_LENGTH = {length: name for name, length in _DIGESTS.items()}


@dataclass(frozen=True)
class TrustedDocuments:
    """The documents a service with ``SMGQL_TRUSTED_DOCUMENTS`` runs, and nothing else: a
    manifest of ids to texts, as graphql-codegen's client preset (``persisted-documents.json``)
    and relay-compiler (``persistConfig.file``) write it."""

    by_id: Mapping[str, str]
    texts: frozenset[str]

    @classmethod
    def read(cls, manifest: object) -> TrustedDocuments:
        """The manifest's documents, each checked: a text that parses, under an id that is its
        digest when the id looks like one (bare hex of MD5, SHA1 or SHA256, or prefixed
        ``sha256:`` as GraphQL over HTTP words it). Raises ValueError naming the first entry
        that is not right: a manifest edited by hand or mixed up with another fails the start
        instead of refusing its clients one by one."""
        if not isinstance(manifest, dict) or not manifest:
            raise ValueError(
                "expected a JSON object of document ids to document texts, as graphql-codegen's"
                " persisted-documents.json or relay-compiler's persisted queries file"
            )
        for document_id, text in manifest.items():
            where = f"the entry {document_id[:80]!r}"
            if not isinstance(text, str):
                raise ValueError(f"{where}: its document must be a string of GraphQL")
            try:
                parse(text, no_location=True)
            except GraphQLError as error:
                raise ValueError(f"{where}: its document does not parse: {error.message}") from None
            algorithm = _digest_named_by(document_id)
            if algorithm is not None and _digest(algorithm, text) != _key_of(document_id):
                raise ValueError(f"{where}: its id is not the {algorithm.upper()} of its document")
        by_id = {_key_of(document_id): text for document_id, text in manifest.items()}
        return cls(by_id=by_id, texts=frozenset(by_id.values()))

    @property
    def digest(self) -> str:
        """A short digest of what the manifest lets run."""
        listed = json.dumps(sorted(self.by_id.items()), separators=(",", ":"))
        return hashlib.sha256(listed.encode()).hexdigest()[:16]

    def document_for(
        self, query: str | None, extensions: Mapping[str, Any] | None, document_id: str | None
    ) -> tuple[str | None, str | None]:
        """The listed text a request runs, and the id it named; DocumentNotTrusted when it
        names no listed document, sends a text that is not one, or sends another text under a
        listed id (a registration: the manifest is fixed at start)."""
        named = _named_id(extensions, document_id)
        if named is None:
            if query is not None and query not in self.texts:
                raise DocumentNotTrusted(
                    "This service runs only its trusted documents, and this query is not one:"
                    " send a listed document's id, or its exact text."
                )
            return query, None
        listed = self.by_id.get(_key_of(named))
        if listed is None:
            raise DocumentNotTrusted(
                f"No trusted document has the id {named[:80]!r}: this service runs only the"
                " documents of its manifest."
            )
        if query is not None and query != listed:
            raise DocumentNotTrusted(
                "This service runs only its trusted documents, and registers none: this text is"
                " not the document of its id."
            )
        return listed, named


def _named_id(extensions: Mapping[str, Any] | None, document_id: str | None) -> str | None:
    """The document id a request names: ``documentId``, or Apollo's persisted-query hash (any
    id of the manifest, not only a bare SHA-256: codegen's ids are ``sha256:``-prefixed, and
    SHA1 when so configured)."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return document_id
    digest = _sent_hash(persisted)
    if document_id is not None and document_id != digest:
        raise PersistedQueryRefused(
            "`documentId` and extensions.persistedQuery name different documents."
        )
    return digest


def _digest_named_by(document_id: str) -> str | None:
    """The digest ``document_id`` is, by its form: None for an id that is not one."""
    algorithm, _, digest = document_id.rpartition(":")
    if algorithm and (algorithm not in _DIGESTS or len(digest) != _DIGESTS[algorithm]):
        return None
    if not digest or not set(digest) <= HEX_DIGITS:
        return None
    return algorithm or _DIGEST_BY_LENGTH.get(len(digest))


def _key_of(document_id: str) -> str:
    """What a document is listed under: a digest id in lower case without its ``algorithm:``
    prefix (so that ``sha256:ABC...`` finds ``abc...``), any other id as it is."""
    if _digest_named_by(document_id) is None:
        return document_id
    return document_id.rpartition(":")[2].lower()


def _digest(algorithm: str, text: str) -> str:
    # Ids, not secrets: MD5 stays available on hosts that restrict it for security.
    return hashlib.new(algorithm, text.encode(), usedforsecurity=False).hexdigest()


def _key(digest: str) -> str:
    return f"{KEY_PREFIX}:apq:{digest}"


def _sha256(query: str) -> str:
    # Only a tampered store can hold a text with a lone surrogate: it hashes without failing,
    # to a digest no client's text has.
    return hashlib.sha256(query.encode(errors="surrogatepass")).hexdigest()


def _hash_of(persisted: object) -> str:
    digest = _sent_hash(persisted)
    if len(digest) != 64 or not set(digest) <= HEX_DIGITS:
        raise PersistedQueryRefused("extensions.persistedQuery.sha256Hash must be 64 hex digits.")
    return digest.lower()


def _sent_hash(persisted: object) -> str:
    """The hash of an ``extensions.persistedQuery`` of Apollo's shape, as sent."""
    if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
        raise PersistedQueryRefused("extensions.persistedQuery must be {version: 1, sha256Hash}.")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not digest:
        raise PersistedQueryRefused("extensions.persistedQuery.sha256Hash must be a string.")
    return digest
