"""Running the local endpoint: standalone, or in-process on a loopback port.

In-process, the endpoint gets its own thread and event loop. The GraphQL service's loop then never
waits on the endpoint's SQLite work, and the two talk over real HTTP exactly as the service talks
to AWS, which is the point: botocore's whole stack (serialization, signing, retries, error
parsing) runs for every call, over the service's own transport.

One endpoint serves several regions and accounts, and STS, on one port: the region is the one a
request is signed for, the account the one its access key (or the role it assumed) belongs to.
The defaults serve the demo's two regions and its second account's key, so the embedded endpoint
shows a service routing by ARN something in each.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import uvicorn

from app.local_sagemaker.endpoint import create_endpoint_app
from app.local_sagemaker.faults import FaultPlan, Faults
from app.local_sagemaker.identities import Identities
from app.local_sagemaker.seed import SECOND_ACCOUNT
from app.local_sagemaker.targets import (
    DEFAULT_ACCOUNT,
    Catalogs,
    Target,
    check_account,
    check_region,
)
from app.server_thread import ServerThread

DEMO_REGIONS = ("us-east-1", "eu-west-1")
# The documented key of the demo's second account: sign with it to act there.
DEMO_SECOND_ACCOUNT_KEY = "demo-second-account"


@dataclass(frozen=True)
class EndpointOptions:
    """How to build one endpoint."""

    db: str = ":memory:"
    # The regions served, the home one first: a call signed for another gets AWS's 403.
    regions: tuple[str, ...] = DEMO_REGIONS
    # For callers that name one region: it becomes the home region, the others still served.
    region: str | None = None
    # Access key -> account ID; any other key acts in DEFAULT_ACCOUNT.
    accounts: Mapping[str, str] = field(
        default_factory=lambda: {DEMO_SECOND_ACCOUNT_KEY: SECOND_ACCOUNT}
    )
    transition_delay: float = 0.0
    seed: bool = True
    faults: FaultPlan = field(default_factory=FaultPlan)
    # Access key -> secret key: when given, every request's SigV4 signature is checked.
    secrets: Mapping[str, str] | None = None
    # What the store takes for now (timestamps, transitions); tests move their own.
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        """Check the regions and accounts (a ValueError says which is wrong)."""
        if self.region is not None:
            others = (region for region in self.regions if region != self.region)
            object.__setattr__(self, "regions", (self.region, *others))
        if not self.regions:
            raise ValueError("at least one region must be served")
        for region in self.regions:
            check_region(region)
        for account in self.accounts.values():
            check_account(account)

    def served(self) -> str:
        """What the endpoint serves, in words, for the log line that announces it."""
        home, *others = self.regions
        keys = ", ".join(f"{key} -> {account}" for key, account in sorted(self.accounts.items()))
        signed = "checked" if self.secrets is not None else "not checked"
        return (
            f"regions {', '.join([f'{home} (home)', *others])}; "
            f"accounts {DEFAULT_ACCOUNT} (any key){f', {keys}' if keys else ''}, "
            f"and any role assumed through its STS; signatures {signed}"
        )


class LocalSageMaker:
    """The catalogs of every region and account, the callers' identities, the fault knobs and
    the ASGI app serving them."""

    def __init__(self, options: EndpointOptions) -> None:
        self.faults = Faults(options.faults)
        self.catalogs = Catalogs(
            options.db,
            Target(options.regions[0], DEFAULT_ACCOUNT),
            transition_delay=options.transition_delay,
            clock=options.clock,
            seed=options.seed,
            base_image_failure=self.faults.base_image_failure,
        )
        # The home catalog, which tests read and seed directly.
        self.store = self.catalogs.home
        self.identities = Identities(options.accounts, options.secrets, options.clock)
        self.app = create_endpoint_app(self.catalogs, self.identities, self.faults, options.regions)

    def serve_forever(self, host: str, port: int) -> None:
        """Standalone: serve in the foreground until interrupted."""
        try:
            # uvicorn's access log is off: the endpoint logs one structured line per call.
            uvicorn.run(
                self.app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
            )
        finally:
            self.catalogs.close()


class BackgroundEndpoint:
    """A :class:`LocalSageMaker` served on a thread; ``with`` starts and stops it."""

    def __init__(
        self, options: EndpointOptions | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.endpoint = LocalSageMaker(options or EndpointOptions())
        self._thread = ServerThread(self.endpoint.app, host, port, quiet=True)
        self.url = ""

    def start(self) -> BackgroundEndpoint:
        self.url = self._thread.start()
        return self

    def stop(self) -> None:
        self._thread.stop()
        self.endpoint.catalogs.close()

    def __enter__(self) -> BackgroundEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
