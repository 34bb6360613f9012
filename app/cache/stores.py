"""Where cached answers live: a bounded in-process LRU here, or Redis shared by replicas
(:mod:`app.cache.redis_store`, loaded only when configured).

Both keep, per key, the answer and the wall-clock time until which it is fresh; an entry lives
on past that for the policy's ``stale`` seconds, so that a caller may serve it while one refresh
runs. Redis also gives replicas a lock per key: the first replica to miss fetches, the others
wait for its answer instead of asking SageMaker too (the lock expires by itself, so a replica
that dies holding it delays the others by at most its TTL, never for ever).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Every key the service writes to a store starts so: a new layout of keys or values changes it.
KEY_PREFIX = "smgql:v1"


@dataclass(frozen=True)
class Entry:
    answer: object
    fresh_until: float

    def is_fresh(self, now: float) -> bool:
        return now < self.fresh_until


class Store(Protocol):
    name: str

    async def get(self, key: str) -> Entry | None: ...

    async def put(self, key: str, answer: object, fresh_for: float, stale_for: float) -> None: ...

    async def lock(self, key: str, seconds: float) -> str | None:
        """A token when this caller may fetch ``key`` for everyone; None when another holds
        the lock (then wait for its answer). A store of one process always grants it."""
        ...

    async def unlock(self, key: str, token: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """A bounded LRU of answers as Python objects, for one process."""

    name = "memory"

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self.entries: OrderedDict[str, tuple[Entry, float]] = OrderedDict()

    async def get(self, key: str) -> Entry | None:
        found = self.entries.get(key)
        if found is None:
            return None
        entry, expires = found
        if self.clock() >= expires:
            del self.entries[key]
            return None
        self.entries.move_to_end(key)
        return entry

    async def put(self, key: str, answer: object, fresh_for: float, stale_for: float) -> None:
        now = self.clock()
        self.entries[key] = (Entry(answer, now + fresh_for), now + fresh_for + stale_for)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    async def lock(self, key: str, seconds: float) -> str | None:
        return "local"

    async def unlock(self, key: str, token: str) -> None:
        return None

    async def close(self) -> None:
        self.entries.clear()
