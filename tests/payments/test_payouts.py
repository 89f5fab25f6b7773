"""The money owed to partner CPOs: the ledger of every capture and refund, the hub's fee (the
settings' or a CPO's own), Stripe Connect transfers and their reversals, exactly once across lost
answers, duplicated webhooks and restarts. Stripe is the scripted state machine of stripe_fake."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import select

from app.payments.models import LedgerEntry, Payment, PaymentJob
from tests.conftest import running_hub, token_header
from tests.hub.network import Network, network
from tests.ocpp.harness import wait_for
from tests.payments.stripe_fake import FakeStripe, event, sign, stripe_settings
from tests.payments.test_partner_flow import (
    ADHOC,
    START_ANSWER,
    put_issue_site,
    twenty_kwh_cdr,
)

CPO = "NL*CPA"


async def webhook(
    http: httpx.AsyncClient, base: str, kind: str, obj: dict[str, Any], event_id: str | None = None
) -> httpx.Response:
    payload = event(kind, obj, event_id)
    return await http.post(
        f"{base}/payments/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": sign(payload)},
    )


async def row(ctx: Any, public_id: str) -> Payment:
    async with ctx.sessions() as session:
        found = (await session.exec(select(Payment).where(Payment.public_id == public_id))).first()
        assert found is not None
        return found


async def pay_at_partner(n: Network, fake: FakeStripe) -> tuple[str, str, dict[str, Any]]:
    """Pay at the partner CPO's EVSE through 'Stripe' and let the CPO start: (public id, the
    PaymentIntent id, the cdr_token of the hub's ad hoc token)."""
    base = n.hub.base_url
    started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
    assert started.status_code == 303, started.text
    cs = started.headers["location"].rsplit("/", 1)[1]
    paid = fake.pay(cs)
    r = await webhook(n.http, base, "checkout.session.completed", paid)
    assert r.status_code == 200, r.text
    await wait_for(lambda: bool(n.cpo.pushes("commands")))
    call = n.cpo.pushes("commands")[-1]
    result = await n.http.post(
        call.body["response_url"],
        json={"result": "ACCEPTED"},
        headers=token_header(n.cpo.hub_token or ""),
    )
    assert result.json()["status_code"] == 1000
    token = call.body["token"]
    cdr_token = {k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")}
    return str(paid["client_reference_id"]), str(paid["payment_intent"]), cdr_token


async def send_cdr(n: Network, cdr_token: dict[str, Any]) -> None:
    """The CPO's CDR: 20 kWh at ADHOC, (20 x 0.30 + 1.00) x 1.21 = 8.47."""
    cdr = twenty_kwh_cdr(cdr_token, ADHOC, {"excl_vat": 7.0, "incl_vat": 8.47})
    r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
    assert r.json()["status_code"] == 1000, r.text


async def payout(n: Network) -> dict[str, Any]:
    r = await n.http.get(f"{n.hub.base_url}/admin/payouts/{CPO}", headers=n.admin)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def journals_balance(ctx: Any) -> None:
    """Every journal of the ledger sums to zero."""
    async with ctx.sessions() as session:
        lines = (await session.exec(select(LedgerEntry))).all()
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.journal] = totals.get(line.journal, 0) + line.amount
    assert lines and set(totals.values()) == {0}, totals


def fee_settings() -> dict[str, Any]:
    return {
        **stripe_settings(),
        "payout_fee_percent": "10",
        "payout_fee_fixed": "EUR=0.25",
        "payment_jobs_max_attempts": 50,
    }


