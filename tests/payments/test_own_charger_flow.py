"""The driver's whole path on one of the hub's own OCPP chargers, paid through (simulated) Stripe:
pay page -> Checkout (manual capture) -> signed webhook -> remote start -> meter values -> stop
-> CDR -> capture of exactly the tariff price -> receipt."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from sqlmodel import select

from app.hub.store.models import OcpiObject
from app.ocpi.schemas.common import parse_datetime
from app.payments.models import Payment, PaymentEvent, PaymentJob
from tests.conftest import RunningServer
from tests.ocpp.harness import PASSWORD, World, at, charger, ocpp_hub, wait_for, world
from tests.payments.stripe_fake import API, FakeStripe, event, sign, stripe_settings

EVSE = "CP1-1"


async def payment_row(w: World | RunningServer, public_id: str) -> Payment:
    hub = w.hub if isinstance(w, World) else w
    async with hub.app.state.hub.sessions() as session:
        row = (await session.exec(select(Payment).where(Payment.public_id == public_id))).first()
        assert row is not None
        return row


async def webhook(w: World, kind: str, obj: dict[str, Any], **kw: Any) -> httpx.Response:
    payload = event(kind, obj, kw.pop("event_id", None))
    return await w.http.post(
        f"{w.hub.base_url}/payments/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": kw.pop("signature", None) or sign(payload, **kw)},
    )


async def checkout(w: World, fake: FakeStripe) -> tuple[str, str, dict[str, Any]]:
    """Press "Start charging" and pay at 'Stripe': (public id, cs id, the paid checkout)."""
    started = await w.http.post(f"{w.hub.base_url}/pay/{EVSE}/start", data={"connector_id": "1"})
    assert started.status_code == 303, started.text
    cs = started.headers["location"].rsplit("/", 1)[1]
    paid = fake.pay(cs)
    return paid["client_reference_id"], cs, paid


async def pay_and_start(w: World, fake: FakeStripe) -> tuple[str, str]:
    """Open the pay page, start, pay at 'Stripe', send the webhook; answers (public id, cs id)."""
    page = await w.http.get(f"{w.hub.base_url}/pay/{EVSE}")
    assert page.status_code == 200, page.text
    assert "€0.30 per kWh" in page.text and "€1.00 per session" in page.text
    assert "€50.00" in page.text  # the hold
    started = await w.http.post(f"{w.hub.base_url}/pay/{EVSE}/start", data={"connector_id": "1"})
    assert started.status_code == 303, started.text
    checkout_url = started.headers["location"]
    assert checkout_url.startswith("https://checkout.stripe.test/c/pay/cs_test_")
    cs = checkout_url.rsplit("/", 1)[1]
    checkout = fake.checkouts[cs]
    assert checkout["mode"] == "payment" and checkout["capture_method"] == "manual"
    assert checkout["amount_total"] == 5000 and checkout["currency"] == "eur"
    public_id = checkout["client_reference_id"]
    assert checkout["idempotency_key"] == f"voltroam-checkout-{public_id}"
    assert checkout["success_url"].endswith(f"/pay/sessions/{public_id}")
    paid = fake.pay(cs)
    r = await webhook(w, "checkout.session.completed", paid)
    assert r.status_code == 200 and r.json()["outcome"] == "checkout.session.completed"
    return public_id, cs


async def test_paid_session_on_own_charger_captures_the_tariff_price(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with world(database_url, **stripe_settings()) as w:
        await w.setup_site(["CP1"])
        async with charger(w, "CP1") as cp:
            await cp.boot()
            public_id, cs = await pay_and_start(w, stripe_api)
            # The hub starts the charger by OCPP remote start with its eMSP's ad hoc token.
            await wait_for(lambda: cp.remote_started.is_set())
            assert cp.pending_tag.startswith("VRP")
            await wait_for(_status(w, public_id, "charging"))
            status = await w.http.get(f"{w.hub.base_url}/pay/sessions/{public_id}/status.json")
            assert status.json()["can_stop"] is True
            await cp.meter_values(11000, at(30))
            # The driver presses stop: STOP_SESSION becomes RemoteStopTransaction.
            stop = await w.http.post(f"{w.hub.base_url}/pay/sessions/{public_id}/stop")
            assert stop.status_code == 303
            await wait_for(lambda: "RemoteStopTransaction" in cp.calls_seen)
            await cp.stop_tx(21000, at(60))
            # 20 kWh x 0.30 + 1.00 = 7.00 EUR -> 700 captured, exactly once.
            await wait_for(_status(w, public_id, "captured"))
        row = await payment_row(w, public_id)
        assert (row.price, row.amount_captured, row.shortfall) == (700, 700, 0)
        pi = stripe_api.checkouts[cs]["payment_intent"]
        assert stripe_api.captures() == [("capture", pi, 700)]
        capture = next(r for r in stripe_api.requests if r.url.path.endswith("/capture"))
        assert capture.headers["Idempotency-Key"] == f"capture-{public_id}"
        # No ad hoc Session or CDR is pushed to a partner eMSP: the hub's eMSP consumed them.
        assert not [c for c in w.pushes("cdrs") if "VRP" in str(c.body)]
        receipt = await w.http.get(f"{w.hub.base_url}/pay/sessions/{public_id}/receipt")
        assert receipt.status_code == 200
        text = re.sub(r"\s+", " ", receipt.text)
        assert "20.000 kWh" in text and "€6.00" in text and "€1.00" in text
        assert 'id="total">€7.00' in text and 'id="charged">€7.00' in text
        assert "Depot" in text and "Stationsplein 1" in text
        assert '<span id="invoice-number">VR-000001</span>' in text
        # At the hub's own charger the hub is the CPO: all of it is its own, nothing is owed.
        payouts = (await w.http.get(f"{w.hub.base_url}/admin/payouts", headers=w.admin)).json()
        [own] = payouts
        assert own["partner"] is False
        assert [(b["captured"], b["fees"], b["payable"], b["owed"]) for b in own["balances"]] == [
            (700, 700, 0, 0)
        ]
        # A repeated webhook changes nothing.
        again = await webhook(
            w, "checkout.session.completed", stripe_api.checkouts[cs], event_id="evt_again"
        )
        again2 = await webhook(
            w, "checkout.session.completed", stripe_api.checkouts[cs], event_id="evt_again"
        )
        assert again.json()["outcome"] == "checkout.session.completed"
        assert again2.json()["outcome"] == "duplicate"
        assert stripe_api.captures() == [("capture", pi, 700)]
        assert (await payment_row(w, public_id)).status == "captured"
        metrics = (await w.http.get(f"{w.hub.base_url}/metrics")).text
        assert 'voltroam_payments_total{outcome="captured"} 1.0' in metrics
        assert 'voltroam_payment_captured_minor_units_total{currency="EUR"} 700.0' in metrics


def _status(w: World | RunningServer, public_id: str, wanted: str) -> Any:
    async def check() -> bool:
        return (await payment_row(w, public_id)).status == wanted

    return check


async def test_webhook_signature_and_timestamp_are_checked(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with world(database_url, **stripe_settings()) as w:
        await w.setup_site(["CP1"])
        async with charger(w, "CP1") as cp:
            await cp.boot()
            public_id, _cs, paid = await checkout(w, stripe_api)
            url = f"{w.hub.base_url}/payments/stripe/webhook"
            payload = event("checkout.session.completed", paid, "evt_signed")
            # Wrong secret, no header, a header of garbage, an old timestamp: 400, nothing done.
            for headers in (
                {"Stripe-Signature": sign(payload, secret="whsec_wrong")},
                {},
                {"Stripe-Signature": "t=abc,v1=zzz"},
                {"Stripe-Signature": sign(payload, timestamp=1_700_000_000)},
            ):
                r = await w.http.post(url, content=payload, headers=headers)
                assert r.status_code == 400, r.text
                assert "Traceback" not in r.text
            tampered = payload.replace("evt_signed", "evt_tampered")
            r = await w.http.post(
                url, content=tampered, headers={"Stripe-Signature": sign(payload)}
            )
            assert r.status_code == 400
            async with w.hub.app.state.hub.sessions() as session:
                assert (await session.exec(select(PaymentEvent))).all() == []
                assert (await session.exec(select(PaymentJob))).all() == []
            assert (await payment_row(w, public_id)).status == "created"
            # Signed but not an event: 400. Unknown type: ignored (200).
            r = await w.http.post(url, content="[1]", headers={"Stripe-Signature": sign("[1]")})
            assert r.status_code == 400
            r = await webhook(w, "customer.created", {"id": "cus_1", "object": "customer"})
            assert r.status_code == 200 and r.json()["outcome"] == "ignored"
            # Out of order: the PaymentIntent event first, then the checkout's; one start.
            intent = stripe_api.intents[paid["payment_intent"]]
            r1 = await webhook(w, "payment_intent.amount_capturable_updated", intent)
            r2 = await webhook(w, "checkout.session.completed", paid)
            assert r1.status_code == r2.status_code == 200
            await wait_for(lambda: cp.remote_started.is_set())
            async with w.hub.app.state.hub.sessions() as session:
                jobs = (await session.exec(select(PaymentJob))).all()
            assert sorted(j.kind for j in jobs) == ["confirm", "start"]
            assert cp.calls_seen.count("RemoteStartTransaction") == 1
            # The same event delivered six times at once: acted on once, never a 500.
            payload = event("payment_intent.succeeded", intent, "evt_raced")
            answers = await asyncio.gather(
                *(
                    w.http.post(url, content=payload, headers={"Stripe-Signature": sign(payload)})
                    for _ in range(6)
                )
            )
            assert sorted(r.status_code for r in answers) == [200] * 6
            outcomes = sorted(r.json()["outcome"] for r in answers)
            assert outcomes == ["duplicate"] * 5 + ["payment_intent.succeeded"]


async def test_capture_survives_a_lost_answer_and_a_restart(
    database_url: str, stripe_api: FakeStripe
) -> None:
    """Stripe captures but its answer is lost, then the hub restarts before it could record it:
    the capture is retried with the same idempotency key and happens once."""
    async with world(database_url, **stripe_settings(), payment_jobs_max_attempts=50) as w:
        await w.setup_site(["CP1"])
        async with charger(w, "CP1") as cp:
            await cp.boot()
            public_id, cs = await pay_and_start(w, stripe_api)
            await wait_for(lambda: cp.remote_started.is_set())
            await wait_for(_status(w, public_id, "charging"))
            # Every answer to capture is lost for now (Stripe did capture the first time).
            stripe_api.faults["capture"] = ["lost"] * 100
            # ... and Stripe cannot be asked what happened either.
            stripe_api.faults["retrieve"] = ["500"] * 1000
            await cp.stop_tx(11000, at(30))
            await wait_for(lambda: len(stripe_api.captures()) == 1)
            await wait_for(
                lambda: (
                    len([r for r in stripe_api.requests if r.url.path.endswith("/capture")]) >= 3
                )
            )
            assert (await payment_row(w, public_id)).status == "capturing"
    stripe_api.faults.clear()
    # A new hub process on the same database finishes the job.
    async with ocpp_hub(database_url, **stripe_settings()) as w2:
        await wait_for(_status(w2, public_id, "captured"), timeout=20)
        row = await payment_row(w2, public_id)
        # 10 kWh x 0.30 + 1.00 = 4.00
        assert (row.price, row.amount_captured) == (400, 400)
    pi = stripe_api.checkouts[cs]["payment_intent"]
    assert stripe_api.captures() == [("capture", pi, 400)]


async def test_price_above_the_hold_captures_what_it_can_and_flags_it(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with world(database_url, **stripe_settings(), payment_hold="EUR=5") as w:
        await w.setup_site(["CP1"])
        async with charger(w, "CP1") as cp:
            await cp.boot()
            public_id, cs, paid = await checkout(w, stripe_api)
            await webhook(w, "checkout.session.completed", paid)
            await wait_for(lambda: cp.remote_started.is_set())
            await wait_for(_status(w, public_id, "charging"))
            await cp.stop_tx(21000, at(60))  # 7.00 EUR against a 5.00 hold
            await wait_for(_status(w, public_id, "captured"))
        row = await payment_row(w, public_id)
        assert (row.price, row.amount_captured, row.shortfall) == (700, 500, 200)
        assert row.note and "could not be charged" in row.note
        flagged = await w.http.get(
            f"{w.hub.base_url}/admin/payments", params={"flagged": "true"}, headers=w.admin
        )
        assert [p["public_id"] for p in flagged.json()] == [public_id]
        # Refunds: partial, then the rest; more than is left is refused.
        url = f"{w.hub.base_url}/admin/payments/{public_id}/refunds"
        r = await w.http.post(
            url, json={"amount": "1.50"}, headers={**w.admin, "Idempotency-Key": "k1"}
        )
        assert r.status_code == 202, r.text
        again = await w.http.post(
            url, json={"amount": "1.50"}, headers={**w.admin, "Idempotency-Key": "k1"}
        )
        assert again.status_code == 202 and again.json()["id"] == r.json()["id"]
        too_much = await w.http.post(url, json={"amount": "4.00"}, headers=w.admin)
        assert too_much.status_code == 409
        rest = await w.http.post(url, json={}, headers=w.admin)
        assert rest.status_code == 202 and rest.json()["amount"] == 350

        async def refunded() -> bool:
            return (await payment_row(w, public_id)).amount_refunded == 500

        await wait_for(refunded)
        pi = stripe_api.checkouts[cs]["payment_intent"]
        assert [e for e in stripe_api.effects if e[0] == "refund"] == [
            ("refund", pi, 150),
            ("refund", pi, 350),
        ]
        unauthorized = await w.http.post(url, json={})
        assert unauthorized.status_code == 401


async def test_the_api_base_is_configurable_and_stripe_errors_are_clear(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with world(database_url, **stripe_settings()) as w:
        await w.setup_site(["CP1"])
        async with charger(w, "CP1") as cp:
            await cp.boot()
            stripe_api.faults["checkout"] = ["500"] * 10
            r = await w.http.post(f"{w.hub.base_url}/pay/{EVSE}/start", data={"connector_id": "1"})
            assert r.status_code == 503
            assert "payment service is not available" in r.text
            assert all(str(req.url).startswith(API) for req in stripe_api.requests)


# Issue 13.1: a Location with tariff_ids ["REG", "ADHOC"]. The pay page shows AD_HOC_PAYMENT;
# the CDR, the capture and the receipt must use it too, not the first (REGULAR) tariff.
REGULAR_TARIFF = {
    "currency": "EUR",
    "type": "REGULAR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21, "step_size": 1}]}
    ],
}
AD_HOC_TARIFF = {
    "currency": "EUR",
    "type": "AD_HOC_PAYMENT",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1},
                {"type": "FLAT", "price": 1.00, "vat": 21, "step_size": 1},
            ]
        }
    ],
}


async def setup_two_tariff_site(w: World) -> dict[str, Any]:
    """The hub's own CPO: REG and ADHOC, a Location listing ["REG", "ADHOC"], charger CP1."""
    await w.admin_put("own-cpo/tariffs/REG", REGULAR_TARIFF)
    ad_hoc = await w.admin_put("own-cpo/tariffs/ADHOC", AD_HOC_TARIFF)
    await w.admin_put(
        "own-cpo/locations/LOC1",
        {
            "name": "Depot",
            "address": "Stationsplein 1",
            "city": "Amsterdam",
            "country": "NLD",
            "coordinates": {"latitude": "52.378900", "longitude": "4.900000"},
            "time_zone": "Europe/Amsterdam",
            "tariff_ids": ["REG", "ADHOC"],
        },
    )
    r = await w.admin_post(
        "chargers", {"charge_point_id": "CP1", "password": PASSWORD, "location_id": "LOC1"}
    )
    assert r.status_code == 201, r.text
    await w.push_token("TOK1")
    return ad_hoc


