"""Whole responses to identical requests, kept while every answer in them is fresh.

A frontend asks the same query with the same variables again and again; when nothing in the
answer can have gone stale, there is no reason to even walk the schema. A response is kept
under the schema's version (its SDL and limits: ``app.schema.schema_version``), the query text,
its variables and its operation name, for as long as the shortest-lived
SageMaker answer it holds stays fresh (noted in the request's ledger, ``app.ledger``), at
most the settled TTL. A response with any error is never kept: errors are per request (a
deadline, a throttle) or cheap to find again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from app.cache.codec import CachedResponse
from app.cache.stores import KEY_PREFIX, Store


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

    def key(self, query: str, variables: dict[str, Any] | None, operation: str | None) -> str:
        request = json.dumps([query, variables, operation], sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(request.encode()).hexdigest()
        return f"{self.prefix}:{digest}"

    async def get(self, key: str) -> tuple[dict[str, Any], float] | None:
        """The kept response's data and how many seconds it stays fresh; None on a miss."""
        entry = await self.store.get(key)
        now = self.clock()
        if entry is None or not isinstance(entry.answer, CachedResponse):
            return None
        # Fresh by this replica's bound, whatever its writer said.
        fresh_until = min(entry.fresh_until, entry.written + self.max_seconds)
        if now >= fresh_until:
            return None
        return entry.answer.data, fresh_until - now

    async def put(self, key: str, data: dict[str, Any], fresh_for: float) -> None:
        seconds = min(fresh_for, self.max_seconds)
        if seconds > 0:
            await self.store.put(key, CachedResponse(data), seconds, 0)
