"""The driver's pages: pay at an EVSE, follow the session live, stop it, read the receipt.

Plain HTML forms (they work without JavaScript); a few lines of script refresh live figures. The
payment's ``public_id`` in the URL is the driver's only key, so it is unguessable.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from app.hub.context import HubContext
from app.hub.store import service as store
from app.ocpi.errors import InvalidParameters
from app.ocpi.headers import PartyRef
from app.payments import checkout, events, invoices, jobs, records
from app.payments.evse import (
    STARTABLE,
    EvseChoice,
    ad_hoc_tariff,
    address_line,
    describe_tariff,
    find_evses,
    minor,
)
from app.payments.hold import fitted_hold
from app.payments.models import InvoiceKind, Payment
from app.payments.pricing import location_time_zone
from app.payments.provider import LocalIntent
from app.payments.receipt import build_receipt, live_figures
from app.payments.runner import Payments

router = APIRouter(prefix="/pay", tags=["driver pages"])
templates = Jinja2Templates(directory=str(FsPath(__file__).parent / "templates"))
PLUGS = {
    "IEC_62196_T2": "Type 2 socket",
    "IEC_62196_T2_COMBO": "CCS (Combo 2)",
    "IEC_62196_T1": "Type 1",
    "IEC_62196_T1_COMBO": "CCS (Combo 1)",
    "CHADEMO": "CHAdeMO",
    "DOMESTIC_F": "Schuko",
    "TESLA_S": "Tesla",
}


def _plug(standard: Any) -> str:
    return PLUGS.get(str(standard), str(standard).replace("_", " "))


templates.env.filters["plug"] = _plug

EvseUid = Annotated[str, Path(min_length=1, max_length=36, description="EVSE.uid")]
PublicId = Annotated[str, Path(min_length=8, max_length=48, description="The payment's id")]
# Answers of the pages besides 404 (app/web/openapi.py documents those of every route).
_BAD_CPO: dict[int | str, dict[str, Any]] = {400: {"description": "cpo is not of the form CC*PID"}}
_CANNOT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The charger or the payment cannot do that now (the page says why)"}
}
CpoQuery = Annotated[
    str | None, Query(max_length=8, description="The CPO, as CC*PID, when several share the uid")
]


def _ctx(request: Request) -> HubContext:
    ctx: HubContext = request.app.state.hub
    return ctx


def _payments(request: Request) -> Payments:
    payments: Payments = request.app.state.payments
    return payments


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = _ctx(request)
    return templates.TemplateResponse(
        request,
        template,
        {"test_mode": _payments(request).test_mode, "hub_name": ctx.settings.hub_name, **values},
        status_code=status_code,
    )


def _message(
    request: Request, status_code: int, heading: str, message: str, back: str | None = None
) -> HTMLResponse:
    return _page(
        request,
        "message.html",
        status_code,
        heading=heading,
        message=message,
        error=status_code >= 400,
        back=back,
    )


def _unknown_payment(request: Request) -> HTMLResponse:
    return _message(request, 404, "Unknown session", "This payment does not exist.")


def _cpo(value: str | None) -> PartyRef | None:
    if not value:
        return None
    text = value.replace("-", "*").replace(" ", "*")
    if "*" not in text:
        raise InvalidParameters("cpo must look like NL*ABC")
    country, party = text.split("*", 1)
    if len(country) != 2 or not 1 <= len(party) <= 3:
        raise InvalidParameters("cpo must look like NL*ABC")
    return PartyRef.of(country, party)


async def _choices(
    request: Request, evse_uid: str, cpo: str | None
) -> list[EvseChoice] | HTMLResponse:
    try:
        ref = _cpo(cpo)
    except InvalidParameters as exc:
        return _message(request, 400, "Unknown charger", exc.message)
    async with _ctx(request).sessions() as session:
        found = await find_evses(session, evse_uid, ref, ctx=_ctx(request))
    if not found:
        return _message(
            request, 404, "Unknown charger", f"No charger {evse_uid} is known here. Check the code."
        )
    return found


@router.get(
    "/sessions/{public_id}",
    response_class=HTMLResponse,
    summary="The driver's session: live energy, duration and cost, stop button",
)
async def session_page(request: Request, public_id: PublicId) -> HTMLResponse:
    found = await _payment_and_session(request, public_id)
    if isinstance(found, HTMLResponse):
        return found
    payment, ocpi_session, time_zone = found
    async with _ctx(request).sessions() as session:
        location = await store.get(
            session, "locations", records.cpo_ref(payment), payment.location_id
        )
    return _page(
        request,
        "status.html",
        payment=payment,
        figures=live_figures(payment, ocpi_session, time_zone),
        location_name=(location.data.get("name") if location else None) or payment.location_id,
        refresh_ms=2000,
    )


class LiveStatus(BaseModel):
    status: str
    status_text: str
    note: str | None
    hold: str
    energy_kwh: str | None
    duration: str | None
    running_cost: str | None
    price: str | None
    captured: str
    refunded: str | None
    can_stop: bool
    live: bool
    receipt: bool
    cost_label: str
    hold_label: str


@router.get(
    "/sessions/{public_id}/status.json",
    response_model=LiveStatus,
    summary="Live figures of the driver's session (polled by its page)",
    responses={404: {"description": "Unknown payment"}},
)
async def session_status(request: Request, public_id: PublicId) -> Response:
    found = await _payment_and_session(request, public_id)
    if isinstance(found, HTMLResponse):
        return JSONResponse({"detail": "Unknown payment"}, status_code=404)
    payment, ocpi_session, time_zone = found
    return JSONResponse(
        live_figures(payment, ocpi_session, time_zone), headers={"Cache-Control": "no-store"}
    )


async def _payment_and_session(
    request: Request, public_id: str
) -> tuple[Payment, dict[str, Any] | None, str] | HTMLResponse:
    """The payment, its OCPI Session when the CPO reported one, the Location's time zone."""
    async with _ctx(request).sessions() as session:
        payment = await records.by_public_id(session, public_id)
        if payment is None:
            return _unknown_payment(request)
        ocpi_session = None
        if payment.session_id:
            row = await store.get(session, "sessions", records.cpo_ref(payment), payment.session_id)
            ocpi_session = row.data if row else None
        return payment, ocpi_session, await location_time_zone(session, payment)