async def test_the_ad_hoc_tariff_shown_is_the_one_charged_on_an_own_charger(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with world(database_url, **stripe_settings()) as w:
        ad_hoc = await setup_two_tariff_site(w)
        async with charger(w, "CP1") as cp:
            await cp.boot()
            page = re.sub(r"\s+", " ", (await w.http.get(f"{w.hub.base_url}/pay/{EVSE}")).text)
            # The AD_HOC_PAYMENT price, incl. VAT: 0.30 x 1.21 per kWh, 1.00 x 1.21 per session.
            assert "€0.363 per kWh, incl. 21% VAT" in page and "€1.21 per session" in page
            assert "€0.3025" not in page  # not the REGULAR price
            public_id, cs, paid = await checkout(w, stripe_api)
            r = await webhook(w, "checkout.session.completed", paid)
            assert r.status_code == 200
            row = await payment_row(w, public_id)
            assert row.tariff_id == "ADHOC" and row.tariff_snapshot is not None
            assert row.tariff_snapshot["type"] == "AD_HOC_PAYMENT"
            assert row.tariff_last_updated is not None
            assert row.tariff_last_updated == parse_datetime(ad_hoc["last_updated"])
            await wait_for(lambda: cp.remote_started.is_set())
            await wait_for(_status(w, public_id, "charging"))
            await cp.meter_values(11000, at(30))
            await cp.stop_tx(21000, at(60))
            # 20 kWh x 0.30 + 1.00 = 7.00 excl. VAT, 8.47 incl. 21 % (REGULAR would be 6.05).
            await wait_for(_status(w, public_id, "captured"))
            # An RFID card at the same charger pays the REGULAR price: 10 kWh x 0.25 x 1.21.
            await cp.start_tx("TOK1", at(70))
            await cp.stop_tx(31000, at(100))
            await wait_for(lambda: bool(w.pushes("cdrs")))
        row = await payment_row(w, public_id)
        assert (row.price, row.cpo_price, row.amount_captured) == (847, 847, 847)
        assert row.note is None  # the own CDR agrees with the shown price: nothing to flag
        pi = stripe_api.checkouts[cs]["payment_intent"]
        assert stripe_api.captures() == [("capture", pi, 847)]
        # The CDR the bridge made for the paid session is priced with, and carries, ADHOC.
        async with w.hub.app.state.hub.sessions() as session:
            stored = (
                await session.exec(select(OcpiObject).where(OcpiObject.module == "cdrs"))
            ).all()
        paid_cdr = next(c.data for c in stored if c.data["cdr_token"]["type"] == "AD_HOC_USER")
        assert [t["id"] for t in paid_cdr["tariffs"]] == ["ADHOC"]
        assert paid_cdr["total_cost"] == {"excl_vat": 7, "incl_vat": 8.47}
        rfid_cdr = w.pushes("cdrs")[0].body
        assert [t["id"] for t in rfid_cdr["tariffs"]] == ["REG"]
        assert rfid_cdr["total_cost"] == {"excl_vat": 2.5, "incl_vat": 3.025}
        # The receipt names the tariff shown and adds up to what was captured.
        receipt = await w.http.get(f"{w.hub.base_url}/pay/sessions/{public_id}/receipt")
        text = re.sub(r"\s+", " ", receipt.text)
        assert '<span id="tariff">ADHOC</span>' in text
        assert "€0.363 per kWh, incl. 21% VAT" in text
        assert "20.000 kWh" in text and "VAT 21%" in text
        assert 'id="total">€8.47' in text and 'id="charged">€8.47' in text
