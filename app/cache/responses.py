"""Whole answers to identical requests, kept as the bytes that were sent, while every SageMaker
answer in them is fresh.

A frontend asks the same query with the same variables again and again; when nothing in the
answer can have gone stale, there is no reason to build anything GraphQL-shaped for it, or even
to read the request as JSON. So an answer is kept under the request exactly as it came (the
method's kind and the body of a POST, or the query string of a GET), in the schema's version
(its SDL and limits: ``app.schema.schema_version``, and the trusted documents when a manifest is
set), as the encoded body that was sent, for as long as the shortest-lived SageMaker answer it
holds stays fresh (noted in the request's ledger, ``app.ledger``), at most the settled TTL.

Only a plain answer is kept: one with data and no error (errors are per request: a deadline, a
throttle), that registered no persisted query, with no per-request extension (a cost, a
federated trace). A request that differs only in spacing is another key, and costs one more
execution; a key is what the client sent, so it needs no parsing to be looked up.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import NamedTuple

from app.cache.codec import CachedResponse
from app.cache.stores import KEY_PREFIX, Store


class KeptResponse(NamedTuple):
    """A kept answer: its body, its operation's name for metrics and logs, and how many
    seconds it stays fresh."""

    body: bytes
    operation: str | None
    fresh_for: float


class ResponseCache:
    def __init__(
        self,
        store: Store,
        namespace: str,
        schema_version: str,
        max_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.prefix = f"{KEY_PREFIX}:{namespace}:response:{schema_version}"
        self.max_seconds = max_seconds
        self.clock = clock

    def key(self, method: str, request: bytes) -> str:
        """The key of a request: a POST's body, or a GET's (or HEAD's) query string."""
        kind = b"POST\n" if method == "POST" else b"GET\n"
        # BLAKE2b, as collision-resistant as SHA-256 (a client must not be able to make its
        # request's key another's), and made without OpenSSL's per-hash set-up: 7,000
        # instructions a key against 10,700, of an answer from this cache's 300,000.
        return f"{self.prefix}:{hashlib.blake2b(kind + request, digest_size=32).hexdigest()}"

    async def get(self, key: str) -> KeptResponse | None:
        entry = await self.store.get(key)
        now = self.clock()
        if entry is None or not isinstance(entry.answer, CachedResponse):
            return None
        # Fresh by this replica's bound, whatever its writer said.
        fresh_until = min(entry.fresh_until, entry.written + self.max_seconds)
        if now >= fresh_until:
            return None
        kept = entry.answer
        return KeptResponse(kept.body, kept.operation, fresh_until - now)

    async def put(self, key: str, body: bytes, operation: str | None, fresh_for: float) -> None:
        seconds = min(fresh_for, self.max_seconds)
        if seconds > 0:
            await self.store.put(key, CachedResponse(body, operation), seconds, 0)
