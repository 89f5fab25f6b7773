"""Numbers from outside that a payment cannot hold are refused, never a 500 (issue 14.5/14.6).

A payment keeps its amounts in minor units in INTEGER columns (32 bits on PostgreSQL): a CDR whose
total_cost does not fit is refused with 2001 naming total_cost and changes nothing; a refund of an
amount beyond the OCPI number range is a 422.
"""

from __future__ import annotations

from sqlmodel import select

from app.hub.store.models import OcpiObject
from tests.hub.network import network
from tests.ocpp.harness import wait_for
from tests.payments.test_partner_flow import (
    START_ANSWER,
    ad_hoc_cdr,
    payment,
    put_site,
    state,
)


async def test_a_price_no_payment_holds_is_2001_and_a_huge_refund_422(database_url: str) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=[("commands", "RECEIVER")],
        payment_jobs_poll_seconds=0.05,
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_site(n)
        base = n.hub.base_url
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        checkout = started.headers["location"]
        done = await n.http.post(checkout, data={"action": "authorize"})
        assert done.status_code == 303
        await wait_for(lambda: bool(n.cpo.pushes("commands")))
        token = n.cpo.pushes("commands")[0].body["token"]
        cdr_token = {
            k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
        }
        before = await payment(n)

        # 30 million euros is a valid OCPI number but 3,000,000,000 cents overflow the payment.
        huge = ad_hoc_cdr("CDR-HUGE", "S1", cdr_token, {"excl_vat": 30_000_000})
        r = await n.http.post(n.url("receiver/cdrs"), json=huge, headers=n.auth(n.cpo))
        assert r.status_code == 200, r.text
        assert r.json()["status_code"] == 2001 and "total_cost" in r.json()["status_message"]
        after = await payment(n)
        assert (after.status, after.price, after.cdr_id) == (before.status, None, None)
        async with n.ctx.sessions() as session:
            cdrs = (await session.exec(select(OcpiObject).where(OcpiObject.module == "cdrs"))).all()
        assert cdrs == []

        # A real CDR is captured; refunds of impossible amounts are 422 and change nothing.
        cdr = ad_hoc_cdr("CDR-OK", "S1", cdr_token, {"excl_vat": 8.5, "incl_vat": 10.29})
        r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(state(n, "captured"))
        url = f"{base}/admin/payments/{before.public_id}/refunds"
        for amount in ("1e30", 1e30, "NaN", "Infinity", -1, 0):
            refund = await n.http.post(url, json={"amount": amount}, headers=n.admin)
            assert refund.status_code == 422, (amount, refund.text)
            assert "amount" in refund.json()["detail"], refund.text
        assert (await payment(n)).amount_refunded == 0
