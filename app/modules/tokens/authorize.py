"""Real-time authorization (mod_tokens, "Real-time authorization"): CPO -> hub -> eMSP.

The request goes to the token's owner (OCPI-to headers, or the stored Token) and its
AuthorizationInfo comes back unchanged. When the owner is offline or does not answer in time, the
hub answers from the stored Token where its ``whitelist`` allows it: ALWAYS and ALLOWED ("It is
allowed to whitelist the token") and ALLOWED_OFFLINE ("when the CPO cannot get a response from the
eMSP [...] the CPO shall allow this Token to be used"); NEVER gets the routing error.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.forward import call_party, relay_reply, resolve_receiver
from app.hub.routing import CPO_ONLY, EMSP_LIKE
from app.hub.store import push
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.ocpi.envelope import ocpi_response
from app.ocpi.errors import InvalidParameters, NotFound, OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.status import OcpiStatus
from app.payments import service as payments

log = logging.getLogger("voltroam.authorize")

MODULE = "tokens"
FALLBACK_WHITELISTS = ("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE")
# Routing failures after which the stored token may decide.
OWNER_UNAVAILABLE = (OcpiStatus.FORWARD_TIMEOUT, OcpiStatus.RECEIVER_NOT_CONNECTED)


def _unknown_token(uid: str) -> NoReturn:
    # "If the token is not known, the response SHALL contain the status code: 2004". Real-time
    # authorization is a CPO's question: a party without a CPO role asks about its own tokens
    # at most, and learns nothing about others' (not even from the whitelist fallback).
    raise NotFound(f"Unknown Token {uid}", OcpiStatus.UNKNOWN_TOKEN)


async def _stored_token(
    session: AsyncSession,
    uid: str,
    token_type: str,
    owner: PartyRef | None,
    readable: list[PartyRef] | None,
) -> OcpiObject | None:
    if owner is not None:
        return await store.get(session, MODULE, owner, uid, token_type)
    if readable is not None:
        found = [await store.get(session, MODULE, mine, uid, token_type) for mine in readable]
        rows = [r for r in found if r is not None]
    else:
        rows = [r for r in await store.find_by_key(session, MODULE, uid) if r.subtype == token_type]
    if len(rows) > 1:
        raise InvalidParameters(
            f"Several eMSPs have a token {uid}: name the eMSP in the OCPI-to headers"
        )
    return rows[0] if rows else None


def _fallback(token: OcpiObject, location: dict[str, Any] | None, reason: str) -> dict[str, Any]:
    data = token.data
    answer: dict[str, Any] = {
        "allowed": "ALLOWED" if data.get("valid") else "NOT_ALLOWED",
        "token": data,
        "info": {
            "language": "en",
            "text": f"Authorized by the hub from the eMSP's whitelist ({reason})"[:512],
        },
    }
    if location is not None and data.get("valid"):
        answer["location"] = location
    return answer


async def authorize(
    request: Request,
    caller: Caller,
    ctx: HubContext,
    session: AsyncSession,
    *,
    uid: str,
    token_type: str,
    location: dict[str, Any] | None,
) -> JSONResponse:
    to = push.directed_to(ctx, caller)
    if to is not None and not caller.may_read(MODULE, to):
        _unknown_token(uid)
    readable = caller.readable_owners(MODULE)
    token = await _stored_token(session, uid, token_type, to, readable)
    owner = to or (PartyRef(token.country_code, token.party_id) if token else None)
    if owner is None:
        _unknown_token(uid)
    requester = caller.sender_party(CPO_ONLY)
    if payments.is_payments_party(ctx.settings, owner):
        # A single-use token of the hub's own eMSP (ad hoc payment): the hub answers itself.
        allowed = await payments.authorize_local(session, uid)
        answer: dict[str, Any] = {"allowed": allowed}
        if token is not None:
            answer["token"] = token.data
        if location is not None and allowed == "ALLOWED":
            answer["location"] = location
        return ocpi_response(answer, headers=push.answer_headers(ctx, requester))
    try:
        party = await resolve_receiver(session, owner, EMSP_LIKE)
        reply = await call_party(
            ctx,
            party,
            module=MODULE,
            interface="SENDER",
            method="POST",
            path=push.url_path(uid, "authorize"),
            params=[("type", token_type)],
            body=location,
            from_party=requester,
        )
    except OcpiError as exc:
        if exc.status_code not in OWNER_UNAVAILABLE or token is None:
            raise
        if token.data.get("whitelist") not in FALLBACK_WHITELISTS:
            raise
        log.info("token %s authorized from the whitelist: %s", uid, exc.message)
        return ocpi_response(
            _fallback(token, location, exc.message), headers=push.answer_headers(ctx, requester)
        )
    return relay_reply(ctx, reply, caller.routing, request.url.path)
