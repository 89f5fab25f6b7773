"""The hub's payments eMSP: a local party (app/hub/local.py) like any eMSP, that issues a
single-use token per paid session.

It sends START_SESSION and STOP_SESSION through the same relay as a partner eMSP's commands
(its own platform as requester); the CPO's results come back to ``result``; the Sessions and CDRs
of its tokens reach ``receive`` in the transaction that stores them (the running cost may queue
STOP; the CDR queues CAPTURE of exactly its price, or CANCEL when it is zero, and a credit CDR a
REFUND); it answers real-time authorizations of its own tokens in ``authorize``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.core.settings import Settings
from app.hub.context import HubContext
from app.hub.forward import resolve_for, resolve_receiver
from app.hub.local import LocalParty, LocalRole
from app.hub.outbox.service import Push
from app.hub.parties import service as parties
from app.hub.relay.models import Callback
from app.hub.routing import CPO_ONLY
from app.hub.store import service as store
from app.modules.commands import service as commands
from app.ocpi.schemas.commands import COMMAND_REQUEST_MODELS, CommandResponse, CommandType
from app.ocpi.schemas.common import Role, format_datetime
from app.ocpi.schemas.tokens import AllowedType
from app.payments import long_sessions
from app.payments.models import JobKind, Payment
from app.payments.models import PaymentStatus as S
from app.payments.pricing import (
    location_time_zone,
    price_minor,
    running_price,
    settle_cdr,
)
from app.payments.records import by_public_id, cpo_ref, emsp_ref, enqueue
from app.payments.status import advance, flag, touch
from app.tariffs.selection import AD_HOC_TOKEN_TYPE

log = logging.getLogger("voltroam.payments")

# Platform.local of the payments eMSP's row.
KEY = "payments"
# The response_url the eMSP gives with its commands: its results come back to ``result``
# (app/hub/relay/service.py hands them over because the requester's platform is local).
RESPONSE_URL = "voltroam-internal:payments/"
TOKEN_TYPE = AD_HOC_TOKEN_TYPE
# The hub stops a paid session when its running cost reaches this share of the hold, so that the
# energy delivered while the stop travels to the charger still fits in it.
STOP_AT = Decimal("0.95")


def ad_hoc_token(settings: Settings, payment: Payment, valid: bool = True) -> dict[str, Any]:
    """The single-use token the hub's eMSP issues for one paid session (mod_tokens, Token)."""
    ref = emsp_ref(settings)
    return {
        "country_code": ref.country_code,
        "party_id": ref.party_id,
        "uid": payment.token_uid,
        "type": TOKEN_TYPE,
        "contract_id": f"{ref.country_code}-{ref.party_id}-{payment.token_uid}",
        "issuer": settings.payments_emsp_name,
        "valid": valid,
        "whitelist": "ALLOWED",
        "language": "en",
        "last_updated": format_datetime(utcnow()),
    }


async def save_token(
    session: AsyncSession, settings: Settings, payment: Payment, valid: bool
) -> dict[str, Any]:
    """Store the payment's token as the eMSP's (valid until its CDR spends it)."""
    token = ad_hoc_token(settings, payment, valid)
    await store.save(
        session,
        module="tokens",
        owner=emsp_ref(settings),
        key=payment.token_uid,
        subtype=TOKEN_TYPE,
        data=token,
        last_updated=utcnow(),
        owner_platform_id=await platform_id(session, settings),
    )
    return token


async def send_command(
    ctx: HubContext,
    session: AsyncSession,
    payment: Payment,
    command: CommandType,
    request: dict[str, Any],
) -> CommandResponse:
    """Send a command as the hub's eMSP, through the same relay path as a partner eMSP's
    command; its asynchronous result comes back to ``PaymentsEmsp.result``."""
    if command == CommandType.START_SESSION:
        # A new session only at a CPO the hub's eMSP has an agreement with (as for a partner
        # eMSP's START_SESSION: 4001 otherwise); a running one is stopped whatever happened
        # to the agreement since ("running sessions finish").
        party = await resolve_for(
            session,
            ctx,
            cpo_ref(payment),
            CPO_ONLY,
            asking=emsp_ref(ctx.settings),
            module=commands.MODULE,
        )
    else:
        party = await resolve_receiver(session, cpo_ref(payment), CPO_ONLY)
    response_url = RESPONSE_URL + payment.public_id
    parsed = (
        COMMAND_REQUEST_MODELS[command]
        .model_validate({**request, "response_url": response_url})
        .to_json()
    )
    sent = await commands.send(
        session,
        ctx,
        command=command,
        request=parsed,
        party=party,
        requester=emsp_ref(ctx.settings),
        requester_platform_id=await platform_id(session, ctx.settings),
        response_url=response_url,
    )
    return sent.response(party)


