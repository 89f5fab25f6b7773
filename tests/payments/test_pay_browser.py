"""A driver in a real browser (Debian's chromium, driven by Playwright), with the local test
payment provider and a simulated OCPP charger: pay page, start, test checkout, live status,
stop, receipt. A screenshot of each step is kept in the test's artifacts folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import expect
from sqlmodel import select

from app.payments.models import Payment
from tests.browser.conftest import watch_external_requests
from tests.ocpp.harness import at, charger, wait_for, world


async def test_driver_pays_charges_stops_and_reads_the_receipt(
    database_url: str, browser: Any, artifacts: Path
) -> None:
    async with world(database_url, payment_jobs_poll_seconds=0.05) as w:
        await w.setup_site(["CP1"])
        async with charger(w, "CP1") as cp:
            await cp.boot()
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()
            external = await watch_external_requests(page)

            await page.goto(f"{w.hub.base_url}/pay/CP1-1")
            await expect(page.locator("#test-mode")).to_contain_text("TEST MODE")
            await expect(page.locator("#price")).to_contain_text("€0.30 per kWh")
            await expect(page.locator("#evse-status")).to_have_text("available")
            await expect(page.locator("#hold")).to_have_text("€50.00")
            await page.screenshot(path=artifacts / "1-pay-page.png", full_page=True)

            await page.click("#start")
            await expect(page.locator("#amount")).to_have_text("€50.00")
            await page.screenshot(path=artifacts / "2-test-checkout.png", full_page=True)

            await page.click("#authorize")
            await page.wait_for_url("**/pay/sessions/**")
            await wait_for(lambda: cp.remote_started.is_set())
            await expect(page.locator("#status-text")).to_have_text("Charging", timeout=10000)
            await cp.meter_values(6000, at(20))

            async with w.hub.app.state.hub.sessions() as session:
                payment = (await session.exec(select(Payment))).one()
            # The Session's figures are PATCHed at most every 60 s of charging (OCPP harness):
            # stop it after the first figures are on the page.
            await expect(page.locator("#stop")).to_be_visible()
            await page.screenshot(path=artifacts / "3-charging.png", full_page=True)

            await page.click("#stop")
            await wait_for(lambda: "RemoteStopTransaction" in cp.calls_seen)
            await expect(page.locator("#status-text")).to_have_text("Stopping", timeout=10000)
            await cp.stop_tx(16000, at(45))
            # 15 kWh x 0.30 + 1.00 = 5.50
            await expect(page.locator("#status-text")).to_have_text(
                "Paid, thank you", timeout=15000
            )
            await expect(page.locator("#cost")).to_have_text("€5.50")
            await expect(page.locator("#energy")).to_have_text("15.00")
            await expect(page.locator("#stop")).to_be_hidden()
            await page.screenshot(path=artifacts / "4-paid.png", full_page=True)

            await page.click("#receipt")
            await page.wait_for_url(f"**/pay/sessions/{payment.public_id}/receipt")
            await expect(page.locator("#total")).to_have_text("€5.50")
            await expect(page.locator("#charged")).to_have_text("€5.50")
            await expect(page.locator("#receipt")).to_contain_text("Depot")
            await expect(page.locator("#invoice-number")).to_have_text("VR-000001")
            await expect(page.locator("#invoiced")).to_have_text("5.50 EUR")
            await page.screenshot(path=artifacts / "5-receipt.png", full_page=True)
            # The invoice's PDF, downloaded as the driver's browser does.
            href = await page.locator("#invoice-pdf").get_attribute("href")
            pdf = await page.request.get(f"{w.hub.base_url}{href}")
            assert pdf.headers["content-type"] == "application/pdf"
            assert (await pdf.body()).startswith(b"%PDF-")
            await context.close()
            assert external == []
    for name in ("1-pay-page", "2-test-checkout", "3-charging", "4-paid", "5-receipt"):
        assert (artifacts / f"{name}.png").stat().st_size > 1000
