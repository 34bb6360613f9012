"""A serving process's app freezes what its start-up built, once it has started, and only then:
what a request makes later stays in the collector's generations."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from starlette.applications import Starlette

from app.assembly.collector import frozen_after_start


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    # This test process builds and drops many apps: nothing of them may stay frozen.
    gc.unfreeze()
    yield
    gc.unfreeze()


def _walked(thing: object) -> bool:
    """Whether the cyclic collector's generations hold ``thing`` (a frozen object is in none)."""
    return any(tracked is thing for tracked in gc.get_objects())


async def test_what_start_up_built_is_frozen_once_the_app_has_started() -> None:
    built: list[object] = []

    @asynccontextmanager
    async def start(app: Starlette) -> AsyncIterator[dict[str, list[str]]]:
        services = {"services": ["started"]}
        built.append(services)
        assert _walked(services), "frozen before start-up ended"
        yield services

    app = frozen_after_start(Starlette(lifespan=start))
    async with app.router.lifespan_context(app) as state:
        assert state is built[0]
        assert not _walked(state)
        made_later = {"request": ["served"]}
        assert _walked(made_later)
