"""How long an answer stays fresh: by what it is, not one TTL for all.

A version that is CREATED rarely changes (an UpdateImageVersion can still change its aliases,
guidance or notes, hence a bounded TTL); one that is CREATING will be CREATED within minutes, and
a client polling it wants to see that soon. Which version an alias or "latest" names moves when
versions are updated or created, like list pages, so those keys get the list TTL. "Not found" is
kept briefly (a negative cache), so a client hammering a missing image costs little, and a new
image shows up soon. Throttling, 5xx and access errors say nothing about the resource: never
kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.sagemaker import (
    ImageDescription,
    ImageVersionDescription,
    ImageVersionKey,
    NotFound,
)
from app.sagemaker.operations import Freshness

# Statuses a resource leaves by itself, soon.
TRANSITIONS = frozenset({"CREATING", "UPDATING", "DELETING"})


@dataclass(frozen=True)
class CachePolicy:
    """Seconds each kind of answer stays fresh; 0 keeps nothing of that kind."""

    settled: float = 30.0
    changing: float = 2.0
    lists: float = 10.0
    not_found: float = 5.0
    # Seconds past freshness an answer may still be served while one refresh runs.
    stale: float = 0.0

    def ttl(self, freshness: Freshness, key: object, answer: object) -> float:
        """How long ``answer`` (a record, a page, an alias list or NotFound) for ``key`` of an
        operation timed by ``freshness`` stays fresh."""
        if isinstance(answer, NotFound):
            return self.not_found
        if freshness is Freshness.LISTING:
            return self.lists
        status = None
        if isinstance(answer, ImageVersionDescription):
            status = answer.image_version_status
        elif isinstance(answer, ImageDescription):
            status = answer.image_status
        if status in TRANSITIONS:
            return self.changing
        if isinstance(key, ImageVersionKey) and key.version is None:
            return self.lists
        return self.settled
