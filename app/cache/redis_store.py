"""Cached answers in Redis, shared by every replica that uses the same URL and namespace.

Imported only when ``SMGQL_CACHE=redis``: the client library costs about 5 MB a process.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.cache.codec import Undecodable, decode, encode
from app.cache.stores import Entry

log = logging.getLogger("app.cache")


# Delete the lock only if it is still ours: it may have expired and been taken by another.
_UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisStore:
    """Answers as JSON in Redis, shared by every replica that uses the same URL and namespace.

    An answer larger than ``max_entry_bytes`` encoded is not kept; the whole is bounded by
    Redis's own ``maxmemory`` (an LRU policy lets it evict), and every entry expires.

    Redis trouble never fails a request: a read that fails is a miss, a write that fails is
    skipped, a lock that cannot be taken is taken (each replica then asks SageMaker itself).
    """

    name = "redis"

    def __init__(
        self, url: str, max_entry_bytes: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.max_entry_bytes = max_entry_bytes
        self.clock = clock
        self.unlock_script = self.redis.register_script(_UNLOCK)

    async def get(self, key: str) -> Entry | None:
        try:
            stored = await self.redis.hmget(key, ["answer", "fresh"])
        except RedisError as error:
            _warn("read", error)
            return None
        data, fresh = stored
        if data is None or fresh is None:
            return None
        try:
            return Entry(decode(data), float(fresh))
        except (Undecodable, ValueError):
            return None

    async def put(self, key: str, answer: object, fresh_for: float, stale_for: float) -> None:
        lifetime = max(1, round((fresh_for + stale_for) * 1000))
        encoded = encode(answer)
        if len(encoded) > self.max_entry_bytes:
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"answer": encoded, "fresh": self.clock() + fresh_for})
                pipe.pexpire(key, lifetime)
                await pipe.execute()
        except RedisError as error:
            _warn("write", error)

    async def lock(self, key: str, seconds: float) -> str | None:
        token = secrets.token_hex(8)
        try:
            taken = await self.redis.set(
                f"{key}:lock", token, nx=True, px=max(1, round(seconds * 1000))
            )
        except RedisError as error:
            _warn("lock", error)
            return token
        return token if taken else None

    async def unlock(self, key: str, token: str) -> None:
        try:
            await self.unlock_script(keys=[f"{key}:lock"], args=[token])
        except RedisError as error:
            _warn("unlock", error)

    async def close(self) -> None:
        await self.redis.aclose()


def _warn(action: str, error: RedisError) -> None:
    log.warning({"event": "cache_store_failure", "action": action, "error": type(error).__name__})
