"""A real federated graph on loopback: Apollo Gateway (Node) over the image subgraph (this
service, served by uvicorn) and a small deployments subgraph, composed by Apollo's composition
library from the checked-in ``schema.graphql``. The image subgraph serves two targets of the
shared endpoint, ``us-east-1`` (the default) and ``eu-west-1``, in its default account, so a
deployment may reference a version in either."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.assembly.build import create_app
from app.local_sagemaker.server import BackgroundEndpoint
from app.server_thread import ServerThread
from tests.conftest import ROOT, free_port
from tests.federation.deployments_subgraph import build_app, build_schema
from tests.service.conftest import TEST_SETTINGS

HERE = Path(__file__).parent
# The image subgraph's targets: the shared endpoint's regions, in the account it gives any key
# it does not map.
TARGETS = [
    {"region": "us-east-1", "account": "123456789012"},
    {"region": "eu-west-1", "account": "123456789012"},
]


@dataclasses.dataclass
class FederatedGraph:
    url: str
    deployment_arns: list[str]


def _node() -> str:
    node = shutil.which("node")
    assert node, "Node.js is needed for the federation tests (scripts/test installs its packages)"
    assert (HERE / "node_modules").is_dir(), "run scripts/test: it installs tests/federation"
    return node


def compose(node: str, subgraphs: dict[str, tuple[str, Path]]) -> subprocess.CompletedProcess[str]:
    """Run compose.mjs over NAME -> (URL, SDL file)."""
    arguments = [f"{name}={url}={sdl}" for name, (url, sdl) in subgraphs.items()]
    return subprocess.run(
        [node, str(HERE / "compose.mjs"), *arguments],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="session")
def federated_graph(
    shared_endpoint: BackgroundEndpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FederatedGraph]:
    node = _node()
    workdir = tmp_path_factory.mktemp("federation")
    targets = workdir / "targets.json"
    targets.write_text(json.dumps(TARGETS))
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=shared_endpoint.url, targets_file=str(targets)
    )
    images = ServerThread(create_app(settings), lifespan="on")
    arns: list[str] = []
    deployments = ServerThread(build_app(arns))
    images_url, deployments_url = images.start(), deployments.start()
    gateway = None
    try:
        deployments_sdl = workdir / "deployments.graphql"
        deployments_sdl.write_text(build_schema(arns).as_str())
        composed = compose(
            node,
            {
                "images": (f"{images_url}/graphql", ROOT / "schema.graphql"),
                "deployments": (f"{deployments_url}/graphql", deployments_sdl),
            },
        )
        assert composed.returncode == 0, composed.stderr
        supergraph = workdir / "supergraph.graphql"
        supergraph.write_text(composed.stdout)

        port = free_port()
        gateway = subprocess.Popen(
            [node, str(HERE / "gateway.mjs"), str(supergraph), str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )
        assert gateway.stdout is not None
        ready = gateway.stdout.readline()
        assert ready.startswith("ready "), gateway.stderr.read() if gateway.stderr else ready
        yield FederatedGraph(url=f"http://127.0.0.1:{port}/", deployment_arns=arns)
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.communicate(timeout=20)
        deployments.stop()
        images.stop()
