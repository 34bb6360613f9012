"""Where a call lands: one region of one account, each with its own catalog.

AWS keeps every account's images apart, and every region's: an image named ``pytorch-training``
in ``eu-west-1`` is not the one in ``us-east-1``. The endpoint serves several regions and accounts
from one port so that a client routing by ARN across them can be tested against real botocore; the
region is the one the request was signed for, the account the one its access key belongs to.

A catalog is made on first use. For a file database the home catalog (home region, default
account) keeps the file it was given, so an existing file keeps its meaning, and each other one
gets a file beside it named by region and account; ``:memory:`` stays in memory.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.local_sagemaker import seed
from app.local_sagemaker.store import ImageStore

# The account of every access key the endpoint was not told about, so any key works.
DEFAULT_ACCOUNT = "123456789012"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ACCOUNT = re.compile(r"\d{12}")


def check_region(region: str) -> str:
    """``region``, if it is spelled as AWS spells regions; else a ValueError saying so."""
    if _REGION.fullmatch(region) is None:
        raise ValueError(f"{region!r} is not a region name like 'us-east-1'")
    return region


def check_account(account: str) -> str:
    """``account``, if it is a 12-digit account ID; else a ValueError saying so."""
    if _ACCOUNT.fullmatch(account) is None:
        raise ValueError(f"{account!r} is not a 12-digit account ID")
    return account


@dataclass(frozen=True)
class Target:
    """One region of one account."""

    region: str
    account: str

    def __str__(self) -> str:
        # The key of the endpoint's per-target stats, as a test of the service names a target.
        return f"{self.region}/{self.account}"


class Catalogs:
    """An :class:`ImageStore` per target, made (and seeded) on first use. Thread-safe."""

    def __init__(
        self,
        db: str,
        home: Target,
        *,
        transition_delay: float,
        clock: Callable[[], float] = time.time,
        seed: bool = True,
        base_image_failure: Callable[[str], str | None] = lambda base_image: None,
    ) -> None:
        self._db = db
        self._home = home
        self._transition_delay = transition_delay
        self._clock = clock
        self._seed = seed
        # Why a version of a base image fails to build (the fault plan's say), in every catalog.
        self._base_image_failure = base_image_failure
        self._lock = threading.Lock()
        self._stores: dict[Target, ImageStore] = {}
        self.home = self.of(home)

    def of(self, target: Target) -> ImageStore:
        with self._lock:
            store = self._stores.get(target)
            if store is None:
                store = ImageStore(
                    self._path(target),
                    region=target.region,
                    account_id=target.account,
                    transition_delay=self._transition_delay,
                    clock=self._clock,
                )
                store.base_image_failure = self._base_image_failure
                if self._seed:
                    seed.load_demo_catalog(store, self._demo_catalog(target))
                self._stores[target] = store
            return store

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()

    def _demo_catalog(self, target: Target) -> seed.Catalog:
        """The demo catalog of ``target``: the full one at home, a few images in each other
        region of the default account and in the home region of the demo's second account, so
        that a person (or a test) routing by ARN finds something everywhere the demo points."""
        if target == self._home:
            return seed.demo_catalog()
        if target.account == DEFAULT_ACCOUNT:
            return seed.regional_demo_catalog(target.region)
        if target == Target(self._home.region, seed.SECOND_ACCOUNT):
            return seed.second_account_demo_catalog(target.region)
        return []

    def _path(self, target: Target) -> str:
        if self._db == ":memory:" or target == self._home:
            return self._db
        path = Path(self._db)
        return str(path.with_name(f"{path.stem}.{target.region}.{target.account}{path.suffix}"))
