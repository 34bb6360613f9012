"""The cache on a real Redis that stalls (``DEBUG SLEEP``, sent on a connection of its own) or
refuses connections: Redis is a cache, never a dependency. Requests keep being answered from
SageMaker, a stall costs the request in flight when it begins at most two short time boxes and
the others nothing, ``/readyz`` says the cache is degraded without failing, and the cache resumes
once Redis answers again; what Redis holds is read only when it makes sense.

These tests wait on real timers: the Redis calls' time box (a socket timeout) is what they test.
The breaker's cool-down runs on a clock the test moves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import pytest
from mypy_boto3_sagemaker import SageMakerClient
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from app.cache.breaker import CircuitBreaker
from app.cache.codec import encode
from app.cache.redis_store import RedisStore
from app.local_sagemaker import BackgroundEndpoint
from tests.conftest import EndpointControl, create_image, free_port
from tests.fakes import FakeClock, version
from tests.service.conftest import TEST_SETTINGS, GraphQLClient, serving

QUERY = "query($name: String!) { imageVersion(imageName: $name, version: 1) { version } }"
TIME_BOX = 0.2
COOLDOWN = 5.0
# Longer than the requests made while it lasts take, with room to spare on a busy machine.
STALL_SECONDS = 2


async def _version(client: GraphQLClient, name: str) -> int:
    body = await client.query(QUERY, name=name)
    assert "errors" not in body, body
    number: int = body["data"]["imageVersion"]["version"]
    return number


@asynccontextmanager
async def _stalled(redis_url: str, seconds: float) -> AsyncIterator[asyncio.Future[bytes]]:
    """Redis asleep for ``seconds`` (``DEBUG SLEEP``, on a connection of its own); yields the
    future of its reply, which comes when Redis wakes."""
    url = urlsplit(redis_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(b"DEBUG SLEEP 0\r\n")
        assert await reader.readline() == b"+OK\r\n", "the Redis under test refuses DEBUG"
        writer.write(f"DEBUG SLEEP {seconds:g}\r\n".encode())
        await writer.drain()
        woke = asyncio.ensure_future(reader.readline())
        try:
            yield woke
        finally:
            assert await woke == b"+OK\r\n"
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_stalled_redis_is_bypassed_and_the_cache_resumes_once_it_answers(
    endpoint: BackgroundEndpoint,
    control: EndpointControl,
    sagemaker: SageMakerClient,
    redis_url: str,
) -> None:
    name = create_image(sagemaker, 1)
    settings = dataclasses.replace(
        TEST_SETTINGS,
        endpoint_url=endpoint.url,
        cache="redis",
        redis_url=redis_url,
        cache_namespace=f"stall-{uuid.uuid4().hex}",
        redis_timeout=TIME_BOX,
        redis_cooldown=COOLDOWN,
    )
    cooldowns = FakeClock()
    async with serving(settings, monotonic=cooldowns) as (_, client):
        assert await _version(client, name) == 1
        control.reset()
        assert await _version(client, name) == 1
        assert control.calls("DescribeImageVersion") == 0, "the answer is kept in Redis"
        assert (await client.http.get("/readyz")).json() == {"status": "ready"}

        async with _stalled(redis_url, STALL_SECONDS) as woke:
            took = []
            for _ in range(10):
                started = time.monotonic()
                assert await _version(client, name) == 1
                took.append(time.monotonic() - started)
            ready = await client.http.get("/readyz")
            metrics = (await client.http.get("/metrics")).text
            assert not woke.done(), "all of this happened while Redis slept"
        assert max(took) < 2 * TIME_BOX + 0.3, f"two time boxes at most: {took}"
        assert max(took[1:]) < TIME_BOX, f"the first stall bypasses Redis for all: {took}"
        assert control.calls("DescribeImageVersion") == 10, "answered from SageMaker"
        assert ready.status_code == 200
        assert ready.json() == {"status": "degraded", "cache": "bypassed"}
        assert 'smgql_cache_store_bypassed{store="redis"} 1.0' in metrics

        # Redis is awake, but bypassed until the cool-down is over.
        control.reset()
        assert await _version(client, name) == 1
        assert control.calls("DescribeImageVersion") == 1
        cooldowns.advance(COOLDOWN)
        # This request's first call probes Redis, which answers: the kept response again.
        assert await _version(client, name) == 1
        assert control.calls("DescribeImageVersion") == 1
        ready = await client.http.get("/readyz")
        assert ready.json() == {"status": "ready"}
        metrics = (await client.http.get("/metrics")).text
        assert 'smgql_cache_store_bypassed{store="redis"} 0.0' in metrics


async def test_a_reply_late_only_because_this_process_was_busy_is_no_stall(
    redis_url: str,
) -> None:
    # Redis answers within the time box, but this process is busy (a burst of load) until the
    # time box is over: the reply and the time box's end then wait in its event loop together.
    key = f"smgql:test:{uuid.uuid4().hex}"
    breaker = CircuitBreaker("redis", 3, COOLDOWN)
    store = RedisStore(redis_url, TIME_BOX, breaker, 1 << 20)
    try:
        await store.put(key, version(), 30, 0)
        async with _stalled(redis_url, TIME_BOX / 2):
            busy = TIME_BOX * 1.25  # from 0.05 s until between one and two time boxes
            asyncio.get_running_loop().call_later(0.05, time.sleep, busy)
            entry = await store.get(key)
        assert entry is not None
        assert entry.answer == version()
        assert not breaker.bypassing
    finally:
        await store.close()


def _bypassed_calls(action: str) -> float:
    labels = {"store": "redis", "action": action}
    return REGISTRY.get_sample_value("smgql_cache_store_bypassed_calls_total", labels) or 0.0


async def test_a_refusing_redis_is_bypassed_after_three_failures_in_a_row() -> None:
    breaker = CircuitBreaker("redis", 3, COOLDOWN, FakeClock())
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", TIME_BOX, breaker, 1 << 20)
    try:
        assert await store.lock("k", 1.0) is None, "a lock Redis did not answer is not taken"
        [(lock_key, _)] = store.unreleased
        assert lock_key == "k:lock", "in case it landed: released later"
        for _ in range(2):
            assert await store.get("k") is None
        assert breaker.bypassing
        before = _bypassed_calls("lock")
        assert await store.lock("k", 1.0) is not None, "a bypassed lock is granted"
        assert _bypassed_calls("lock") == before + 1
    finally:
        await store.close()


async def test_a_lock_whose_release_was_bypassed_is_released_once_redis_answers(
    redis_url: str,
) -> None:
    # Left held, it would make every replica's next fetch of its key wait until it expires.
    key = f"smgql:test:{uuid.uuid4().hex}"
    cooldowns = FakeClock()
    breaker = CircuitBreaker("redis", 3, COOLDOWN, cooldowns)
    store = RedisStore(redis_url, TIME_BOX, breaker, 1 << 20)
    raw = Redis.from_url(redis_url)
    try:
        token = await store.lock(key, 10)
        assert token is not None
        breaker.failed(stalled=True)  # as if another call had outrun its time box meanwhile
        await store.unlock(key, token)
        # Another attempt's token for the same key, remembered too (attempts that outran the
        # time box): it must not push the one that holds the lock out of memory.
        await store.unlock(key, "another-attempt")
        assert await raw.get(f"{key}:lock") == token.encode()
        cooldowns.advance(COOLDOWN)
        assert await store.get(key) is None  # the probe: Redis answers
        assert store.releasing is not None
        await store.releasing
        assert await raw.get(f"{key}:lock") is None
        assert store.unreleased == set()
    finally:
        await raw.aclose()
        await store.close()


@pytest.mark.parametrize(
    "fields",
    [
        {"fresh": "inf", "written": "1"},
        {"fresh": "nan", "written": "1"},
        {"fresh": "2e9", "written": "-inf"},
        {"fresh": "soon", "written": "1"},
        {"fresh": "2e9"},
    ],
    ids=["infinite", "nan", "written-infinite", "not-a-number", "no-written"],
)
async def test_an_entry_whose_times_are_not_finite_numbers_is_a_miss(
    redis_url: str, fields: dict[str, str]
) -> None:
    key = f"smgql:test:{uuid.uuid4().hex}"
    raw = Redis.from_url(redis_url)
    store = RedisStore(
        redis_url, TIME_BOX, CircuitBreaker("redis", 3, COOLDOWN, FakeClock()), 1 << 20
    )
    try:
        await raw.hset(key, "answer", encode(version()))
        for field, value in fields.items():
            await raw.hset(key, field, value)
        assert await store.get(key) is None
        await raw.hset(key, mapping={"fresh": "2e9", "written": "1e9"})
        entry = await store.get(key)
        assert entry is not None
        assert (entry.answer, entry.fresh_until, entry.written) == (version(), 2e9, 1e9)
    finally:
        await raw.aclose()
        await store.close()
