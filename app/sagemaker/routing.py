"""SageMaker's calls, each sent to the target its key names.

The service may serve several regions and accounts (``SMGQL_TARGETS_FILE``); each gets its own
:class:`~app.sagemaker.client.SageMaker`: its own connection pool, signer and credentials, retry
quota and rate limit. They are opened on first use (a target nobody asks for costs nothing, and
one whose credentials fail fails only its own lookups), once however many calls wait for it;
the default target is opened at start.

A key whose target is not served is refused here, before any call: the schema refuses such
arguments itself with the argument's name, and this is the rule every path goes through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from app.ledger import Ledger
from app.sagemaker.errors import SageMakerError
from app.sagemaker.operations import Key, Operation
from app.sagemaker.targets import NotServed, ServedTargets, Target

log = logging.getLogger("app.sagemaker")

K = TypeVar("K", bound=Key)
V = TypeVar("V")


class Upstream(Protocol):
    """One target's calls: :class:`~app.sagemaker.client.SageMaker`, or a test's stand-in."""

    async def call(self, operation: Operation[K, V], key: K, ledger: Ledger) -> V: ...

    async def check_reachable(self) -> None: ...

    async def aclose(self) -> None: ...


class TargetedSageMaker:
    """SageMaker's calls over every served target, opened with ``open_target`` on first use."""

    def __init__(
        self, served: ServedTargets, open_target: Callable[[Target], Awaitable[Upstream]]
    ) -> None:
        self.served = served
        self._open_target = open_target
        self._opened: dict[Target, Upstream] = {}
        self._opening: dict[Target, asyncio.Task[Upstream]] = {}

    async def call(self, operation: Operation[K, V], key: K, ledger: Ledger) -> V:
        upstream = await self._of(key.target or self.served.default)
        return await upstream.call(operation, key, ledger)

    async def check_reachable(self) -> None:
        """The default target answers; the others are checked by their own lookups (a target
        that fails answers its own errors, and the service still serves the rest)."""
        await (await self._of(self.served.default)).check_reachable()

    async def open_default(self) -> None:
        """Open the default target now, so that the first request does not wait for it (its
        client loads the service model). A failure is logged, and the first lookup tries
        again."""
        try:
            await self._of(self.served.default)
        except SageMakerError as error:
            log.warning(
                {
                    "event": "target_unopened",
                    "target": str(self.served.default),
                    "error": type(error).__name__,
                }
            )

    async def _of(self, target: Target) -> Upstream:
        opened = self._opened.get(target)
        if opened is not None:
            return opened
        if target not in self.served:
            raise NotServed("target", target.region, target.account, self.served.all)
        opening = self._opening.get(target)
        if opening is None:
            opening = asyncio.ensure_future(self._open(target))
            self._opening[target] = opening
        # Shielded: a caller that gives up (its deadline) leaves the opening to the others.
        return await asyncio.shield(opening)

    async def _open(self, target: Target) -> Upstream:
        try:
            upstream = await self._open_target(target)
        finally:
            # Failed, it is tried again by the next lookup: credentials an operator fixed
            # (or an STS that answers again) need no restart.
            self._opening.pop(target, None)
        self._opened[target] = upstream
        return upstream

    async def aclose(self) -> None:
        for opening in self._opening.values():
            opening.cancel()
        await asyncio.gather(*(upstream.aclose() for upstream in self._opened.values()))
        self._opened.clear()
