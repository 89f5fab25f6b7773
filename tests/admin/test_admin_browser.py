"""The admin page in a real (headless) browser: token from the fragment, rendering, refresh,
sign-in on a refused token, nothing fetched from elsewhere."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from app.core.admin_auth import issue_admin_token
from app.core.dbtypes import utcnow
from tests.admin.data import add_deliveries, add_payments, add_sessions, payment
from tests.browser.conftest import watch_external_requests
from tests.conftest import RunningServer, invite, running_party
from tests.hub.network import register
from tests.peers import FakeParty

TIMEOUT = 10_000  # ms


async def cpo_platform(http: httpx.AsyncClient, hub: RunningServer) -> dict[str, Any]:
    assert hub.settings is not None
    headers = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    platforms = (await http.get(f"{hub.base_url}/admin/platforms", headers=headers)).json()
    return dict(platforms[0])


async def test_admin_page_shows_the_overview(
    hub: RunningServer, http: httpx.AsyncClient, browser: Any, artifacts: Path
) -> None:
    assert hub.settings is not None
    ctx = hub.app.state.hub
    async with running_party(FakeParty(roles=[("CPO", "NL", "CPA")])) as cpo:
        await register(http, hub, cpo)
        # Its Locations are pulled (a sync job) while it is there.
        for _ in range(200):
            platform = await cpo_platform(http, hub)
            if platform["sync"] is not None and platform["sync"]["state"] == "done":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the CPO was not pulled: {platform['sync']}")
    await add_deliveries(
        ctx, platform["id"], pending=0, failed=1, age=timedelta(0), error="refused: OCPI 2001"
    )
    await invite(http, hub, "Example eMSP <b>GmbH</b>")  # shown as text, never as markup
    await add_sessions(ctx, {"S1": "ACTIVE", "S2": "PENDING", "S3": "COMPLETED"})
    now = utcnow()
    await add_payments(
        ctx,
        [
            payment(1, "captured", now - timedelta(minutes=30), price=1234, amount_captured=1234),
            payment(2, "charging", now - timedelta(minutes=5), currency="JPY", hold_amount=3000),
        ],
    )
    token = issue_admin_token(hub.settings)

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    external = await watch_external_requests(page)
    await page.goto(f"{hub.base_url}/admin#token={token}")

    platforms = page.locator("#platforms tbody tr")
    await platforms.filter(has_text="NL*CPA").wait_for(timeout=TIMEOUT)
    assert await platforms.count() == 2
    cpo_row = platforms.filter(has_text="NL*CPA")
    assert "CPO NL*CPA" in await cpo_row.inner_text()
    assert "CONNECTED" in await cpo_row.inner_text()
    emsp_row = platforms.filter(has_text="Example eMSP")
    assert await emsp_row.locator("td").first.inner_text() == "Example eMSP <b>GmbH</b>"
    assert "PLANNED" in await emsp_row.inner_text()
    assert await page.locator("#n-platforms").inner_text() == "1 / 2"
    assert await page.locator("#n-sessions").inner_text() == "2"
    assert await page.locator("#n-chargers").inner_text() == "0 / 0"
    assert await page.locator("#n-payments").inner_text() == "2"
    failed = await page.locator("#failed tbody tr").inner_text()
    assert "NL*CPA" in failed and "PUT locations NL/CPA/TEST0" in failed
    assert "refused: OCPI 2001" in failed
    pulls = await page.locator("#syncs tbody tr").inner_text()
    assert "NL*CPA" in pulls and "registration" in pulls and "done" in pulls
    payments = page.locator("#payments tbody tr")
    assert await payments.count() == 2
    newest = await payments.nth(0).inner_text()
    assert "pay_test_0002" in newest and "3000 JPY" in newest
    oldest = await payments.nth(1).inner_text()
    assert "50.00 EUR" in oldest and "12.34 EUR" in oldest
    # The token left the address bar and lives in sessionStorage.
    assert "token" not in page.url
    assert await page.evaluate("sessionStorage.getItem('voltroam.adminToken')") == token
    await page.screenshot(path=str(artifacts / "admin-overview.png"), full_page=True)

    # It refreshes by itself (every 5 seconds).
    await add_sessions(ctx, {"S4": "ACTIVE"})
    await page.locator("#n-sessions").filter(has_text="3").wait_for(timeout=TIMEOUT)

    # On a phone.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(artifacts / "admin-overview-phone.png"), full_page=True)
    await page.close()

    # A wrong token: the sign-in form says so, and no data is shown.
    wrong = await browser.new_page()
    wrong_external = await watch_external_requests(wrong)
    await wrong.goto(f"{hub.base_url}/admin#token=not-a-valid-token")
    message = wrong.locator("#sign-in-message")
    await message.filter(has_text="refused").wait_for(timeout=TIMEOUT)
    assert await wrong.locator("#sign-in").is_visible()
    assert not await wrong.locator("#overview").is_visible()
    assert await wrong.locator("#platforms tbody tr").count() == 0
    assert await wrong.evaluate("sessionStorage.getItem('voltroam.adminToken')") is None
    await wrong.screenshot(path=str(artifacts / "admin-refused-token.png"), full_page=True)

    # Signing in with the form shows the overview.
    await wrong.fill("#token", token)
    await wrong.click("#sign-in-form button")
    await wrong.locator("#platforms tbody tr").filter(has_text="NL*CPA").wait_for(timeout=TIMEOUT)
    assert not await wrong.locator("#sign-in").is_visible()
    await wrong.close()

    assert external == []
    assert wrong_external == []
