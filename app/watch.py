"""Following an image version while it changes: one shared poller per version.

SageMaker has no change events for image versions, so following one means describing it again
and again. A frontend that shows a build in progress (CREATING takes minutes) may have many
viewers; each would otherwise poll on its own and burn the account's quota. So every follower
of one version shares one poller: it describes the version on a schedule that starts at
``first_delay`` and backs off (x1.5, at most ``max_delay``) while nothing changes, starts again
at ``first_delay`` after a change, hands each new state to every follower, and stops after a
settled state (CREATED or a failure), when the version is gone, or when its last follower
leaves. A follower that joins late gets the state the poller saw last at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

from app import metrics
from app.ledger import Ledger
from app.sagemaker import (
    ImageVersionDescription,
    ImageVersionKey,
    NotFound,
    SageMakerCalls,
    SageMakerError,
)
from app.sagemaker.operations import DESCRIBE_IMAGE_VERSION

# Statuses a version does not leave by itself.
SETTLED = frozenset({"CREATED", "CREATE_FAILED", "DELETE_FAILED"})


class TooManyFollowers(Exception):
    """The process follows as many versions as it may; the client should retry later."""


class _End:
    """Told to followers when the poller stops: no more states will come."""


@dataclass
class _Poller:
    key: ImageVersionKey
    followers: set[asyncio.Queue[ImageVersionDescription | Exception | _End]] = field(
        default_factory=set
    )
    last: ImageVersionDescription | None = None
    task: asyncio.Task[None] | None = None


class VersionWatch:
    def __init__(
        self,
        sagemaker: SageMakerCalls,
        max_followers: int,
        first_delay: float = 1.0,
        max_delay: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sagemaker = sagemaker
        self.max_followers = max_followers
        self.first_delay = first_delay
        self.max_delay = max_delay
        # How a poller waits between polls; tests pass one that only notes the delay.
        self.sleep = sleep
        self.pollers: dict[ImageVersionKey, _Poller] = {}
        # Followers past the limit's check that are not yet any poller's.
        self.joining = 0

    @property
    def followers(self) -> int:
        return sum(len(poller.followers) for poller in self.pollers.values())

    async def follow(self, key: ImageVersionKey) -> AsyncGenerator[ImageVersionDescription, None]:
        """Each state of the version ``key`` names, from its current one until it settles."""
        if self.followers + self.joining >= self.max_followers:
            raise TooManyFollowers(f"This service follows {self.max_followers} at most.")
        if key.version is None:
            # An alias or "latest" may move: follow the version it names now. The follower
            # holds its place in the limit while it waits for SageMaker to say which.
            self.joining += 1
            try:
                key = key.pinned((await self._describe(key)).version)
            finally:
                self.joining -= 1
        poller = self.pollers.get(key)
        if poller is None:
            poller = self.pollers[key] = _Poller(key)
            metrics.WATCH_POLLERS.inc()
            poller.task = asyncio.ensure_future(self._poll(poller))
        queue: asyncio.Queue[ImageVersionDescription | Exception | _End] = asyncio.Queue()
        if poller.last is not None:
            queue.put_nowait(poller.last)
        poller.followers.add(queue)
        try:
            while True:
                state = await queue.get()
                if isinstance(state, _End):
                    return
                if isinstance(state, Exception):
                    raise state
                yield state
        finally:
            poller.followers.discard(queue)
            if not poller.followers and self._forget(poller) and poller.task is not None:
                poller.task.cancel()

    async def _poll(self, poller: _Poller) -> None:
        delay = self.first_delay
        try:
            while True:
                try:
                    state = await self._describe(poller.key)
                except NotFound as gone:
                    # Gone after it was seen (deleted): the end; never seen: the follower's error.
                    self._tell(poller, _End() if poller.last is not None else gone)
                    return
                except SageMakerError:
                    delay = min(delay * 2, self.max_delay)
                    await self.sleep(delay)
                    continue
                if poller.last is None or _changed(poller.last, state):
                    poller.last = state
                    self._tell(poller, state)
                    delay = self.first_delay
                else:
                    delay = min(delay * 1.5, self.max_delay)
                if state.image_version_status in SETTLED:
                    self._tell(poller, _End())
                    return
                await self.sleep(delay)
        finally:
            self._forget(poller)

    def _forget(self, poller: _Poller) -> bool:
        """Drop ``poller`` unless it is gone already (its last follower left, or it ended);
        whether it was still there."""
        if self.pollers.get(poller.key) is not poller:
            return False
        del self.pollers[poller.key]
        metrics.WATCH_POLLERS.dec()
        return True

    async def _describe(self, key: ImageVersionKey) -> ImageVersionDescription:
        # A poll belongs to no request: what it costs is no client's to see.
        return await self.sagemaker.call(DESCRIBE_IMAGE_VERSION, key, Ledger())

    def _tell(self, poller: _Poller, state: ImageVersionDescription | Exception | _End) -> None:
        for queue in poller.followers:
            queue.put_nowait(state)

    async def close(self) -> None:
        tasks = [poller.task for poller in self.pollers.values() if poller.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _changed(before: ImageVersionDescription, after: ImageVersionDescription) -> bool:
    return (before.image_version_status, before.last_modified_time, before.failure_reason) != (
        after.image_version_status,
        after.last_modified_time,
        after.failure_reason,
    )
