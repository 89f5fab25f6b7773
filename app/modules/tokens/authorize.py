"""Real-time authorization (mod_tokens, "Real-time authorization"): CPO -> hub -> eMSP.

The request goes to the token's owner (OCPI-to headers, or the stored Token) and its
AuthorizationInfo comes back unchanged. The decision is the hub's one authorization chain
(app/hub/authorization.py) with the policy of a hub relaying a CPO's question: the eMSP decides,
local (the payments eMSP answers its own tokens) or remote; when it is offline or does not answer
in time, the stored Token decides where its ``whitelist`` allows it (ALWAYS, ALLOWED,
ALLOWED_OFFLINE); NEVER gets the routing error.
"""

from __future__ import annotations

from typing import Any, NoReturn

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub import agreements, agreements_routing, authorization
from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.forward import relay_reply
from app.hub.routing import CPO_ONLY
from app.hub.store import push
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.ocpi.envelope import ocpi_response
from app.ocpi.errors import InvalidParameters, NotFound
from app.ocpi.headers import PartyRef, RoutingHeaders
from app.ocpi.status import OcpiStatus

MODULE = authorization.MODULE


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
    readable = await agreements.readable_owners(session, ctx, caller, MODULE)
    token = await _stored_token(session, uid, token_type, to, readable)
    owner = to or (PartyRef(token.country_code, token.party_id) if token else None)
    requester = caller.sender_party(CPO_ONLY)
    if owner is None and caller.parties(CPO_ONLY):
        # Open routing: the eMSP that answered last time, else every eMSP with an agreement.
        owner = await agreements_routing.remembered(session, requester, uid, token_type)
        if owner is None:
            found = await agreements_routing.ask_around(
                session, ctx, uid=uid, token_type=token_type, location=location, requester=requester
            )
            if found is None:
                _unknown_token(uid)
            reply, emsp = found
            routing = RoutingHeaders(from_party=requester, to_party=emsp)
            return relay_reply(ctx, reply, routing, request.url.path)
    if owner is None:
        _unknown_token(uid)
    decided = await authorization.authorize(
        session,
        ctx,
        authorization.AuthorizationRequest(
            uid=uid,
            token_type=token_type,
            token=token,
            owner=owner,
            location=location,
            requester=requester,
        ),
        authorization.RELAYING,
    )
    if decided.reply is not None:
        # The remote eMSP's answer, as it came.
        return relay_reply(ctx, decided.reply, caller.routing, request.url.path)
    return ocpi_response(decided.info, headers=push.answer_headers(ctx, requester))