async def test_the_cpo_share_is_transferred_and_refunds_reverse_it_in_proportion(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], **fee_settings()
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        put = await n.http.put(
            f"{n.hub.base_url}/admin/payouts/{CPO}",
            json={"connect_account_id": "acct_cpa"},
            headers=n.admin,
        )
        assert put.status_code == 200, put.text
        assert put.json()["fee_percent"] == "10" and put.json()["custom_terms"] is False
        public_id, pi, cdr_token = await pay_at_partner(n, stripe_api)
        await send_cdr(n, cdr_token)
        # 847 captured; the hub keeps 10 % (84.7 -> 85) + 0.25 = 110; 737 to the CPO.
        await wait_for(lambda: bool(stripe_api.of("transfer")))
        assert stripe_api.captures() == [("capture", pi, 847)]
        assert stripe_api.of("transfer") == [("transfer", "acct_cpa", 737)]
        sent = next(r for r in stripe_api.requests if r.url.path == "/v1/transfers")
        assert sent.headers["Idempotency-Key"] == f"voltroam-transfer-{public_id}"
        [transfer] = stripe_api.transfers.values()
        assert transfer["transfer_group"] == f"voltroam-{public_id}"

        async def transferred() -> bool:
            return (await payout(n))["balances"][0]["transferred"] == 737

        await wait_for(transferred)
        assert (await payout(n))["balances"] == [
            {
                "currency": "EUR",
                "captured": 847,
                "refunded": 0,
                "fees": 110,
                "payable": 737,
                "transferred": 737,
                "owed": 0,
            }
        ]
        # A refund of 3.00: the CPO's share of it is 300 x 737 / 847 = 261.04 -> 261.
        url = f"{n.hub.base_url}/admin/payments/{public_id}/refunds"
        r = await n.http.post(url, json={"amount": 3}, headers={**n.admin, "Idempotency-Key": "r1"})
        assert r.status_code == 202, r.text
        await wait_for(lambda: bool(stripe_api.of("reversal")))
        [tr] = stripe_api.transfers
        assert stripe_api.of("reversal") == [("reversal", tr, 261)]
        # The rest: the CPO's share goes back to exactly zero, the hub's fee too.
        r = await n.http.post(url, json={}, headers=n.admin)
        assert r.status_code == 202 and r.json()["amount"] == 547
        await wait_for(lambda: len(stripe_api.of("reversal")) == 2)
        assert stripe_api.of("reversal")[1] == ("reversal", tr, 476)

        async def settled() -> bool:
            return (await payout(n))["balances"][0]["transferred"] == 0

        await wait_for(settled)
        assert (await payout(n))["balances"][0] == {
            "currency": "EUR",
            "captured": 847,
            "refunded": 847,
            "fees": 0,
            "payable": 0,
            "transferred": 0,
            "owed": 0,
        }
        await journals_balance(n.ctx)
        metrics = (await n.http.get(f"{n.hub.base_url}/metrics")).text
        assert 'voltroam_payout_transfers_total{outcome="transferred"} 1.0' in metrics
        assert 'voltroam_payout_transfers_total{outcome="reversed"} 2.0' in metrics


async def test_a_lost_transfer_answer_duplicate_webhooks_and_a_restart_transfer_once(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], **fee_settings()
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        await n.http.put(
            f"{n.hub.base_url}/admin/payouts/{CPO}",
            json={"connect_account_id": "acct_cpa", "fee_percent": 0, "fee_fixed": {"EUR": 0}},
            headers=n.admin,
        )
        _public_id, pi, cdr_token = await pay_at_partner(n, stripe_api)
        # Stripe transfers, but every answer is lost, and it cannot be asked either.
        stripe_api.faults["transfer"] = ["lost"] * 1000
        stripe_api.faults["list_transfers"] = ["500"] * 1000
        await send_cdr(n, cdr_token)
        await wait_for(lambda: bool(stripe_api.of("transfer")))
        # Stripe's duplicated webhooks of the payment meanwhile change nothing.
        intent = stripe_api.intents[pi]
        for _ in range(2):
            for kind, obj in (
                ("payment_intent.succeeded", intent),
                ("checkout.session.completed", next(iter(stripe_api.checkouts.values()))),
            ):
                r = await webhook(n.http, n.hub.base_url, kind, obj, event_id=f"evt_{kind}")
                assert r.status_code == 200
        await wait_for(
            lambda: len([r for r in stripe_api.requests if r.url.path == "/v1/transfers"]) >= 4
        )
        async with n.ctx.sessions() as session:
            [job] = (
                await session.exec(select(PaymentJob).where(PaymentJob.kind == "transfer"))
            ).all()
        assert job.status == "pending"
        assert (await payout(n))["balances"][0]["owed"] == 847
    # The hub stops; by the time it is back, Stripe has forgotten the idempotency key (a replay
    # would be a second transfer): the hub finds the transfer of the payment's group instead.
    stripe_api.faults.clear()
    stripe_api.forget_keys()
    async with running_hub(database_url, **fee_settings()) as hub, httpx.AsyncClient() as http:

        async def booked() -> bool:
            async with hub.app.state.hub.sessions() as session:
                done = (
                    await session.exec(select(PaymentJob).where(PaymentJob.kind == "transfer"))
                ).one()
            return done.status == "done"

        await wait_for(booked, timeout=20)
        admin = {"Authorization": n.admin["Authorization"]}
        r = await http.get(f"{hub.base_url}/admin/payouts/{CPO}", headers=admin)
        assert r.json()["balances"][0]["transferred"] == 847
        assert r.json()["balances"][0]["owed"] == 0
        await journals_balance(hub.app.state.hub)
    assert stripe_api.of("transfer") == [("transfer", "acct_cpa", 847)]
    assert not stripe_api.of("DUPLICATE transfer")


