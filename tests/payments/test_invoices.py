"""Invoices a business driver can book: a gapless number per issuer (also with concurrent
captures), the seller from the settings, the date of supply, VAT per rate from the tariff engine,
the location and EVSE, an HTML page and a PDF; credit notes for refunds reference the invoice."""

from __future__ import annotations

import asyncio
import re
import zlib

import pytest
from sqlmodel import select

from app.core.migrate import upgrade_to_head
from app.hub.context import HubContext
from app.payments.invoices import next_number, vat_lines
from app.payments.models import Invoice, InvoiceCounter
from tests.conftest import hub_settings
from tests.hub.network import network
from tests.ocpp.harness import wait_for
from tests.payments.test_partner_flow import START_ANSWER, put_issue_site
from tests.payments.test_settlement import paid_session

SELLER = {
    "invoice_seller_name": "Voltroam Operations B.V.",
    "invoice_seller_address": "Stationsplein 1, 1012 AB Amsterdam",
    "invoice_seller_vat_id": "NL123456789B01",
    "invoice_number_prefix": "VR",
}


def pdf_text(data: bytes) -> str:
    """The text drawn in a PDF's (compressed) content streams."""
    text = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            text.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            text.append(stream.decode("latin-1"))
    return "\n".join(text)


async def test_invoices_are_numbered_without_gaps_and_credit_notes_reference_them(
    database_url: str,
) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=[("commands", "RECEIVER")],
        payment_jobs_poll_seconds=0.05,
        **SELLER,
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        base = n.hub.base_url
        first = await paid_session(n, "CDR-A", 20)  # (6.00 + 1.00) x 1.21 = 8.47
        second = await paid_session(n, "CDR-B", 10)  # (3.00 + 1.00) x 1.21 = 4.84
        page = re.sub(r"\s+", " ", (await n.http.get(f"{base}/pay/sessions/{first}/receipt")).text)
        assert '<span id="invoice-number">VR-000001</span>' in page
        assert "Voltroam Operations B.V." in page and "Stationsplein 1, 1012 AB Amsterdam" in page
        assert '<td class="num" id="vat-id">NL123456789B01</td>' in page
        assert '<td class="num" id="supply-date">2026-01-01</td>' in page
        assert 'VAT 21% on 7.00 EUR</td><td class="num">1.47 EUR' in page
        assert 'id="invoiced">8.47 EUR' in page
        page = (await n.http.get(f"{base}/pay/sessions/{second}/receipt")).text
        assert '<span id="invoice-number">VR-000002</span>' in page
        # The PDF beside the page, with the same facts.
        pdf = await n.http.get(f"{base}/pay/sessions/{first}/documents/VR-000001.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        text = pdf_text(pdf.content)
        for fact in (
            "Invoice VR-000001",
            "Voltroam Operations B.V.",
            "NL123456789B01",
            "2026-01-01",
            "21%",
            "7.00 EUR",
            "1.47 EUR",
            "8.47 EUR",
            "NL*CPA*EEVSE1",
            "CDR-A",
        ):
            assert fact in text, fact
        # Another payment's document, or an unknown one: 404.
        for url in (
            f"/pay/sessions/{second}/documents/VR-000001.pdf",
            f"/pay/sessions/{first}/documents/VR-999999.pdf",
            "/pay/sessions/unknown-payment/documents/VR-000001.pdf",
        ):
            assert (await n.http.get(base + url)).status_code == 404
        # A refund of 3.00 on the first: credit note VR-000003 referencing VR-000001.
        r = await n.http.post(
            f"{base}/admin/payments/{first}/refunds", json={"amount": 3}, headers=n.admin
        )
        assert r.status_code == 202

        async def credited() -> bool:
            async with n.ctx.sessions() as session:
                return bool(
                    (await session.exec(select(Invoice).where(Invoice.kind == "credit_note"))).all()
                )

        await wait_for(credited)
        async with n.ctx.sessions() as session:
            note = (await session.exec(select(Invoice).where(Invoice.kind == "credit_note"))).one()
        assert (note.document_number, note.total) == ("VR-000003", -300)
        assert note.details["references"] == "VR-000001"
        assert note.vat_lines == [{"rate": "21", "net": -248, "vat": -52, "gross": -300}]
        page = re.sub(r"\s+", " ", (await n.http.get(f"{base}/pay/sessions/{first}/receipt")).text)
        assert "Credit note <strong>VR-000003</strong> for invoice VR-000001: -3.00 EUR" in page
        text = pdf_text(
            (await n.http.get(f"{base}/pay/sessions/{first}/documents/VR-000003.pdf")).content
        )
        assert "Credit note VR-000003" in text and "Credit for invoice" in text
        assert "VR-000001" in text and "-3.00 EUR" in text


def test_vat_lines_add_up_to_the_amount_to_the_cent() -> None:
    from decimal import Decimal

    lines = vat_lines([("9", Decimal("1.09")), ("21", Decimal("2.42"))], 351)
    assert sum(line["gross"] for line in lines) == 351
    assert lines == [
        {"rate": "9", "net": 100, "vat": 9, "gross": 109},
        {"rate": "21", "net": 200, "vat": 42, "gross": 242},
    ]
    assert vat_lines([], 500) == [{"rate": None, "net": 500, "vat": 0, "gross": 500}]
    # Scaled (a shortfall, a partial credit): the parts still add up.
    lines = vat_lines([("9", Decimal(1)), ("21", Decimal(1)), ("0", Decimal(1))], 100)
    assert sum(line["gross"] for line in lines) == 100


@pytest.mark.parametrize("rounds", [1])
async def test_concurrent_numbers_have_no_gaps_even_when_some_roll_back(
    database_url: str, rounds: int
) -> None:
    settings = hub_settings(database_url, 1)
    await asyncio.to_thread(upgrade_to_head, settings)
    ctx = HubContext.create(settings)
    committed: list[int] = []

    async def issue(i: int) -> None:
        async with ctx.sessions() as session:
            number = await next_number(session, "VRX")
            await asyncio.sleep(0.01)  # other transactions wait on the counter meanwhile
            if i % 3 == 0:
                await session.rollback()  # the number goes back
            else:
                await session.commit()
                committed.append(number)

    try:
        for _ in range(rounds):
            await asyncio.gather(*(issue(i) for i in range(12)))
        assert sorted(committed) == list(range(1, len(committed) + 1))
        assert len(committed) == 8
        async with ctx.sessions() as session:
            counter = await session.get(InvoiceCounter, "VRX")
        assert counter is not None and counter.last_number == 8
    finally:
        await ctx.close()
