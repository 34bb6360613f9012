"""GraphiQL in a real headless Chromium: it loads from the service alone (no CDN, the explorer
plugin included), runs the default query, runs a query a person typed on the first press, and
sends the headers editor's credential."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from app import graphiql
from app.assembly.build import create_app
from app.local_sagemaker.server import BackgroundEndpoint
from app.server_thread import ServerThread
from tests.conftest import ROOT
from tests.service.conftest import TEST_SETTINGS

# Screenshots CI keeps.
ARTIFACTS = ROOT / "test-artifacts"

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
def guarded_url(
    shared_endpoint: BackgroundEndpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    keys = tmp_path_factory.mktemp("keys") / "api-keys"
    keys.write_text("browser-key\n")
    settings = dataclasses.replace(
        TEST_SETTINGS, endpoint_url=shared_endpoint.url, api_keys_file=str(keys)
    )
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


def _type_a_new_query(page: Page, query: str) -> None:
    page.click(".graphiql-query-editor .CodeMirror")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # The editor closes brackets and quotes itself, as it does for a person typing.
    page.keyboard.type(query)


def test_a_typed_query_runs_on_the_first_press(page: Page) -> None:
    _type_a_new_query(page, '{ imageVersion(imageName: "no-such-image") { version ')
    # At once, as a person who pastes and runs would: the default query's name is still
    # GraphiQL's idea of the operation at this moment.
    page.keyboard.press("Control+Enter")
    result = page.locator(".result-window")
    expect(result).to_contain_text('"code": "NOT_FOUND"', timeout=20_000)
    expect(result).to_contain_text('"imageVersion": null')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "graphiql-first-press.png"))


def test_a_pasted_named_query_runs_on_the_first_press(page: Page) -> None:
    _type_a_new_query(page, 'query Kernel { imageVersion(imageName: "sklearn-kernel") { version ')
    page.keyboard.press("Control+Enter")
    expect(page.locator(".result-window")).to_contain_text('"version": 2', timeout=20_000)


def test_the_explorer_plugin_loads_from_the_service(page: Page) -> None:
    page.click('button[aria-label="Show GraphiQL Explorer"]')
    explorer = page.locator(".graphiql-plugin")
    expect(explorer).to_contain_text("imageVersions", timeout=20_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "graphiql-explorer.png"))


def test_the_headers_editor_carries_a_credential(browser: Browser, guarded_url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{guarded_url}/graphql", wait_until="networkidle")
    page.wait_for_selector(".graphiql-container", timeout=20_000)
    page.get_by_role("button", name="Headers", exact=True).click()
    page.click(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
    page.keyboard.type('{"X-API-Key": "browser-key"')
    page.click(".graphiql-execute-button")
    expect(page.locator(".result-window")).to_contain_text('"version": 3', timeout=20_000)
    page.close()
