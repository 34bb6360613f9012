"""What one request cost and how long its answer may be reused: its ledger.

Every room a request passes through writes to the same ledger, handed down explicitly (on the
request's context, to its loaders, to the cache and the AWS client): the client notes each
upstream call and its retries, the cache its hits and coalesced waits and how long each answer
it handed out stays fresh, the schema its object estimate. The web room reads it back for the
response cache's lifetime, ``Cache-Control`` and ``extensions.cost``. It imports nothing, so any
room may take one.

A task started for a request (a loader's batch, a cache's detached fetch) writes to the ledger
of the request that started it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Ledger:
    upstream_calls: int = 0
    cache_hits: int = 0
    coalesced_waits: int = 0
    retries: int = 0
    estimated_objects: int | None = None
    response_cache_hit: bool = False
    # Seconds the shortest-lived answer the request used stays fresh: how long the response
    # may be reused (inf until an answer is noted; 0 once a stale one is).
    fresh_for: float = math.inf

    def upstream_call(self, retries: int) -> None:
        self.upstream_calls += 1
        self.retries += retries

    def cache_hit(self) -> None:
        self.cache_hits += 1

    def coalesced_wait(self) -> None:
        self.coalesced_waits += 1

    def used_answer(self, fresh_for: float) -> None:
        """Note that the request used an answer fresh for ``fresh_for`` more seconds."""
        self.fresh_for = min(self.fresh_for, max(fresh_for, 0.0))

    def as_extension(self) -> dict[str, int | bool | None]:
        """The ledger as ``extensions.cost`` (``SMGQL_COST_EXTENSION``)."""
        return {
            "upstreamCalls": self.upstream_calls,
            "cacheHits": self.cache_hits,
            "coalescedWaits": self.coalesced_waits,
            "retries": self.retries,
            "estimatedObjects": self.estimated_objects,
            "responseCacheHit": self.response_cache_hit,
        }
