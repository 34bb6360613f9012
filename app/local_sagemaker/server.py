"""Running the local endpoint: standalone, or in-process on a loopback port.

In-process, the endpoint gets its own thread and event loop. The GraphQL service's loop then never
waits on the endpoint's SQLite work, and the two talk over real HTTP exactly as the service talks
to AWS, which is the point: botocore's whole stack (serialization, signing, retries, error
parsing) runs for every call, over the service's own transport.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import uvicorn

from app.local_sagemaker.endpoint import create_endpoint_app
from app.local_sagemaker.faults import FaultPlan, Faults
from app.local_sagemaker.seed import load_demo_catalog
from app.local_sagemaker.store import ImageStore
from app.server_thread import ServerThread


@dataclass(frozen=True)
class EndpointOptions:
    """How to build one endpoint."""

    db: str = ":memory:"
    region: str = "us-east-1"
    transition_delay: float = 0.0
    seed: bool = True
    faults: FaultPlan = field(default_factory=FaultPlan)
    # Access key -> secret key: when given, every request's SigV4 signature is checked.
    secrets: Mapping[str, str] | None = None
    # What the store takes for now (timestamps, transitions); tests move their own.
    clock: Callable[[], float] = time.time


class LocalSageMaker:
    """A store, its fault knobs and the ASGI app serving them."""

    def __init__(self, options: EndpointOptions) -> None:
        self.store = ImageStore(
            options.db,
            region=options.region,
            transition_delay=options.transition_delay,
            clock=options.clock,
        )
        if options.seed:
            load_demo_catalog(self.store)
        self.faults = Faults(options.faults)
        self.app = create_endpoint_app(self.store, self.faults, options.secrets)

    def serve_forever(self, host: str, port: int) -> None:
        """Standalone: serve in the foreground until interrupted."""
        try:
            # uvicorn's access log is off: the endpoint logs one structured line per call.
            uvicorn.run(
                self.app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
            )
        finally:
            self.store.close()


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
        self.endpoint.store.close()

    def __enter__(self) -> BackgroundEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