async def test_a_lost_reversal_answer_reverses_once(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], **fee_settings()
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        await n.http.put(
            f"{n.hub.base_url}/admin/payouts/{CPO}",
            json={"connect_account_id": "acct_cpa"},
            headers=n.admin,
        )
        public_id, _pi, cdr_token = await pay_at_partner(n, stripe_api)
        await send_cdr(n, cdr_token)
        await wait_for(lambda: bool(stripe_api.of("transfer")))
        # The reversal's answer is lost (Stripe did reverse) and Stripe has forgotten the key by
        # the time the hub asks again (the library's own retries are refused meanwhile): the
        # transfer's amount_reversed tells the hub it was done.
        stripe_api.faults["reversal"] = ["lost-forgotten", "500", "500"]
        # A credit CDR of the whole session refunds it (the CPO says so over OCPI).
        credit = {
            **twenty_kwh_cdr(cdr_token, ADHOC, {"excl_vat": -7.0, "incl_vat": -8.47}),
            "id": "CDR-20-C",
            "credit": True,
            "credit_reference_id": "CDR-20",
        }
        for _ in range(2):  # sent twice: refunded once
            r = await n.http.post(n.url("receiver/cdrs"), json=credit, headers=n.auth(n.cpo))
            assert r.json()["status_code"] in (1000, 2001), r.text

        async def reversed_all() -> bool:
            return (await payout(n))["balances"][0]["transferred"] == 0

        await wait_for(reversed_all, timeout=20)
        [tr] = stripe_api.transfers
        assert stripe_api.of("refund") == [("refund", _pi, 847)]
        assert stripe_api.of("reversal") == [("reversal", tr, 737)]
        assert stripe_api.transfers[tr]["reversed"] is True
        assert (await row(n.ctx, public_id)).amount_refunded == 847
        await journals_balance(n.ctx)


