"""Stripe webhooks: ``/payments/stripe/webhook``.

The ``Stripe-Signature`` header is checked (HMAC-SHA256 over ``{timestamp}.{payload}`` with the
endpoint secret, timestamp within STRIPE_WEBHOOK_TOLERANCE_SECONDS) by the ``stripe`` library before
anything is read. Each event id is acted on once; the handler only writes to the database and
queues jobs, so Stripe gets its answer at once.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from app.hub.context import HubContext
from app.payments import events
from app.payments.runner import Payments

log = logging.getLogger("voltroam.payments")

router = APIRouter(prefix="/payments", tags=["payments"])
MAX_PAYLOAD = 512 * 1024


@router.post(
    "/stripe/webhook",
    summary="Stripe webhook (signed events: checkout.session.*, payment_intent.*)",
    responses={
        200: {"description": "Received (also for duplicates and ignored event types)"},
        400: {"description": "Missing or bad signature, old timestamp, or not an event"},
        413: {"description": "Payload too large"},
        503: {"description": "The database is busy: nothing recorded, Stripe retries"},
    },
)
async def stripe_webhook(
    request: Request,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> JSONResponse:
    ctx: HubContext = request.app.state.hub
    payments: Payments = request.app.state.payments
    secret = ctx.settings.stripe_webhook_secret
    if not secret:
        return JSONResponse({"detail": "Stripe webhooks are not configured"}, status_code=400)
    import stripe  # here, not at import: a hub without Stripe never loads the SDK

    payload = await request.body()
    if len(payload) > MAX_PAYLOAD:
        return JSONResponse({"detail": "Payload too large"}, status_code=413)
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text, stripe_signature, secret, ctx.settings.stripe_webhook_tolerance_seconds
        )
        body = json.loads(text)
        event = events.Event(
            id=str(body["id"]), type=str(body["type"]), obj=dict(body["data"]["object"])
        )
    except stripe.SignatureVerificationError as exc:
        log.info("Stripe webhook refused: %s", exc.user_message or exc)
        return JSONResponse({"detail": "Bad Stripe-Signature"}, status_code=400)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return JSONResponse({"detail": "Not a Stripe event"}, status_code=400)
    try:
        outcome = await events.handle_event(ctx, event)
    except SQLAlchemyError as exc:
        # Nothing was recorded: Stripe delivers the event again later.
        log.warning("Stripe event %s not recorded: %s", event.id, type(exc).__name__)
        return JSONResponse({"detail": "Busy, try again"}, status_code=503)
    log.info("Stripe event %s %s: %s", event.id, event.type, outcome)
    payments.wake()
    return JSONResponse({"received": True, "outcome": outcome})
