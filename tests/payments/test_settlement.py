"""Settlement statements per CPO and month: JSON and CSV from the admin API, and
`voltroam settlement statement`, adding up exactly to the captures and refunds of the month."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from typer.testing import CliRunner

from app.cli import cli
from app.payments.models import LedgerEntry, Payment
from tests.hub.network import Network, charging_period, network
from tests.ocpp.harness import wait_for
from tests.payments.test_partner_flow import ADHOC, START_ANSWER, ad_hoc_cdr, put_issue_site

CPO = "NL*CPA"
runner = CliRunner()


async def paid_session(n: Network, cdr_id: str, kwh: float) -> str:
    """A driver pays (local test provider) and charges ``kwh`` at ADHOC: the payment's id once
    captured."""
    base = n.hub.base_url
    started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
    before = len(n.cpo.pushes("commands"))
    done = await n.http.post(started.headers["location"], data={"action": "authorize"})
    public_id = done.headers["location"].rsplit("/", 1)[1]
    await wait_for(lambda: len(n.cpo.pushes("commands")) > before)
    token = n.cpo.pushes("commands")[-1].body["token"]
    cdr_token = {k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")}
    excl = round(kwh * 0.30 + 1.0, 4)
    cdr = ad_hoc_cdr(
        cdr_id,
        f"S-{cdr_id}",
        cdr_token,
        {"excl_vat": excl, "incl_vat": round(excl * 1.21, 4)},
        tariffs=[ADHOC],
        charging_periods=[charging_period(0, kwh)],
        total_energy=kwh,
    )
    r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
    assert r.json()["status_code"] == 1000, r.text

    async def captured() -> bool:
        async with n.ctx.sessions() as session:
            row = (await session.exec(select(Payment).where(Payment.public_id == public_id))).one()
        return row.status == "captured"

    await wait_for(captured)
    return public_id


async def test_a_statement_adds_up_to_the_month_in_json_csv_and_on_the_command_line(
    database_url: str,
) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=[("commands", "RECEIVER")],
        payment_jobs_poll_seconds=0.05,
        payout_fee_percent="10",
        payout_fee_fixed="EUR=0.25",
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        base = n.hub.base_url
        # Last month: 10 kWh, (10 x 0.30 + 1) x 1.21 = 4.84; fee 48 + 25 = 73, CPO 411.
        earlier = await paid_session(n, "CDR-OCT", 10)
        now = datetime.now(UTC)
        last_month = now.replace(day=1) - timedelta(days=3)
        async with n.ctx.sessions() as session:
            payment_id = (
                await session.exec(select(Payment.id).where(Payment.public_id == earlier))
            ).one()
            await session.exec(
                update(LedgerEntry)
                .where(col(LedgerEntry.payment_id) == payment_id)
                .values(booked_at=last_month)
            )
            await session.commit()
        # This month: 8.47 captured (fee 85 + 25 = 110, CPO 737), then 3.00 refunded (CPO 261).
        public_id = await paid_session(n, "CDR-NOV", 20)
        r = await n.http.post(
            f"{base}/admin/payments/{public_id}/refunds", json={"amount": 3}, headers=n.admin
        )
        assert r.status_code == 202

        async def refunded() -> bool:
            async with n.ctx.sessions() as session:
                lines = (
                    await session.exec(select(LedgerEntry).where(LedgerEntry.kind == "refund"))
                ).all()
            return bool(lines)

        await wait_for(refunded)
        month = now.strftime("%Y-%m")
        url = f"{base}/admin/payouts/{CPO}/statement"
        r = await n.http.get(url, params={"month": month}, headers=n.admin)
        assert r.status_code == 200, r.text
        found = r.json()
        assert found["cpo"] == CPO and found["month"] == month
        assert found["totals"] == [
            {
                "currency": "EUR",
                "opening_owed": 411,
                "captured": 847,
                "refunded": 300,
                "fees": 71,
                "payable": 476,
                "transferred": 0,
                "closing_owed": 887,
            }
        ]
        lines = found["lines"]
        assert [(x["kind"], x["gross"], x["fee"], x["cpo_share"]) for x in lines] == [
            ("capture", 847, 110, 737),
            ("refund", -300, -39, -261),
        ]
        assert {x["payment"] for x in lines} == {public_id}
        assert lines[0]["cdr_id"] == "CDR-NOV"
        # The month before holds the other payment only.
        before = (
            await n.http.get(url, params={"month": last_month.strftime("%Y-%m")}, headers=n.admin)
        ).json()
        assert [(x["payment"], x["gross"]) for x in before["lines"]] == [(earlier, 484)]
        assert before["totals"][0]["closing_owed"] == 411
        # CSV: the same lines, and a total line per currency that is their sum.
        r = await n.http.get(url, params={"month": month, "format": "csv"}, headers=n.admin)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        body, [total] = rows[:-1], rows[-1:]
        assert total["kind"] == "total" and total["currency"] == "EUR"
        for column in ("gross", "fee", "cpo_share", "transferred"):
            assert sum(int(x[column]) for x in body) == int(total[column]), column
        assert int(total["gross"]) == 847 - 300
        assert int(total["fee"]) + int(total["cpo_share"]) == int(total["gross"])
        # Bad input: 422; no JWT: 401.
        for params in (
            {"month": "2026-13"},
            {"month": "0000-01"},
            {"month": "9999-12"},
            {"month": "11-2026"},
            {},
            {"month": month, "format": "x"},
        ):
            assert (await n.http.get(url, params=params, headers=n.admin)).status_code == 422
        assert (await n.http.get(url, params={"month": month})).status_code == 401
        # The command line prints the same CSV.
        env = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "LOG_LEVEL": "WARNING",
        }
        result = await asyncio.to_thread(
            runner.invoke, cli, ["settlement", "statement", CPO, "--month", month], env=env
        )
        assert result.exit_code == 0, result.output
        assert result.output == r.text
        result = await asyncio.to_thread(
            runner.invoke,
            cli,
            ["settlement", "statement", CPO, "--month", month, "--format", "json"],
            env=env,
        )
        assert result.exit_code == 0, result.output
        assert '"closing_owed": 887' in result.output
        for bad in (
            ["statement", "garbage", "--month", month],
            ["statement", CPO, "--month", "2026-1"],
        ):
            result = await asyncio.to_thread(runner.invoke, cli, ["settlement", *bad], env=env)
            assert result.exit_code == 2, result.output
