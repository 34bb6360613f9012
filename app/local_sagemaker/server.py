"""Running the local endpoint: standalone, or in-process on a loopback port.

In-process, the endpoint gets its own thread and event loop. The GraphQL service's loop then never
waits on the endpoint's SQLite work, and the two talk over real HTTP exactly as the service talks
to AWS, which is the point: boto3's whole stack (serialization, signing, retries, error parsing)
runs for every call.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import TracebackType

import uvicorn

from app.local_sagemaker.endpoint import create_endpoint_app
from app.local_sagemaker.faults import FaultPlan, Faults
from app.local_sagemaker.seed import load_demo_catalog
from app.local_sagemaker.store import ImageStore


@dataclass(frozen=True)
class EndpointOptions:
    """How to build one endpoint."""

    db: str = ":memory:"
    region: str = "us-east-1"
    transition_delay: float = 0.0
    seed: bool = True
    faults: FaultPlan = field(default_factory=FaultPlan)


class LocalSageMaker:
    """A store, its fault knobs and the ASGI app serving them."""

    def __init__(self, options: EndpointOptions) -> None:
        self.store = ImageStore(
            options.db, region=options.region, transition_delay=options.transition_delay
        )
        if options.seed:
            load_demo_catalog(self.store)
        self.faults = Faults(options.faults)
        self.app = create_endpoint_app(self.store, self.faults)

    def config(self, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
        # uvicorn's own access log is off: the endpoint logs one structured line per call.
        return uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level=log_level,
            log_config=None,
            access_log=False,
            lifespan="off",
        )

    def serve_forever(self, host: str, port: int, log_level: str = "info") -> None:
        """Standalone: serve in the foreground until interrupted."""
        try:
            uvicorn.Server(self.config(host, port, log_level)).run()
        finally:
            self.store.close()


class BackgroundEndpoint:
    """A :class:`LocalSageMaker` served on a thread; ``with`` starts and stops it.

    Port 0 picks a free ephemeral port; :attr:`url` tells which one was bound.
    """

    def __init__(
        self, options: EndpointOptions | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.endpoint = LocalSageMaker(options or EndpointOptions())
        self._server = uvicorn.Server(self.endpoint.config(host, port))
        self._thread = threading.Thread(
            target=self._server.run, name="local-sagemaker", daemon=True
        )
        self.url = ""

    def start(self) -> BackgroundEndpoint:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the local SageMaker endpoint failed to start")
            self._thread.join(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
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