async def test_without_connect_the_ledger_says_what_is_owed_and_terms_are_checked(
    database_url: str,
) -> None:
    """The local test provider, no connected account: no transfer, the ledger alone."""
    async with network(
        database_url,
        extra_cpo_endpoints=[("commands", "RECEIVER")],
        payment_jobs_poll_seconds=0.05,
        payout_fee_percent="5",
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        base = n.hub.base_url
        url = f"{base}/admin/payouts/{CPO}"
        # Bad terms: 422, nothing stored.
        for body in (
            {"fee_percent": 101},
            {"fee_percent": -1},
            {"fee_fixed": {"EUR": -0.1}},
            {"fee_fixed": {"EURO": 1}},
            {"connect_account_id": "not-an-account"},
            {"fee_percent": 1.123456},
            {"fee_fixed": {"EUR": 1, "eur": 2}},
            {"fee_fixed": {f"A{chr(65 + i)}A": 1 for i in range(11)}},
        ):
            r = await n.http.put(url, json=body, headers=n.admin)
            assert r.status_code == 422, (body, r.text)
        assert (await n.http.put(url, json={}, headers={})).status_code == 401
        assert (
            await n.http.get(f"{base}/admin/payouts/garbage", headers=n.admin)
        ).status_code == 422
        # This CPO's own terms: 2 % + 0.10.
        r = await n.http.put(
            url, json={"fee_percent": 2, "fee_fixed": {"eur": 0.10}}, headers=n.admin
        )
        assert r.status_code == 200 and r.json()["custom_terms"] is True
        assert r.json()["fee_fixed"] == {"EUR": "0.1"}
        await put_issue_site(n)
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        await n.http.post(started.headers["location"], data={"action": "authorize"})
        await wait_for(lambda: bool(n.cpo.pushes("commands")))
        call = n.cpo.pushes("commands")[0]
        token = call.body["token"]
        cdr_token = {
            k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
        }
        await send_cdr(n, cdr_token)

        async def booked() -> bool:
            return bool((await payout(n))["balances"])

        await wait_for(booked)
        # 847: 2 % = 16.94 -> 17, + 10 = 27 for the hub, 820 owed to the CPO.
        [balance] = (await payout(n))["balances"]
        assert balance == {
            "currency": "EUR",
            "captured": 847,
            "refunded": 0,
            "fees": 27,
            "payable": 820,
            "transferred": 0,
            "owed": 820,
        }
        async with n.ctx.sessions() as session:
            kinds = {j.kind for j in (await session.exec(select(PaymentJob))).all()}
        assert "transfer" not in kinds
        listed = await n.http.get(f"{base}/admin/payouts", headers=n.admin)
        assert [(p["cpo"], p["partner"]) for p in listed.json()] == [(CPO, True)]
        # The admin overview (the /admin page) shows what is owed to each CPO.
        overview = (await n.http.get(f"{base}/admin/overview", headers=n.admin)).json()
        [owed] = overview["payments"]["payouts"]
        assert (owed["cpo"], owed["payable"], owed["transferred"], owed["owed"]) == (
            CPO,
            820,
            0,
            820,
        )
        await journals_balance(n.ctx)


async def test_a_refused_transfer_fails_clearly_and_the_cpo_stays_owed(
    database_url: str, stripe_api: FakeStripe
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], **fee_settings()
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        await n.http.put(
            f"{n.hub.base_url}/admin/payouts/{CPO}",
            json={"connect_account_id": "acct_closed"},
            headers=n.admin,
        )
        public_id, _pi, cdr_token = await pay_at_partner(n, stripe_api)
        await send_cdr(n, cdr_token)

        async def failed() -> bool:
            async with n.ctx.sessions() as session:
                job = (
                    await session.exec(select(PaymentJob).where(PaymentJob.kind == "transfer"))
                ).first()
            return job is not None and job.status == "failed"

        await wait_for(failed)
        assert not stripe_api.of("transfer")
        p = await row(n.ctx, public_id)
        assert p.status == "captured" and "transfer failed" in (p.note or "")
        assert "No such destination" in (p.note or "")
        [balance] = (await payout(n))["balances"]
        assert (balance["payable"], balance["transferred"], balance["owed"]) == (737, 0, 737)
        metrics = (await n.http.get(f"{n.hub.base_url}/metrics")).text
        assert 'voltroam_payout_transfers_total{outcome="transfer_failed"} 1.0' in metrics
        # A refund now has nothing to take back from the CPO's account: no reversal job.
        r = await n.http.post(
            f"{n.hub.base_url}/admin/payments/{public_id}/refunds", json={}, headers=n.admin
        )
        assert r.status_code == 202

        async def owed_nothing() -> bool:
            return (await payout(n))["balances"][0]["owed"] == 0

        await wait_for(owed_nothing)
        assert not stripe_api.of("reversal")