@router.post(
    "/sessions/{public_id}/stop",
    response_class=RedirectResponse,
    status_code=303,
    summary="The driver stops charging",
    responses=_CANNOT,
)
async def stop(request: Request, public_id: PublicId) -> Response:
    async with _ctx(request).sessions() as session:
        payment = await records.by_public_id(session, public_id)
    if payment is None:
        return _unknown_payment(request)
    try:
        await jobs.request_stop(_ctx(request), payment, "Stopped by the driver")
    except records.PaymentError as exc:
        return _message(
            request, exc.status, "Cannot stop", exc.message, f"/pay/sessions/{public_id}"
        )
    _payments(request).wake()
    return RedirectResponse(f"/pay/sessions/{public_id}", status_code=303)


@router.get(
    "/sessions/{public_id}/receipt",
    response_class=HTMLResponse,
    summary="The receipt (printable): energy, time, parking, fixed fee, VAT per rate",
)
async def receipt(request: Request, public_id: PublicId) -> HTMLResponse:
    async with _ctx(request).sessions() as session:
        payment = await records.by_public_id(session, public_id)
        if payment is None:
            return _unknown_payment(request)
        cdr = None
        if payment.cdr_id:
            cdr = await store.get(session, "cdrs", records.cpo_ref(payment), payment.cdr_id)
        location = await store.get(
            session, "locations", records.cpo_ref(payment), payment.location_id
        )
        time_zone = location.data.get("time_zone") if location else None
        docs = await invoices.documents(session, payment)
    if cdr is None:
        return _message(
            request,
            409,
            "No receipt yet",
            "The receipt is ready when the operator has sent the final price of the session.",
            f"/pay/sessions/{public_id}",
        )
    return _page(
        request,
        "receipt.html",
        receipt=build_receipt(payment, cdr.data, time_zone),
        operator=f"{payment.cpo_country_code}*{payment.cpo_party_id}",
        invoice=next((d for d in docs if d.kind == InvoiceKind.INVOICE), None),
        credit_notes=[d for d in docs if d.kind == InvoiceKind.CREDIT_NOTE],
        amount=invoices.amount_text,
    )


