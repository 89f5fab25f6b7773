"""Sessions that outlast the card's hold, with a clock the test controls
(``long_sessions.check_holds(ctx, now)``): the hub stops the session, captures what is due so
far before the hold runs out, and the CDR that comes later settles the difference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from app.payments import long_sessions
from app.payments.models import Payment
from tests.conftest import token_header
from tests.hub.network import Network, charging_period, network, stamp
from tests.ocpp.harness import wait_for
from tests.payments.stripe_fake import FakeStripe, stripe_settings
from tests.payments.test_partner_flow import ADHOC, START_ANSWER, ad_hoc_cdr, put_issue_site
from tests.payments.test_payouts import pay_at_partner


async def payment(n: Network) -> Payment:
    async with n.ctx.sessions() as session:
        return (await session.exec(select(Payment))).one()


def status_is(n: Network, wanted: str) -> Any:
    async def check() -> bool:
        return (await payment(n)).status == wanted

    return check


async def test_a_long_session_is_stopped_and_captured_before_the_hold_runs_out(
    database_url: str,
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], payment_jobs_poll_seconds=0.05
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        base = n.hub.base_url
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        await n.http.post(started.headers["location"], data={"action": "authorize"})
        await wait_for(lambda: bool(n.cpo.pushes("commands")))
        call = n.cpo.pushes("commands")[0]
        await n.http.post(
            call.body["response_url"],
            json={"result": "ACCEPTED"},
            headers=token_header(n.cpo.hub_token or ""),
        )
        token = call.body["token"]
        cdr_token = {
            k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
        }
        session = {
            "country_code": "NL",
            "party_id": "CPA",
            "id": "S-LONG",
            "start_date_time": stamp(0),
            "kwh": 12,
            "cdr_token": cdr_token,
            "auth_method": "COMMAND",
            "location_id": "LOC1",
            "evse_uid": "EVSE1",
            "connector_id": "1",
            "currency": "EUR",
            "status": "ACTIVE",
            "last_updated": stamp(30),
        }
        r = await n.http.put(
            n.url("receiver/sessions/NL/CPA/S-LONG"), json=session, headers=n.auth(n.cpo)
        )
        assert r.json()["status_code"] == 1000
        await wait_for(status_is(n, "charging"))
        p = await payment(n)
        # The local provider says nothing of the hold's end: the settings' 7 days.
        assert p.authorized_at is not None and p.hold_expires_at is not None
        assert p.hold_expires_at - p.authorized_at == timedelta(days=7)
        expires = p.hold_expires_at
        # Two days before: nothing to do.
        assert await long_sessions.check_holds(n.ctx, expires - timedelta(days=2)) == 0
        # Eleven hours before: the hub stops the session.
        assert await long_sessions.check_holds(n.ctx, expires - timedelta(hours=11)) == 1
        await wait_for(lambda: len(n.cpo.pushes("commands")) == 2)
        stop = n.cpo.pushes("commands")[1]
        assert stop.path.endswith("/STOP_SESSION") and stop.body["session_id"] == "S-LONG"
        await wait_for(status_is(n, "stopping"))
        assert "hold runs out" in ((await payment(n)).note or "")
        # Asked again: the stop is not sent twice.
        assert await long_sessions.check_holds(n.ctx, expires - timedelta(hours=10)) == 0
        # One hour before, no CDR yet: what is due so far is captured,
        # 12 kWh x 0.30 + 1.00 = 4.60, x 1.21 = 5.57.
        assert await long_sessions.check_holds(n.ctx, expires - timedelta(hours=1)) == 1
        await wait_for(status_is(n, "captured"))
        p = await payment(n)
        assert (p.amount_captured, p.price) == (557, None)
        assert await long_sessions.check_holds(n.ctx, expires - timedelta(minutes=30)) == 0
        # The CDR comes later: 11 kWh, 5.20. The 0.37 taken too much goes back.
        cdr = ad_hoc_cdr(
            "CDR-LONG",
            "S-LONG",
            cdr_token,
            {"excl_vat": 4.3, "incl_vat": 5.203},
            tariffs=[ADHOC],
            charging_periods=[charging_period(0, 11)],
            total_energy=11,
        )
        r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text

        async def settled() -> bool:
            return (await payment(n)).amount_refunded == 37

        await wait_for(settled)
        p = await payment(n)
        assert (p.price, p.amount_captured, p.amount_refunded, p.shortfall) == (520, 557, 37, 0)
        payout = await n.http.get(f"{base}/admin/payouts/NL*CPA", headers=n.admin)
        [balance] = payout.json()["balances"]
        assert (balance["captured"], balance["refunded"]) == (557, 37)


async def test_a_cdr_above_the_early_capture_is_flagged_as_a_shortfall(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], payment_jobs_poll_seconds=0.05
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        base = n.hub.base_url
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        await n.http.post(started.headers["location"], data={"action": "authorize"})
        await wait_for(lambda: bool(n.cpo.pushes("commands")))
        token = n.cpo.pushes("commands")[0].body["token"]
        cdr_token = {
            k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
        }
        session = {
            "country_code": "NL",
            "party_id": "CPA",
            "id": "S-LONG",
            "start_date_time": stamp(0),
            "end_date_time": stamp(60),
            "kwh": 5,
            "cdr_token": cdr_token,
            "auth_method": "COMMAND",
            "location_id": "LOC1",
            "evse_uid": "EVSE1",
            "connector_id": "1",
            "currency": "EUR",
            "status": "COMPLETED",
            "last_updated": stamp(60),
        }
        r = await n.http.put(
            n.url("receiver/sessions/NL/CPA/S-LONG"), json=session, headers=n.auth(n.cpo)
        )
        assert r.json()["status_code"] == 1000
        await wait_for(status_is(n, "awaiting_cdr"))
        expires = (await payment(n)).hold_expires_at
        assert expires is not None
        # The CPO's CDR is late: 5 kWh, (1.50 + 1.00) x 1.21 = 3.03 captured.
        assert await long_sessions.check_holds(n.ctx, expires - timedelta(hours=1)) == 1
        await wait_for(status_is(n, "captured"))
        cdr = ad_hoc_cdr(
            "CDR-LONG",
            "S-LONG",
            cdr_token,
            {"excl_vat": 4.3, "incl_vat": 5.203},
            tariffs=[ADHOC],
            charging_periods=[charging_period(0, 11)],
            total_energy=11,
        )
        r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text

        async def flagged() -> bool:
            return (await payment(n)).shortfall > 0

        await wait_for(flagged)
        p = await payment(n)
        assert (p.price, p.amount_captured, p.shortfall, p.amount_refunded) == (520, 303, 217, 0)
        assert "could not be charged" in (p.note or "")


async def test_stripe_extended_authorization_and_a_hold_that_runs_out_before_any_charging(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=[("commands", "RECEIVER")],
        **stripe_settings(),
        payment_hold_extend=True,
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        _public_id, pi, _cdr_token = await pay_at_partner(n, stripe_api)
        [checkout] = stripe_api.checkouts.values()
        assert checkout["extended_authorization"] == "if_available"

        async def confirmed() -> bool:
            return (await payment(n)).hold_expires_at is not None

        await wait_for(confirmed)
        # Stripe's capture_before of the charge, 30 days out, not the settings' 7 days.
        card = stripe_api.intents[pi]["latest_charge"]["payment_method_details"]["card"]
        expires = (await payment(n)).hold_expires_at
        assert expires == datetime.fromtimestamp(card["capture_before"], UTC)
        # The CPO never reported a Session: nothing is due, the hold is released in time (and
        # the session, if it did start, is stopped: two jobs).
        assert await long_sessions.check_holds(n.ctx, expires - timedelta(hours=1)) == 2
        await wait_for(status_is(n, "canceled"))
        assert stripe_api.of("cancel") == [("cancel", pi, 0)] and not stripe_api.captures()
