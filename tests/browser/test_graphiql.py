"""GraphiQL in a real headless Chromium: it loads from the service alone (no CDN, the explorer
plugin included), runs the default query, runs a query a person typed on the first press, sends
the headers editor's credential (over HTTP, and in a subscription's connection_init), keeps the
headers across a reload, fetches the docs again once a key is entered, and streams a
subscription typed and run at once over graphql-transport-ws while a build goes from CREATING to
CREATED.

The build's transition is moved by the endpoint's clock, not waited for; what these tests wait
in real time is the service's poller of the version (VersionWatch: 1 s, then 1.5 s), the
settling of the headers editor (500 ms) and the browser itself, each through playwright's
``expect`` with a timeout, never a retried action. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect, sync_playwright

from app import graphiql
from app.assembly.build import create_app
from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from app.server_thread import ServerThread
from tests.conftest import ROOT, create_image, sagemaker_client
from tests.fakes import SkippingClock
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


# How long the slow endpoint keeps a new image or version CREATING: past any test, so that only
# the test's skip of its clock ends a transition.
TRANSITION_DELAY = 600.0
SLOW_CLOCK = SkippingClock()


@pytest.fixture(scope="module")
def slow_endpoint() -> Iterator[BackgroundEndpoint]:
    """A local endpoint of this module's own, on which new versions stay CREATING until the test
    skips its clock past the transition."""
    options = EndpointOptions(transition_delay=TRANSITION_DELAY, clock=SLOW_CLOCK)
    with BackgroundEndpoint(options) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def slow_url(slow_endpoint: BackgroundEndpoint) -> Iterator[str]:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=slow_endpoint.url)
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


def _open(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/graphql", wait_until="networkidle")
    page.wait_for_selector(".graphiql-container", timeout=20_000)
    return page


def _type_headers(page: Page, headers: str) -> None:
    page.get_by_role("button", name="Headers", exact=True).click()
    page.click(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
    page.keyboard.type(headers)


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
    page = _open(browser, guarded_url)
    _type_headers(page, '{"X-API-Key": "browser-key"')
    page.click(".graphiql-execute-button")
    expect(page.locator(".result-window")).to_contain_text('"version": 3', timeout=20_000)
    page.close()


def test_the_headers_are_kept_across_a_reload(page: Page) -> None:
    _type_headers(page, '{"X-Team": "vision"')
    kept = "() => (localStorage.getItem('graphiql:headers') || '').includes('vision')"
    page.wait_for_function(kept, timeout=10_000)
    page.reload(wait_until="networkidle")
    # Open on the Headers tab without a click: the pane opens on the headers it was given.
    headers = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)")
    expect(headers).to_contain_text('"X-Team": "vision"', timeout=20_000)


def test_the_docs_are_fetched_again_once_a_key_is_entered(
    browser: Browser, guarded_url: str
) -> None:
    page = _open(browser, guarded_url)
    page.click('button[aria-label="Show Documentation Explorer"]')
    docs = page.locator(".graphiql-doc-explorer")
    # No key yet: the service refused the introspection.
    expect(docs).to_contain_text("Error fetching schema", timeout=20_000)
    _type_headers(page, '{"X-API-Key": "browser-key"')
    expect(docs.get_by_text("Query", exact=True)).to_be_visible(timeout=20_000)
    expect(docs).not_to_contain_text("Error fetching schema")
    page.close()


def _sent_and_received(page: Page) -> tuple[list[str], list[str]]:
    """The frames the page's WebSockets send and receive, from now on."""
    sent: list[str] = []
    received: list[str] = []

    def follow(socket: WebSocket) -> None:
        socket.on("framesent", lambda payload: sent.append(str(payload)))
        socket.on("framereceived", lambda payload: received.append(str(payload)))

    page.on("websocket", follow)
    return sent, received


def test_a_subscription_carries_the_headers_editors_credential(
    browser: Browser, guarded_url: str
) -> None:
    page = _open(browser, guarded_url)
    sent, received = _sent_and_received(page)
    _type_headers(page, '{"X-API-Key": "browser-key"')
    _type_a_new_query(page, 'subscription { imageVersionStatus(imageName: "sklearn-kernel") { ')
    page.keyboard.type("version imageVersionStatus")
    page.keyboard.press("Control+Enter")
    result = page.locator(".result-window")
    expect(result).to_contain_text('"imageVersionStatus": "CREATED"', timeout=20_000)
    [init] = [json.loads(frame) for frame in sent if '"connection_init"' in frame]
    assert init["payload"] == {"X-API-Key": "browser-key"}
    assert any('"connection_ack"' in frame for frame in received)
    page.close()


def test_a_subscription_typed_and_run_at_once_follows_a_build(
    browser: Browser, slow_url: str, slow_endpoint: BackgroundEndpoint
) -> None:
    sagemaker = sagemaker_client(slow_endpoint.url)
    image = create_image(sagemaker, prefix="graphiql")
    SLOW_CLOCK.skip(TRANSITION_DELAY)  # the image's own CREATING, which this test does not watch
    # CREATING until the test skips the clock again.
    sagemaker.create_image_version(ImageName=image, BaseImage=f"repo/{image}:1", ClientToken="1")
    page = _open(browser, slow_url)
    sent, received = _sent_and_received(page)
    posted: list[str] = []
    page.on("request", lambda request: posted.append(request.post_data or ""))
    _type_a_new_query(page, f'subscription {{ imageVersionStatus(imageName: "{image}") {{ ')
    page.keyboard.type("version imageVersionStatus")
    # At once, as a person who pastes and runs would: GraphiQL still takes the document for the
    # default query at this moment.
    page.keyboard.press("Control+Enter")
    result = page.locator(".result-window")
    expect(result).to_contain_text('"imageVersionStatus": "CREATING"', timeout=20_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "graphiql-subscription-creating.png"))
    SLOW_CLOCK.skip(TRANSITION_DELAY)  # the build ends
    expect(result).to_contain_text('"imageVersionStatus": "CREATED"', timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / "graphiql-subscription-created.png"))
    statuses = [
        json.loads(frame)["payload"]["data"]["imageVersionStatus"]["imageVersionStatus"]
        for frame in received
        if '"type":"next"' in frame.replace(" ", "")
    ]
    assert statuses == ["CREATING", "CREATED"]
    assert any('"type":"complete"' in frame.replace(" ", "") for frame in received)
    assert any("subscription" in frame for frame in sent)
    assert not any("subscription" in body for body in posted), "the subscription was POSTed"
    page.close()
