"""A rate limit toward SageMaker, so a fleet stays under the account's quota instead of living
on botocore's retries.

SageMaker throttles Describe and List calls per account and region. With ``SMGQL_RATE_LIMIT``
(e.g. ``20/second``) every operation gets its own budget of that rate, counted in a moving
window by the ``limits`` library: in this process, or, with Redis, across every replica that
shares the namespace. A call over the budget waits for room (and counts as a rate-limit wait);
one that would wait longer than a request may take fails as Throttled.
"""

from __future__ import annotations

import asyncio
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from app import metrics
from app.sagemaker.errors import THROTTLED_MESSAGE, Throttled


class RateLimit:
    def __init__(self, rate: str, redis_url: str | None, key_prefix: str, max_wait: float) -> None:
        self.item: RateLimitItem = parse(rate)
        storage: Storage
        if redis_url is not None:
            storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=key_prefix,
            )
        else:
            storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(storage)
        self.max_wait = max_wait

    async def acquire(self, operation: str) -> None:
        """Return once ``operation`` may call; raise Throttled if that is too far off."""
        give_up = time.time() + self.max_wait
        waited = False
        while not await self.limiter.hit(self.item, operation):
            if not waited:
                metrics.RATE_LIMIT_WAITS.labels(operation).inc()
                waited = True
            stats = await self.limiter.get_window_stats(self.item, operation)
            pause = max(stats.reset_time - time.time(), 0.005)
            if time.time() + pause > give_up:
                raise Throttled(THROTTLED_MESSAGE)
            await asyncio.sleep(min(pause, 0.25))
