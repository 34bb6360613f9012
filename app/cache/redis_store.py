"""Cached answers in Redis, shared by every replica that uses the same URL and namespace.

Imported only when ``SMGQL_CACHE=redis``: the client library costs about 5 MB a process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from app import metrics
from app.cache.breaker import CircuitBreaker
from app.cache.codec import Undecodable, decode, encode
from app.cache.stores import Entry

log = logging.getLogger("app.cache")

T = TypeVar("T")

# Connections to Redis at most, per process. Beyond it a call waits for one (within its time box)
# rather than failing: Redis answers in well under a millisecond, so the wait is short unless
# Redis stalls, which the time box then says.
MAX_CONNECTIONS = 100

# Locks remembered for release once Redis answers again, at most (the rest expire by themselves).
MAX_UNRELEASED = 10_000

# Delete the lock only if it is still ours: it may have expired and been taken by another.
_UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisStore:
    """Answers as JSON in Redis, shared by every replica that uses the same URL and namespace.

    An answer larger than ``max_entry_bytes`` encoded is not kept; the whole is bounded by
    Redis's own ``maxmemory`` (an LRU policy lets it evict), and every entry expires.

    Redis is a cache, never a dependency: each call has ``timeout`` seconds, and one that fails
    or outruns it is a miss or a skipped write (a lock: see :meth:`lock`); every call while
    ``breaker`` is open is bypassed: a read is a miss, a write is skipped, a lock is granted
    (each replica then asks SageMaker itself). What a read
    finds is checked: an answer the codec cannot read, or times that are not finite numbers,
    are a miss.

    A lock whose release did not reach Redis (bypassed, failed, or its taking timed out but
    landed when Redis woke) would hold every replica's fetch of its key until it expires (the
    lock's seconds, 10 by default): its token is remembered and released as soon as Redis
    answers again.
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        timeout: float,
        breaker: CircuitBreaker,
        max_entry_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # No retries: a cache that retries turns a slow Redis into a slow request; the breaker
        # decides when to try again.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=None,  # the time box bounds the wait
            # The attempt's bound (twice the time box: see _call) bounds reads and connects.
            socket_timeout=2 * timeout,
            socket_connect_timeout=2 * timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self.redis = Redis.from_pool(pool)
        self.max_entry_bytes = max_entry_bytes
        self.timeout = timeout
        self.breaker = breaker
        self.clock = clock
        self.unlock_script = self.redis.register_script(_UNLOCK)
        # (lock key, token) of the locks this process may still hold, and their release: one
        # key may have several, when attempts that outran the time box landed one after another.
        self.unreleased: set[tuple[str, str]] = set()
        self.releasing: asyncio.Task[None] | None = None
        # Calls their callers gave up on, still waiting for Redis's verdict.
        self.attempts: set[asyncio.Future[Any]] = set()

    async def get(self, key: str) -> Entry | None:
        stored = await self._call(
            "get", lambda: self.redis.hmget(key, ["answer", "fresh", "written"]), None, None
        )
        if stored is None:
            return None
        data, fresh, written = stored
        if data is None or fresh is None or written is None:
            return None
        try:
            entry = Entry(decode(data), float(fresh), float(written))
        except (Undecodable, ValueError):
            return None
        if not (math.isfinite(entry.fresh_until) and math.isfinite(entry.written)):
            return None
        return entry

    async def put(self, key: str, answer: object, fresh_for: float, stale_for: float) -> None:
        lifetime = max(1, round((fresh_for + stale_for) * 1000))
        now = self.clock()
        data = encode(answer)
        if len(data) > self.max_entry_bytes:
            return

        async def write() -> None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"answer": data, "fresh": now + fresh_for, "written": now})
                pipe.pexpire(key, lifetime)
                await pipe.execute()

        await self._call("put", write, None, None)

    async def lock(self, key: str, seconds: float) -> str | None:
        """Granted while Redis is bypassed. A call that failed is not taken (the caller tries
        again, by when the breaker may have opened): granting it would let every replica whose
        call was slow fetch the key too. It may have landed all the same: it is released once
        Redis answers again."""
        token = secrets.token_hex(8)
        lock_key = f"{key}:lock"

        async def take() -> bool:
            milliseconds = max(1, round(seconds * 1000))
            return bool(await self.redis.set(lock_key, token, nx=True, px=milliseconds))

        taken = await self._call("lock", take, True, None)
        if taken is None:
            self._remember(lock_key, token)
        return token if taken else None

    async def unlock(self, key: str, token: str) -> None:
        lock_key = f"{key}:lock"
        if not await self._release(lock_key, token):
            self._remember(lock_key, token)

    async def close(self) -> None:
        pending = [*self.attempts, *([self.releasing] if self.releasing is not None else [])]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.redis.aclose()

    async def _release(self, lock_key: str, token: str) -> bool:
        """Whether Redis ran the release of ``lock_key`` (deleted if still ``token``'s)."""

        async def release() -> bool:
            await self.unlock_script(keys=[lock_key], args=[token])
            return True

        return await self._call("unlock", release, False, False)

    def _remember(self, lock_key: str, token: str) -> None:
        if len(self.unreleased) < MAX_UNRELEASED:
            self.unreleased.add((lock_key, token))

    async def _release_unreleased(self) -> None:
        """The remembered locks released, one call each, until Redis is bypassed again."""
        while self.unreleased:
            lock_key, token = self.unreleased.pop()
            if not await self._release(lock_key, token):
                self.unreleased.add((lock_key, token))
                return

    async def _call(
        self, action: str, call: Callable[[], Awaitable[T]], bypassed: T, failed: T
    ) -> T:
        """``call``'s result within the time box; ``bypassed`` when the breaker is open, and
        ``failed`` when the call fails or outruns its time box.

        A call past its time box is given up by its caller, not yet by the breaker: it runs on
        for one more time box, and only then says whether Redis stalled. A reply that merely
        waited for a busy event loop (a burst of requests; new connections) then still comes,
        and tells the breaker Redis is fine; a stalled Redis's does not."""
        if not self.breaker.allows():
            metrics.CACHE_STORE_BYPASSED_CALLS.labels(self.name, action).inc()
            return bypassed
        started = self.breaker.clock()
        attempt = asyncio.ensure_future(self._within(2 * self.timeout, call))
        try:
            await asyncio.wait({attempt}, timeout=self.timeout)
        except BaseException:
            attempt.cancel()
            self.breaker.abandoned()
            raise
        if not attempt.done():
            self.attempts.add(attempt)
            attempt.add_done_callback(self.attempts.discard)
            attempt.add_done_callback(lambda done: self._settle(action, done, started))
            return failed
        error = attempt.exception()
        if error is not None and not isinstance(error, (TimeoutError, RedisError)):
            self.breaker.abandoned()
            raise error  # a defect, not Redis
        self._settle(action, attempt, started)
        return failed if error is not None else attempt.result()

    @staticmethod
    async def _within(seconds: float, call: Callable[[], Awaitable[T]]) -> T:
        async with asyncio.timeout(seconds):
            return await call()

    def _settle(self, action: str, attempt: asyncio.Future[T], started: float) -> None:
        """What a finished call tells the breaker (and the metrics, and the log)."""
        if attempt.cancelled():
            self.breaker.abandoned()
            return
        error = attempt.exception()
        if isinstance(error, (TimeoutError, RedisTimeout)):
            stalled = self.breaker.timed_out(started)
            self._failed(action, "timeout", {"error": "timeout", "stall": stalled})
        elif isinstance(error, RedisError):
            self._failed(action, "error", {"error": type(error).__name__})
            self.breaker.failed(stalled=False)
        elif error is None:
            self.breaker.succeeded()
            if self.unreleased and (self.releasing is None or self.releasing.done()):
                self.releasing = asyncio.ensure_future(self._release_unreleased())
        else:  # a defect, not Redis, when its caller had stopped waiting
            self.breaker.abandoned()
            log.error({"event": "cache_store_defect", "action": action}, exc_info=error)

    def _failed(self, action: str, failure: str, facts: dict[str, object]) -> None:
        metrics.CACHE_STORE_FAILURES.labels(self.name, action, failure).inc()
        log.warning({"event": "cache_store_failure", "action": action, **facts})
