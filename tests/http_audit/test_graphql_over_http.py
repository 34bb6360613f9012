"""The official GraphQL-over-HTTP server audit (graphql-http's ``serverAudits``, run by
``audit.mjs`` in Node) against the real service on loopback: every audit, MUST, SHOULD and MAY
alike, passes, and none is skipped."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.assembly.build import create_app
from app.local_sagemaker.server import BackgroundEndpoint
from app.server_thread import ServerThread
from tests.conftest import assert_node_packages_are_the_locked_ones
from tests.service.conftest import TEST_SETTINGS

HERE = Path(__file__).parent


def _node() -> str:
    node = shutil.which("node")
    assert node, "Node.js is needed for the HTTP audit (scripts/test installs its packages)"
    assert (HERE / "node_modules").is_dir(), "run scripts/test: it installs tests/http_audit"
    return node


@pytest.fixture(scope="module")
def graphql_url(shared_endpoint: BackgroundEndpoint) -> Iterator[str]:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=shared_endpoint.url)
    server = ServerThread(create_app(settings), lifespan="on")
    url = server.start()
    try:
        yield f"{url}/graphql"
    finally:
        server.stop()


def run_audit(url: str) -> dict[str, Any]:
    """Run audit.mjs against URL: ``{"total": N, "results": [{id, name, status, reason}]}``."""
    audit = subprocess.run(
        [_node(), str(HERE / "audit.mjs"), url],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=60,
        check=False,
    )
    assert audit.returncode == 0, f"audit.mjs could not run: {audit.stderr}"
    report: dict[str, Any] = json.loads(audit.stdout)
    return report


def test_the_service_passes_every_graphql_over_http_audit(graphql_url: str) -> None:
    report = run_audit(graphql_url)
    results: list[dict[str, str]] = report["results"]

    assert report["total"] > 0
    assert len(results) == report["total"], "an audit was skipped"
    assert len({result["id"] for result in results}) == report["total"], "an audit ran twice"
    failing = [result for result in results if result["status"] != "ok"]
    assert not failing, f"{len(failing)} of {len(results)} audits failed:\n" + "\n".join(
        f"{result['status']} {result['id']} {result['name']}: {result['reason']}"
        for result in failing
    )


def test_the_installed_node_packages_are_the_pinned_ones() -> None:
    assert_node_packages_are_the_locked_ones(HERE)
