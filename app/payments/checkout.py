"""Checkout: the driver pressed "Start charging" at an EVSE's pay page.

A payment row keeps the tariff the page showed (the price the driver agrees to), then the
provider's Checkout Session takes the card and places the hold (app/payments/events.py).
"""

from __future__ import annotations

import logging
import secrets

from app.hub.context import HubContext
from app.payments.evse import EvseChoice, ad_hoc_tariff
from app.payments.hold import fitted_hold
from app.payments.models import Payment
from app.payments.models import PaymentStatus as S
from app.payments.pricing import (
    remember_tariff,
)
from app.payments.provider import (
    CheckoutRequest,
    LocalProvider,
    PaymentProvider,
    ProviderError,
)
from app.payments.records import PaymentError
from app.payments.status import advance, touch

log = logging.getLogger("voltroam.payments")


async def start_checkout(
    ctx: HubContext, provider: PaymentProvider, choice: EvseChoice, connector_id: str
) -> Payment:
    """The driver pressed "Start charging": a payment row, then the provider's checkout."""
    connector = choice.connector(connector_id)
    if connector is None:
        raise PaymentError(f"This charger has no connector {connector_id}", 400)
    if not choice.startable:
        raise PaymentError(f"This charger cannot start now (it is {choice.status.lower()})")
    async with ctx.sessions() as session:
        tariff = await ad_hoc_tariff(session, choice.cpo, connector)
        if tariff is None:
            raise PaymentError("This charger publishes no price for paying on the spot")
        currency = str(tariff["currency"]).upper()
        public_id = secrets.token_urlsafe(18)
        payment = Payment(
            public_id=public_id,
            provider=provider.name,
            cpo_country_code=choice.cpo.country_code,
            cpo_party_id=choice.cpo.party_id,
            location_id=str(choice.location["id"]),
            evse_uid=choice.uid,
            connector_id=str(connector["id"]),
            currency=currency,
            # Fitted to the connector and the tariff, as the pay page showed it.
            hold_amount=fitted_hold(
                ctx.settings, tariff, connector, str(choice.location.get("time_zone") or "UTC")
            ).amount,
            token_uid=("VRP" + secrets.token_hex(8)).upper(),
        )
        # The tariff the pay page shows is the one the driver agrees to: keep a copy.
        remember_tariff(payment, tariff)
        session.add(payment)
        await session.commit()
        await session.refresh(payment)
    base = ctx.settings.base_url
    name = choice.location.get("name") or choice.location.get("address") or "charger"
    try:
        checkout = await provider.create_checkout(
            CheckoutRequest(
                reference=public_id,
                currency=currency,
                amount=payment.hold_amount,
                title=f"Charging at {name} ({choice.evse.get('evse_id') or choice.uid})",
                description=(
                    "A hold: you pay the price of your charging session, the rest is released."
                ),
                success_url=f"{base}/pay/sessions/{public_id}",
                cancel_url=f"{base}/pay/{choice.uid}?cpo={choice.cpo}",
                idempotency_key=f"voltroam-checkout-{public_id}",
                extended_authorization=ctx.settings.payment_hold_extend,
            )
        )
    except ProviderError as exc:
        async with ctx.sessions() as session:
            row = await session.get(Payment, payment.id)
            assert row is not None
            advance(row, S.FAILED, exc.message)
            session.add(row)
            await session.commit()
        ctx.metrics.payments.labels("checkout_failed").inc()
        raise PaymentError("The payment service is not available; please try again", 503) from exc
    async with ctx.sessions() as session:
        row = await session.get(Payment, payment.id)
        assert row is not None
        row.checkout_id = checkout.id
        row.checkout_url = checkout.url
        touch(row)
        session.add(row)
        await session.commit()
        await session.refresh(row)
        return row


def local_provider(provider: PaymentProvider) -> LocalProvider | None:
    return provider if isinstance(provider, LocalProvider) else None
