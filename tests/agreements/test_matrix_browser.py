"""/admin shows the matrix of CPO/eMSP pairs and the state of their agreements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.admin_auth import issue_admin_token
from tests.agreements.network import agreed_network
from tests.browser.conftest import watch_external_requests

TIMEOUT = 10_000  # ms


async def test_admin_page_shows_the_agreements_matrix(
    database_url: str, browser: Any, artifacts: Path
) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await net.agree("NL*CPA", "NL*EM1", "active")
        await net.agree("NL*CPA", "DE*EM2", "suspended")
        await net.agree("BE*CPB", "FR*EM3", "active", modules=["locations"])
        assert net.hub.settings is not None
        token = issue_admin_token(net.hub.settings)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        external = await watch_external_requests(page)
        await page.goto(f"{net.hub.base_url}/admin#token={token}")
        matrix = page.locator("#agreements")
        await matrix.locator("tbody tr").filter(has_text="NL*CPA").wait_for(timeout=TIMEOUT)
        header = await matrix.locator("thead tr").inner_text()
        assert "DE*EM2" in header and "FR*EM3" in header and "NL*EM1" in header

        async def pair(cpo: str, emsp: str) -> str:
            text: str = await matrix.locator(f'td[data-pair="{cpo} {emsp}"]').inner_text()
            return text

        assert (await pair("NL*CPA", "NL*EM1")).startswith("active")
        assert "sync 0/0" in await pair("NL*CPA", "NL*EM1")
        assert (await pair("NL*CPA", "DE*EM2")).startswith("suspended")
        assert (await pair("BE*CPB", "FR*EM3")).startswith("active: locations")
        assert (await pair("BE*CPB", "DE*EM2")).startswith("proposed (default)")
        note = await page.locator("#agreements-note").inner_text()
        assert "AGREEMENTS_DEFAULT=closed" in note
        await page.screenshot(path=artifacts / "agreements.png", full_page=True)
        assert external == []