async def observe(
    session: AsyncSession, ctx: HubContext, module: str, data: dict[str, Any]
) -> None:
    """A Session or CDR for a token of the hub's own eMSP."""
    token = data.get("cdr_token") or {}
    uid = str(token.get("uid", ""))
    if module == "cdrs" and data.get("credit"):
        await _credit_cdr(session, data)
        return
    payment = (await session.exec(select(Payment).where(Payment.token_uid == uid))).first()
    if payment is None:
        log.info("%s for unknown ad hoc token %s ignored", module, uid)
        return
    if module == "sessions":
        await _session_update(session, payment, data)
    else:
        await _cdr(session, ctx, payment, data)
    session.add(payment)


async def _session_update(session: AsyncSession, payment: Payment, data: dict[str, Any]) -> None:
    payment.session_id = str(data.get("id"))
    status = data.get("status")
    if payment.status in (S.AUTHORIZED, S.STARTING) and status in ("PENDING", "ACTIVE"):
        advance(payment, S.CHARGING)
    if status in ("COMPLETED", "INVALID") and payment.status in (
        S.AUTHORIZED,
        S.STARTING,
        S.CHARGING,
        S.STOPPING,
    ):
        advance(payment, S.AWAITING_CDR)
    if payment.status in (S.STARTING, S.CHARGING):
        # What the driver would pay if the session ended now: the shown tariff's price of the
        # Session so far (the CPO's total_cost when the hub has no copy of that tariff).
        cost = running_price(payment, data, await location_time_zone(session, payment))
        if cost is None:
            cost = price_minor(data.get("total_cost"), payment.currency)
        limit = payment.amount_capturable or payment.hold_amount
        if cost >= limit * STOP_AT:
            await enqueue(
                session,
                payment,
                JobKind.STOP,
                f"stop-{payment.public_id}",
                reason="The running cost reached the amount held",
            )


async def _cdr(
    session: AsyncSession, ctx: HubContext, payment: Payment, data: dict[str, Any]
) -> None:
    if payment.cdr_id is not None and payment.cdr_id != str(data.get("id")):
        log.warning("second CDR %s for payment %s ignored", data.get("id"), payment.public_id)
        return
    settlement = settle_cdr(payment, data, await location_time_zone(session, payment))
    price = settlement.price
    first = payment.cdr_id is None
    payment.cdr_id = str(data.get("id"))
    payment.session_id = payment.session_id or data.get("session_id")
    payment.price = price
    payment.cpo_price = settlement.cpo_price
    if settlement.flag is not None and settlement.flag not in (payment.note or ""):
        # (Not again when the CPO sends the same CDR twice.)
        flag(payment, settlement.flag)
        ctx.metrics.payments.labels("price_differs").inc()
        log.warning("payment %s: %s", payment.public_id, settlement.flag)
    if payment.status == S.CAPTURED and first:
        # Captured before the card's hold ran out: the CDR settles the difference.
        await long_sessions.settle_late_cdr(session, payment)
    if payment.status in S.FINAL:
        return
    advance(payment, S.CAPTURING)
    if price > 0:
        await enqueue(
            session, payment, JobKind.CAPTURE, f"capture-{payment.public_id}", amount=price
        )
    else:
        await enqueue(session, payment, JobKind.CANCEL, f"cancel-{payment.public_id}")
    # Single use: the token is spent.
    await save_token(session, ctx.settings, payment, valid=False)


async def _credit_cdr(session: AsyncSession, data: dict[str, Any]) -> None:
    """A credit CDR (mod_cdrs, "Credit CDRs") refunds what the referenced CDR cost."""
    reference = str(data.get("credit_reference_id") or "")
    payment = (await session.exec(select(Payment).where(Payment.cdr_id == reference))).first()
    if payment is None:
        log.info("credit CDR %s references unknown CDR %s", data.get("id"), reference)
        return
    amount = abs(price_minor(data.get("total_cost"), payment.currency))
    if payment.cpo_price and payment.price is not None and payment.cpo_price != payment.price:
        # The driver paid the shown price, not the CPO's: credit the same share of what they
        # paid (all of it for a credit of the whole CDR).
        share = Decimal(amount) * payment.price / payment.cpo_price
        amount = min(payment.price, int(share.to_integral_value(ROUND_HALF_UP)))
    if amount:
        await enqueue(
            session,
            payment,
            JobKind.REFUND,
            f"credit-{payment.public_id}-{data.get('id')}",
            amount=amount,
            reason=f"Credit CDR {data.get('id')}",
        )