@router.get(
    "/sessions/{public_id}/documents/{document_number}.pdf",
    response_class=Response,
    summary="An invoice or credit note of the driver's payment, as a PDF",
    responses={
        200: {"content": {"application/pdf": {}}},
        404: {"description": "Unknown payment or document", "content": {"text/html": {}}},
    },
)
async def document_pdf(
    request: Request,
    public_id: PublicId,
    document_number: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,48}$")],
) -> Response:
    async with _ctx(request).sessions() as session:
        payment = await records.by_public_id(session, public_id)
        docs = await invoices.documents(session, payment) if payment else []
    found = next((d for d in docs if d.document_number == document_number), None)
    if found is None:
        return _message(request, 404, "Unknown document", "This document does not exist.")
    return Response(
        invoices.render_pdf(found),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{found.document_number}.pdf"'},
    )


@router.get(
    "/test-checkout/{checkout_id}",
    response_class=HTMLResponse,
    summary="The local test payment provider's checkout page (no money moves)",
)
async def test_checkout(
    request: Request, checkout_id: Annotated[str, Path(max_length=64)]
) -> HTMLResponse:
    intent = await _local_intent(request, checkout_id)
    if intent is None:
        return _message(request, 404, "Unknown checkout", "This test checkout does not exist.")
    return _page(request, "test_checkout.html", amount=minor(intent.amount, intent.currency))


async def _local_intent(request: Request, checkout_id: str) -> LocalIntent | None:
    provider = checkout.local_provider(_payments(request).provider)
    return None if provider is None else await provider.find_checkout(checkout_id)


@router.post(
    "/test-checkout/{checkout_id}",
    response_class=RedirectResponse,
    status_code=303,
    summary="Authorize or cancel a test payment",
)
async def test_checkout_submit(
    request: Request,
    checkout_id: Annotated[str, Path(max_length=64)],
    action: Annotated[str, Form(pattern="^(authorize|cancel)$", examples=["authorize", "cancel"])],
) -> Response:
    provider = checkout.local_provider(_payments(request).provider)
    intent = await _local_intent(request, checkout_id)
    if provider is None or intent is None:
        return _message(request, 404, "Unknown checkout", "This test checkout does not exist.")
    ctx = _ctx(request)
    if action == "cancel":
        await events.handle_event(
            ctx,
            events.Event(
                f"local-{checkout_id}-expired",
                "checkout.session.expired",
                {
                    "object": "checkout.session",
                    "id": checkout_id,
                    "client_reference_id": intent.reference,
                },
            ),
        )
        return _message(request, 200, "Payment canceled", "Nothing was charged.")
    authorized = await provider.authorize(checkout_id)
    assert authorized is not None
    # The same path as Stripe's webhook.
    await events.handle_event(
        ctx,
        events.Event(
            f"local-{checkout_id}-completed",
            "checkout.session.completed",
            {
                "object": "checkout.session",
                "id": checkout_id,
                "client_reference_id": intent.reference,
                "payment_intent": authorized.id,
            },
        ),
    )
    _payments(request).wake()
    return RedirectResponse(f"/pay/sessions/{intent.reference}", status_code=303)


@router.get(
    "/{evse_uid}",
    response_class=HTMLResponse,
    summary="The pay page of an EVSE: location, live status, ad hoc price, start button",
    responses=_BAD_CPO,
)
async def pay_page(request: Request, evse_uid: EvseUid, cpo: CpoQuery = None) -> HTMLResponse:
    found = await _choices(request, evse_uid, cpo)
    if isinstance(found, HTMLResponse):
        return found
    if len(found) > 1:
        return _page(request, "choose.html", choices=found)
    return await _render_pay(request, found[0])


