"""How a serving process's garbage collector treats what start-up built.

Python's cyclic collector walks every tracked object of a generation each time it collects it,
and a full collection walks them all: the modules, the schema and its types, botocore's models,
the services. They live as long as the process, yet each full collection went over them again:
measured with ``gc.callbacks`` on the cache-memory service while it executed queries (the warm
mix's first rounds, or a worker whose kept answers are not all made yet), a full collection
took 349 and 360 ms, and every request in flight waited for it.

So once the app has started, what start-up left is collected once and then frozen
(``gc.freeze``): moved to a generation no collection walks. Garbage made later is collected as
before; what start-up built and later drops is not (it is held for good, as it would have been).
Only a serving process does this (``app.assembly.serving``): a test process builds and drops
many apps, which must stay collectable.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette

log = logging.getLogger("app")


def frozen_after_start(app: Starlette) -> Starlette:
    """``app``, whose lifespan freezes what start-up built once it has started."""
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[Any]:
        async with started(app) as state:
            gc.collect()
            gc.freeze()
            log.debug({"event": "startup_objects_frozen", "objects": gc.get_freeze_count()})
            yield state

    app.router.lifespan_context = lifespan
    return app
