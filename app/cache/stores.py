"""Where cached answers live: an in-process LRU bounded in bytes here, or Redis shared by replicas
(:mod:`app.cache.redis_store`, loaded only when configured).

Both keep, per key, the answer, when it was written, and the wall-clock time until which it is
fresh (a reader still holds that to its own policy: :mod:`app.cache.cached_sagemaker`); an entry
lives on past that for the policy's ``stale`` seconds, so that a caller may serve it while one
refresh runs. Redis also gives replicas a lock per key: the first replica to miss fetches, the
others wait for its answer instead of asking SageMaker too (the lock expires by itself, so a
replica that dies holding it delays the others by at most its TTL, never for ever).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Every key the service writes to a store starts so: a new layout of keys or values changes it.
KEY_PREFIX = "smgql:v1"

# Seconds between two sweeps of a memory store for expired entries.
PURGE_EVERY = 60.0


@dataclass(frozen=True)
class Entry:
    answer: object
    fresh_until: float
    # When it was written, by its writer's wall clock: a reader caps its freshness from there
    # by its own policy (another replica's may be longer, or its entry corrupt).
    written: float

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
    """A least-recently-used store of answers as Python objects, for one process, bounded in
    bytes: each entry counts what it holds in memory (:func:`footprint`), an entry larger than
    ``max_entry_bytes`` is not kept, and the least recently used go first when the whole passes
    ``max_bytes``. Expired entries are dropped when met, and all of them once a minute, so
    that what nobody asks for again does not hold the budget until it is pushed out."""

    name = "memory"

    def __init__(
        self, max_bytes: int, max_entry_bytes: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.clock = clock
        self.bytes = 0
        self.entries: OrderedDict[str, _Kept] = OrderedDict()
        self.next_purge = clock() + PURGE_EVERY

    async def get(self, key: str) -> Entry | None:
        kept = self.entries.get(key)
        if kept is None:
            return None
        if self.clock() >= kept.expires:
            self._drop(key)
            return None
        self.entries.move_to_end(key)
        return kept.entry

    async def put(self, key: str, answer: object, fresh_for: float, stale_for: float) -> None:
        now = self.clock()
        if now >= self.next_purge:
            self._purge(now)
        size = footprint(answer, limit=self.max_entry_bytes) + len(key)
        if key in self.entries:
            self._drop(key)
        if size > self.max_entry_bytes:
            return
        expires = now + fresh_for + stale_for
        self.entries[key] = _Kept(Entry(answer, now + fresh_for, now), expires, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self.entries)))

    def _drop(self, key: str) -> None:
        self.bytes -= self.entries.pop(key).size

    def _purge(self, now: float) -> None:
        for key in [key for key, kept in self.entries.items() if now >= kept.expires]:
            self._drop(key)
        self.next_purge = now + PURGE_EVERY

    async def lock(self, key: str, seconds: float) -> str | None:
        return "local"

    async def unlock(self, key: str, token: str) -> None:
        return None

    async def close(self) -> None:
        self.entries.clear()
        self.bytes = 0


@dataclass(frozen=True)
class _Kept:
    entry: Entry
    # Wall-clock time after which the entry is gone, stale or not.
    expires: float
    size: int


def footprint(value: object, limit: int) -> int:
    """The bytes ``value`` holds in memory with all it refers to (each object counted once),
    or a number above ``limit`` as soon as the count passes it: an answer too large to keep
    is not walked to its end."""
    seen: set[int] = set()
    pending = [value]
    total = 0
    while pending and total <= limit:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
        elif dataclasses.is_dataclass(item):
            pending.extend(getattr(item, field.name) for field in dataclasses.fields(item))
    return total