async def _render_pay(
    request: Request, choice: EvseChoice, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    ctx = _ctx(request)
    # The price each connector charges an ad hoc payer: the tariff start_checkout will keep.
    per_connector: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    async with ctx.sessions() as session:
        for connector in choice.connectors:
            per_connector.append((connector, await ad_hoc_tariff(session, choice.cpo, connector)))
    priced = [(c, t) for c, t in per_connector if t is not None]
    tariff = priced[0][1] if priced else None
    prices: list[tuple[str | None, list[str]]] = []
    if len({(t["id"], t.get("last_updated")) for _c, t in priced}) > 1 or (
        priced and len(priced) < len(per_connector)
    ):
        # Connectors at different prices: the driver sees each one's.
        for connector, connector_tariff in per_connector:
            label = f"Connector {connector.get('id')} ({_plug(connector.get('standard'))})"
            lines = (
                describe_tariff(connector_tariff)
                if connector_tariff
                else ["No price for paying on the spot"]
            )
            prices.append((label, lines))
    elif tariff is not None:
        prices.append((None, describe_tariff(tariff)))
    # The hold each connector's payment would place (app/payments/hold.py), shown before paying.
    time_zone = str(choice.location.get("time_zone") or "UTC")
    holds = [(str(c.get("id")), fitted_hold(ctx.settings, t, c, time_zone)) for c, t in priced]
    hold = ""
    if len({h.amount for _i, h in holds}) == 1:
        hold = minor(holds[0][1].amount, str(priced[0][1]["currency"]))
    elif holds:
        hold = ", ".join(
            f"{minor(h.amount, str(t['currency']))} (connector {i})"
            for (i, h), (_c, t) in zip(holds, priced, strict=True)
        )
    hold_basis = holds[0][1].basis if len({h.basis for _i, h in holds}) == 1 else ""
    operator = (choice.location.get("operator") or {}).get("name") or str(choice.cpo)
    return _page(
        request,
        "pay.html",
        status_code,
        location=choice.location,
        address=address_line(choice.location),
        evse=choice.evse,
        connectors=choice.connectors,
        cpo=str(choice.cpo),
        operator=operator,
        prices=prices,
        hold=hold,
        hold_basis=hold_basis,
        can_start=bool(prices) and choice.startable,
        startable=list(STARTABLE),
        error=error,
    )


class EvseStatus(BaseModel):
    status: str
    connectors: list[str]


@router.get(
    "/{evse_uid}/status.json",
    response_model=EvseStatus,
    summary="The EVSE's live status (polled by the pay page)",
    responses={404: {"description": "Unknown EVSE"}},
)
async def evse_status(request: Request, evse_uid: EvseUid, cpo: CpoQuery = None) -> Response:
    found = await _choices(request, evse_uid, cpo)
    if isinstance(found, HTMLResponse) or len(found) != 1:
        return JSONResponse({"detail": "Unknown or ambiguous EVSE"}, status_code=404)
    choice = found[0]
    return JSONResponse(
        {"status": choice.status, "connectors": [str(c.get("id")) for c in choice.connectors]},
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/{evse_uid}/start",
    response_class=RedirectResponse,
    status_code=303,
    summary="Start: create the checkout (a hold on the card) and go to it",
    responses={
        400: {"description": "cpo is not of the form CC*PID, or the charger has no such connector"},
        **_CANNOT,
        503: {"description": "The payment service is not available; the page asks to retry"},
    },
)
async def start(
    request: Request,
    evse_uid: EvseUid,
    connector_id: Annotated[str, Form(min_length=1, max_length=36, examples=["1"])],
    cpo: Annotated[str | None, Form(max_length=8, examples=["BE*BEC"])] = None,
) -> Response:
    found = await _choices(request, evse_uid, cpo)
    if isinstance(found, HTMLResponse):
        return found
    if len(found) > 1:
        return _page(request, "choose.html", 409, choices=found)
    choice = found[0]
    try:
        payment = await checkout.start_checkout(
            _ctx(request), _payments(request).provider, choice, connector_id
        )
    except records.PaymentError as exc:
        return await _render_pay(request, choice, exc.message, exc.status)
    assert payment.checkout_url is not None
    return RedirectResponse(payment.checkout_url, status_code=303)
