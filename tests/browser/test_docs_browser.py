"""/docs (Swagger UI) and /redoc (ReDoc) work offline: every asset comes from the hub itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import httpx

from app.web.docs import CONTENT_SECURITY_POLICY
from tests.browser.conftest import is_external, watch_external_requests
from tests.conftest import RunningServer

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Request

VIEWPORT = {"width": 1280, "height": 900}
# The only thing the pages' scripts try to load from elsewhere: ReDoc 2 shows the Redocly logo
# from its CDN whatever its options. The page's Content-Security-Policy stops the browser before
# anything is sent (it never reaches the network, so watch_external_requests does not see it).
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def refused_by_browser(page: Page) -> list[str]:
    """External URLs the browser refused itself (Content-Security-Policy) on ``page``."""
    refused: list[str] = []

    def on_failed(request: Request) -> None:
        if is_external(request.url) and (request.failure or "") == "csp":
            refused.append(request.url)

    page.on("requestfailed", on_failed)
    return refused


def page_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def test_swagger_ui_renders_offline(
    hub: RunningServer, browser: Browser, artifacts: Path
) -> None:
    page = await browser.new_page(viewport=VIEWPORT)
    external = await watch_external_requests(page)
    refused = refused_by_browser(page)
    errors = page_errors(page)

    await page.goto(f"{hub.base_url}/docs")
    # Rendered from /openapi.json: the title, a tag section and an operation block.
    healthz = page.locator("#operations-health-healthz_healthz_get")
    await healthz.wait_for(state="visible", timeout=20_000)
    await page.locator("#operations-tag-admin").wait_for(state="visible")
    assert "Voltroam" in await page.locator(".swagger-ui .info .title").inner_text()
    assert await page.locator(".opblock-summary-path[data-path='/ocpi/versions']").count() == 1
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=artifacts / "docs.png")

    # "Try it out" reaches the hub from the page (the page's policy allows its own origin).
    await healthz.locator(".opblock-summary").click()
    await healthz.get_by_role("button", name="Try it out").click()
    await healthz.get_by_role("button", name="Execute").click()
    body = healthz.locator(".live-responses-table .response-col_description pre")
    await body.first.wait_for(state="visible", timeout=10_000)
    assert '"status": "ok"' in await body.first.inner_text()
    await page.screenshot(path=artifacts / "docs-try-it-out.png")

    assert external == []
    assert refused == []
    assert errors == []
    assert (artifacts / "docs.png").stat().st_size > 0


async def test_redoc_renders_offline(hub: RunningServer, browser: Browser, artifacts: Path) -> None:
    page = await browser.new_page(viewport=VIEWPORT)
    external = await watch_external_requests(page)
    refused = refused_by_browser(page)
    errors = page_errors(page)

    await page.goto(f"{hub.base_url}/redoc")
    # The API title as ReDoc renders it, then the menu and an operation from /openapi.json.
    await page.get_by_role("heading", name="Voltroam (0.1.0)").wait_for(
        state="visible", timeout=20_000
    )
    await page.locator("li[role=menuitem][data-item-id='tag/health']").wait_for(state="visible")
    healthz = page.locator("[data-section-id='tag/health/operation/healthz_healthz_get']")
    assert await healthz.count() == 1
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=artifacts / "redoc.png")

    # Search runs in a worker made from a blob: URL, which the page's policy allows.
    await page.get_by_placeholder("Search...").fill("healthz")
    result = page.locator("[data-role='search:results'] li[role=menuitem]")
    await result.first.wait_for(state="visible", timeout=10_000)
    assert await result.first.get_attribute("aria-label") == "The process is up"
    await page.screenshot(path=artifacts / "redoc-search.png")

    assert external == []
    assert set(refused) <= {REDOCLY_LOGO}, refused
    assert errors == []
    assert (artifacts / "redoc.png").stat().st_size > 0


ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def referenced_urls(html: str) -> list[str]:
    """Every URL a docs page refers to: src, href, ReDoc's spec-url and Swagger UI's url."""
    attributes = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html)
    swagger_spec = re.findall(r"""\burl:\s*'([^']+)'""", html)
    return attributes + swagger_spec


async def test_docs_pages_reference_only_assets_the_hub_serves(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    for page in ("/docs", "/redoc"):
        response = await http.get(f"{hub.base_url}{page}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        html = response.text
        # No absolute URL anywhere: no CDN, no Google Fonts, no fastapi.tiangolo.com favicon.
        assert "http://" not in html and "https://" not in html
        urls = referenced_urls(html)
        assert "/openapi.json" in urls
        assets = [url for url in urls if url != "/openapi.json"]
        assert any(url.endswith(".js") for url in assets), assets
        for url in assets:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc and url.startswith("/"), url
            served = await http.get(urljoin(hub.base_url, url))
            assert served.status_code == 200, url
            expected = ASSET_TYPES[Path(parts.path).suffix]
            assert expected in served.headers["content-type"], (url, served.headers)
            assert len(served.content) > 1000, url

    swagger = (await http.get(f"{hub.base_url}/docs")).text
    assert set(referenced_urls(swagger)) == {
        "/openapi.json",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/assets/favicon.png",
    }
    redoc = (await http.get(f"{hub.base_url}/redoc")).text
    assert set(referenced_urls(redoc)) == {
        "/openapi.json",
        "/docs/assets/redoc.standalone.js",
        "/docs/assets/favicon.png",
    }
    redirect = await http.get(f"{hub.base_url}/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "https://" not in redirect.text and "http://" not in redirect.text


async def test_docs_pages_are_not_in_the_openapi_document(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    paths = (await http.get(f"{hub.base_url}/openapi.json")).json()["paths"]
    assert not {path for path in paths if path.startswith(("/docs", "/redoc"))}