async def command_result(session: AsyncSession, callback: Callback, body: dict[str, Any]) -> None:
    """The CPO's CommandResult for a command the hub's eMSP sent (the relay's caller commits)."""
    public_id = callback.original_url.removeprefix(RESPONSE_URL)
    payment = await by_public_id(session, public_id)
    if payment is None:
        return
    result = str(body.get("result"))
    if callback.action == CommandType.START_SESSION.value:
        if result != "ACCEPTED" and payment.status in (S.AUTHORIZED, S.STARTING):
            touch(payment, f"The charger did not start ({result})")
            await enqueue(session, payment, JobKind.CANCEL, f"cancel-{payment.public_id}")
    elif callback.action == CommandType.STOP_SESSION.value and result != "ACCEPTED":
        touch(payment, f"The charger did not confirm the stop ({result})")
    session.add(payment)


async def allowed(session: AsyncSession, uid: str) -> str:
    """Real-time authorization of a token of the hub's own eMSP (AllowedType)."""
    payment = (await session.exec(select(Payment).where(Payment.token_uid == uid))).first()
    if payment is None:
        return "NOT_ALLOWED"
    if payment.status in (S.AUTHORIZED, S.STARTING, S.CHARGING):
        return "ALLOWED"
    return "EXPIRED"


async def platform_id(session: AsyncSession, settings: Settings) -> int:
    """The payments eMSP's platform row, created (or repaired) when it is first needed: with the
    first token it issues, before its first START_SESSION (a hub that takes no payments
    advertises no eMSP, as one without chargers advertises no own CPO), and at start-up once
    there are payments."""
    platform = await parties.local_platform(session, KEY)
    if platform is not None and platform.id is not None:
        return platform.id
    return await parties.ensure_local_platform(
        session, KEY, settings.payments_emsp_name, roles(settings)
    )


def roles(settings: Settings) -> list[LocalRole]:
    return [LocalRole(Role.EMSP, emsp_ref(settings))]


class PaymentsEmsp(LocalParty):
    """The payments eMSP as the hub reaches it (registered by app/payments/runner.py)."""

    key = KEY

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self.name = ctx.settings.payments_emsp_name

    def roles(self) -> Sequence[LocalRole]:
        return roles(self.ctx.settings)

    async def receive(self, session: AsyncSession, push: Push) -> None:
        """The Sessions and CDRs of its tokens, as the store holds them after this push."""
        if push.module not in ("sessions", "cdrs"):
            return
        stored = store.parse_object_ref(push.object_ref)
        if stored is None:
            return
        module, owner, key, subtype = stored
        row = await store.get(session, module, owner, key, subtype)
        if row is not None:
            await observe(session, self.ctx, module, row.data)

    async def result(
        self, session: AsyncSession, callback: Callback, module: str, body: dict[str, Any]
    ) -> None:
        await command_result(session, callback, body)

    async def authorize(
        self,
        session: AsyncSession,
        uid: str,
        token_type: str,
        location: dict[str, Any] | None,
    ) -> dict[str, Any]:
        info: dict[str, Any] = {"allowed": await allowed(session, uid)}
        token = await store.get(session, "tokens", emsp_ref(self.ctx.settings), uid, token_type)
        if token is not None:
            info["token"] = token.data
        if location is not None and info["allowed"] == AllowedType.ALLOWED:
            info["location"] = location
        return info


async def start_up(ctx: HubContext) -> None:
    """At start-up, once the hub has taken payments: the eMSP's platform row exists (a database
    from before it had none), and the commands it sent before are its own (they named no
    requester platform then)."""
    async with ctx.sessions() as session:
        if (await session.exec(select(Payment.id).limit(1))).first() is None:
            return
        own = await platform_id(session, ctx.settings)
        await session.exec(
            update(Callback)
            .where(
                col(Callback.requester_platform_id).is_(None),
                col(Callback.original_url).startswith(RESPONSE_URL),
            )
            .values(requester_platform_id=own)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
