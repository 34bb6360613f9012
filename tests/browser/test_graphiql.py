"""GraphiQL in a real headless Chromium: it loads from the service alone (no CDN), runs the
default query, and shows a NOT_FOUND error for a query a person typed."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from app import graphiql
from app.local_sagemaker.server import BackgroundEndpoint
from app.main import create_app
from app.server_thread import ServerThread
from tests.service.conftest import TEST_SETTINGS

# Flags for a root, offline, headless run: no sandbox (root), and none of Chromium's own
# background traffic, which this network refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def service_url(shared_endpoint: BackgroundEndpoint) -> Iterator[str]:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=shared_endpoint.url)
    server = ServerThread(create_app(settings), lifespan="on")
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Chromium is needed for the GraphiQL tests (scripts/test installs it)"
    assert graphiql.installed(), "GraphiQL's bundles are missing (scripts/bootstrap installs them)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, service_url: str) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{service_url}/graphql", wait_until="networkidle")
    page.wait_for_selector(".graphiql-container", timeout=20_000)
    yield page
    assert all(url.startswith(service_url) for url in requested), "GraphiQL fetched from elsewhere"
    page.close()


def test_graphiql_runs_its_default_query(page: Page, tmp_path: Path) -> None:
    page.click(".graphiql-execute-button")
    result = page.locator(".result-window")
    expect(result).to_contain_text("image-version/pytorch-training/3", timeout=20_000)
    expect(result).to_contain_text('"vendorGuidance": "STABLE"')
    page.screenshot(path=str(tmp_path / "graphiql.png"))


def test_graphiql_shows_the_error_code_of_a_typed_query(page: Page) -> None:
    page.click(".graphiql-query-editor .CodeMirror")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # The editor closes brackets and quotes itself, as it does for a person typing.
    page.keyboard.type('{ imageVersion(imageName: "no-such-image") { version ')
    result = page.locator(".result-window")
    # GraphiQL picks up the edited operation after a short debounce; a run that comes before it
    # still sends the old operation name. A person would just press Ctrl-Enter again.
    for attempt in range(5):
        page.keyboard.press("Control+Enter")
        try:
            expect(result).to_contain_text('"code": "NOT_FOUND"', timeout=4_000)
            break
        except AssertionError:
            if attempt == 4:
                raise
    expect(result).to_contain_text('"imageVersion": null')
