"""Whose a Session is: the hub knows the token that started it, so it knows its eMSP.

Requests about a Session (STOP_SESSION, charging preferences, ChargingProfiles) are relayed only
for the eMSP that owns its token. For anybody else the hub answers as it answers a Session it does
not know, whether or not the OCPI-to headers name the CPO, so that the answer does not tell that
the Session exists. This covers Sessions of partner CPOs, of the hub's own CPO (OCPP chargers) and
paid ad hoc sessions (tokens of the hub's own payments eMSP, which no partner holds).
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub import agreements
from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.forward import resolve_for, resolve_receiver
from app.hub.routing import CPO_ONLY, EMSP_LIKE, Party
from app.hub.store import push
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.ocpi.errors import InvalidParameters
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.sessions import Session

MODULE = "sessions"


def token_owner(obj: dict[str, Any]) -> PartyRef:
    """The eMSP a Session or CDR goes to: the owner of its ``cdr_token``."""
    token = obj["cdr_token"]
    return PartyRef.of(token["country_code"], token["party_id"])


def merge_session(existing: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """ "When a PATCH request contains the charging_periods field [...] this SHALL be processed as
    a request to add all the ChargingPeriod objects to the existing Session object." """
    merged = {**existing, **{k: v for k, v in patch.items() if k != "charging_periods"}}
    added = patch.get("charging_periods") or []
    merged["charging_periods"] = list(existing.get("charging_periods") or []) + list(added)
    return push.validated(Session, merged)


async def callers_session(
    session: AsyncSession, ctx: HubContext, caller: Caller, session_id: str
) -> OcpiObject | None:
    """The stored Session ``session_id`` of one of the caller's own tokens (at the CPO the
    OCPI-to headers name, if they do); None when there is none, whoever else's it may be."""
    owners = caller.parties(EMSP_LIKE)
    rows = await store.find_by_key(
        session, MODULE, session_id, owner=push.directed_to(ctx, caller), recipients=owners
    )
    if len(rows) > 1:
        raise InvalidParameters(
            f"Several CPOs have a Session {session_id} of your tokens: name the CPO in the"
            " OCPI-to headers"
        )
    return rows[0] if rows else None


async def named_cpo(
    session: AsyncSession, ctx: HubContext, caller: Caller, module: str | None = MODULE
) -> Party | None:
    """The CPO the OCPI-to headers name, if they do (4001 unknown, 4003 not connected: about
    the party named, whatever the Session); a CPO the caller has no agreement with for
    ``module`` is unknown too (``module`` None: the request is about a Session that may
    finish)."""
    to = push.directed_to(ctx, caller)
    if to is None:
        return None
    if module is None:
        return await resolve_receiver(session, to, CPO_ONLY)
    asking = caller.sender_party(EMSP_LIKE)
    return await resolve_for(session, ctx, to, CPO_ONLY, asking=asking, module=module)


async def route(
    session: AsyncSession, ctx: HubContext, caller: Caller, session_id: str, module: str = MODULE
) -> tuple[Party, PartyRef] | None:
    """Where a request about the caller's own Session goes, and who asks: the Session's CPO and
    the eMSP of its token (or the OCPI-from party); None when it is not the caller's Session, or
    when they have no agreement for ``module`` and the Session is not running any more."""
    row = await callers_session(session, ctx, caller, session_id)
    allowed = row is not None and await agreements.about_session(session, ctx, row, module)
    named = await named_cpo(session, ctx, caller, None if allowed else module)
    if row is None or not allowed:
        return None
    party = named or await resolve_receiver(
        session, PartyRef(row.country_code, row.party_id), CPO_ONLY
    )
    assert row.recipient_country_code and row.recipient_party_id
    requester = caller.routing.from_party or PartyRef(
        row.recipient_country_code, row.recipient_party_id
    )
    return party, requester
