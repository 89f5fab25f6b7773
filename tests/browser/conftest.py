"""Browser tests: a headless Chromium driven by Playwright, offline.

The browser is Debian's ``chromium`` (``apt-get install chromium``), never one downloaded by
``playwright install``: ``chromium_path()`` finds it (``CHROMIUM_PATH``, else ``chromium`` or
``chromium-browser`` on PATH). Without it, or without the ``playwright`` package, browser tests are
skipped, unless ``REQUIRE_BROWSER`` is set (CI sets it), where they fail instead.

Fixtures and helpers for browser tests:

- ``browser``: a Playwright (async API) ``Browser``, headless;
- ``artifacts``: an empty folder for the current test's screenshots,
  ``$ARTIFACTS_DIR/<test name>/`` or ``tests/artifacts/<test name>/``;
- ``await watch_external_requests(page)``: the list of every URL the page asked of a host other
  than this machine, each of them aborted.

Typical use, with the ``hub`` fixture of tests/conftest.py::

    async def test_page(hub, browser, artifacts):
        page = await browser.new_page()
        external = await watch_external_requests(page)
        await page.goto(f"{hub.base_url}/docs")
        ...
        await page.screenshot(path=artifacts / "docs.png")
        assert external == []
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Route, WebSocketRoute

# Hosts a page under test may reach; everything else is "external".
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Schemes that go over the network (data:, blob:, about: ... never leave the browser).
NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})

DEFAULT_ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def chromium_path() -> str | None:
    """The Chromium to drive: env CHROMIUM_PATH, else chromium / chromium-browser on PATH."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _unavailable(reason: str) -> NoReturn:
    """Skip, or fail where a browser is required (REQUIRE_BROWSER=1, as in CI)."""
    if os.environ.get("REQUIRE_BROWSER", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason} (REQUIRE_BROWSER is set, so browser tests may not be skipped)")
    pytest.skip(reason)


def launch_args() -> list[str]:
    """Chromium's command line: its sandbox cannot start as root; small /dev/shm in containers."""
    args = ["--disable-dev-shm-usage"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium (Playwright async API), closed after the test."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    executable = chromium_path()
    if executable is None:
        _unavailable(
            "no Chromium found: install Debian's chromium (apt-get install chromium) "
            "or set CHROMIUM_PATH"
        )
    assert executable is not None
    if not Path(executable).exists() and shutil.which(executable) is None:
        _unavailable(f"CHROMIUM_PATH={executable} does not exist")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=launch_args()
        )
        try:
            yield launched
        finally:
            await launched.close()


def _folder_name(name: str) -> str:
    """A test's node name as one safe folder name (parameters may hold '/' or spaces)."""
    return re.sub(r"[^A-Za-z0-9._\-\[\]=]+", "_", name).strip("._") or "test"


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """An empty folder for this test's screenshots: <ARTIFACTS_DIR or tests/artifacts>/<test>/."""
    root = Path(os.environ.get("ARTIFACTS_DIR") or DEFAULT_ARTIFACTS)
    folder = root / _folder_name(request.node.name)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def is_external(url: str) -> bool:
    """Whether loading ``url`` would leave this machine."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in NETWORK_SCHEMES:
        return False
    return (parts.hostname or "").lower() not in LOCAL_HOSTS


async def watch_external_requests(page: Page) -> list[str]:
    """Abort, and record, every request of ``page`` to a host other than 127.0.0.1/localhost.

    Await it before the page navigates. The returned list fills as the page runs: the URL of
    each external request (WebSockets included) that would have left the browser, in order.
    Local requests go on untouched (routes the test adds after this one still see them).
    Attempts the browser refuses itself (Content-Security-Policy, mixed content) send nothing,
    never reach the route and are not listed: watch ``page.on("requestfailed")`` for those.
    """
    seen: list[str] = []

    async def block(route: Route) -> None:
        url = route.request.url
        if is_external(url):
            seen.append(url)
            await route.abort("blockedbyclient")
        else:
            await route.fallback()

    async def block_websocket(websocket: WebSocketRoute) -> None:
        # Never connected to the server; the page sees the socket closed.
        seen.append(websocket.url)
        await websocket.close(code=1008, reason="external host blocked by the test")

    await page.route("**/*", block)
    await page.route_web_socket(is_external, block_websocket)
    return seen
