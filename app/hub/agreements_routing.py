"""Open routing of real-time authorization (transport_and_format "Open Routing Request").

A CPO asks to authorize a token the hub does not know and names no receiver ("the requesting
party does not know the destination of a request, the 'OCPI-to-' headers can be omitted [...]
The Hub can then decide to which party a request needs to be routed"). The hub asks, at once and
within one deadline (OCPI_TIMEOUT_SECONDS), every eMSP that has an active agreement covering
tokens with that CPO and a tokens Sender endpoint, and answers with:

- the first AuthorizationInfo ``allowed: ALLOWED`` (the other questions are abandoned);
- else the most specific refusal: an AuthorizationInfo of an eMSP that knows the token (BLOCKED,
  EXPIRED, NO_CREDIT, NOT_ALLOWED), BLOCKED first (the strongest), then in the order received;
- else 2004 Unknown Token, as for any token nobody knows.

The answer carries the owner in its OCPI-from headers ("Open response | Hub to requesting platform
| TO: Requesting-party | FROM: Receiving-party"), and the hub remembers the owner (``TokenRoute``)
so that the CPO's next authorization of that token goes to it directly. The hub's own local
eMSP is not asked here: its tokens are stored, and found without asking around.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub import agreements
from app.hub.agreements_models import TokenRoute
from app.hub.context import HubContext
from app.hub.forward import call_party
from app.hub.parties.models import ConnectionStatus, Platform, PlatformRole, endpoint_url
from app.hub.routing import EMSP_LIKE, Party
from app.ocpi.client import OcpiReply, url_path
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.common import ci_key

log = logging.getLogger("voltroam.agreements")

MODULE = "tokens"
# Refusals, strongest first: the one the hub answers when no eMSP allows the token.
REFUSALS = ("BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED")


async def remembered(
    session: AsyncSession, cpo: PartyRef, uid: str, token_type: str
) -> PartyRef | None:
    """The eMSP that answered for this token last time the CPO asked without a receiver."""
    row = (
        await session.exec(
            select(TokenRoute).where(
                TokenRoute.cpo_country_code == cpo.country_code,
                TokenRoute.cpo_party_id == cpo.party_id,
                TokenRoute.uid == ci_key(uid),
                TokenRoute.token_type == token_type,
            )
        )
    ).first()
    return PartyRef(row.emsp_country_code, row.emsp_party_id) if row else None


async def _remember(
    session: AsyncSession, cpo: PartyRef, uid: str, token_type: str, emsp: PartyRef
) -> None:
    row = (
        await session.exec(
            select(TokenRoute).where(
                TokenRoute.cpo_country_code == cpo.country_code,
                TokenRoute.cpo_party_id == cpo.party_id,
                TokenRoute.uid == ci_key(uid),
                TokenRoute.token_type == token_type,
            )
        )
    ).first()
    if row is None:
        row = TokenRoute(
            cpo_country_code=cpo.country_code,
            cpo_party_id=cpo.party_id,
            uid=ci_key(uid),
            token_type=token_type,
            emsp_country_code=emsp.country_code,
            emsp_party_id=emsp.party_id,
        )
    row.emsp_country_code, row.emsp_party_id = emsp.country_code, emsp.party_id
    row.learned_at = utcnow()
    session.add(row)
    await session.commit()


async def candidates(session: AsyncSession, ctx: HubContext, cpo: PartyRef) -> list[Party]:
    """Connected remote eMSP-like parties with a tokens Sender endpoint that the CPO has an
    active agreement with for tokens."""
    rows = (
        await session.exec(
            select(PlatformRole, Platform)
            .join(Platform, col(Platform.id) == col(PlatformRole.platform_id))
            .where(
                col(Platform.registered).is_(True),
                Platform.status == ConnectionStatus.CONNECTED,
                col(Platform.local).is_(None),
                col(PlatformRole.role).in_(EMSP_LIKE),
            )
            .order_by(col(Platform.id), col(PlatformRole.id))
        )
    ).all()
    rules = await agreements.book(session, ctx)
    found: list[Party] = []
    for role, platform in rows:
        party = Party(platform, role)
        if party.ref == cpo or endpoint_url(platform, MODULE, "SENDER") is None:
            continue
        if rules.may(cpo, party.ref, MODULE):
            found.append(party)
    return found


def _allowed(reply: OcpiReply) -> str | None:
    if not reply.ok or not isinstance(reply.data, dict):
        return None
    value = reply.data.get("allowed")
    return str(value) if value is not None else None


async def ask_around(
    session: AsyncSession,
    ctx: HubContext,
    *,
    uid: str,
    token_type: str,
    location: dict[str, Any] | None,
    requester: PartyRef,
) -> tuple[OcpiReply, PartyRef] | None:
    """The answer and the eMSP that gave it; None when no eMSP knows the token."""
    parties = await candidates(session, ctx, requester)
    if not parties:
        return None
    deadline = time.monotonic() + ctx.settings.ocpi_timeout_seconds

    async def ask(party: Party) -> tuple[OcpiReply, Party]:
        reply = await call_party(
            ctx,
            party,
            module=MODULE,
            interface="SENDER",
            method="POST",
            path=url_path(uid, "authorize"),
            params=[("type", token_type)],
            body=location,
            from_party=requester,
            timeout=max(0.1, deadline - time.monotonic()),
        )
        return reply, party

    tasks = [asyncio.create_task(ask(p)) for p in parties]
    refusals: list[tuple[OcpiReply, Party]] = []
    chosen: tuple[OcpiReply, Party] | None = None
    try:
        for next_done in asyncio.as_completed(tasks, timeout=ctx.settings.ocpi_timeout_seconds):
            try:
                reply, party = await next_done
            except OcpiError as exc:
                # Unreachable, timed out, no endpoint: this eMSP cannot say.
                log.info("open routing: an eMSP could not answer: %s", exc.message)
                continue
            allowed = _allowed(reply)
            if allowed == "ALLOWED":
                chosen = (reply, party)
                break
            if allowed is not None:
                refusals.append((reply, party))
    except TimeoutError:
        log.info("open routing of %s: deadline reached", uid)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if chosen is None and refusals:
        order = {name: i for i, name in enumerate(REFUSALS)}
        chosen = min(refusals, key=lambda r: order.get(_allowed(r[0]) or "", len(REFUSALS)))
    if chosen is None:
        return None
    reply, party = chosen
    await _remember(session, requester, uid, token_type, party.ref)
    return reply, party.ref
