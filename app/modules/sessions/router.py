"""Sessions (mod_sessions.asciidoc): CPOs push, the hub routes each Session to the eMSP that owns
its token (never broadcast: "specific to only one party and [...] possibly even protected by GDPR"),
and eMSPs pull their own."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.hub.forward import call_party, relay_reply
from app.hub.routing import EMSP_LIKE
from app.hub.store import push
from app.hub.store import service as store
from app.modules.common import (
    CallerDep,
    ContextDep,
    CountryCode,
    ObjectId,
    PageDep,
    PartyId,
    SessionDep,
)
from app.modules.sessions import service as sessions
from app.modules.versions.service import ServedEndpoint, register
from app.ocpi.envelope import Envelope
from app.ocpi.errors import NotFound
from app.ocpi.pagination import paginated_json_response
from app.ocpi.schemas.sessions import (
    ChargingPreferences,
    ChargingPreferencesResponse,
    Session,
    SessionPatch,
)
from app.ocpi.schemas.versions import InterfaceRole
from app.ocpi.status import OcpiStatus
from app.ocpi.version import VERSION_PREFIX

MODULE = "sessions"
register(
    ServedEndpoint(MODULE, InterfaceRole.RECEIVER, "/receiver/sessions"),
    ServedEndpoint(MODULE, InterfaceRole.SENDER, "/sender/sessions"),
)
receiver = APIRouter(prefix=f"{VERSION_PREFIX}/receiver/sessions", tags=["OCPI sessions"])
sender = APIRouter(prefix=f"{VERSION_PREFIX}/sender/sessions", tags=["OCPI sessions"])


@receiver.put(
    "/{country_code}/{party_id}/{session_id}",
    summary="Push a new or replaced Session (routed to the token owner's eMSP)",
    response_model=Envelope[None],
)
async def put_session(
    country_code: CountryCode,
    party_id: PartyId,
    session_id: ObjectId,
    body: Session,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    obj = body.to_json()
    return await push.put_object(
        request,
        caller,
        ctx,
        session,
        target=push.Target(MODULE, owner, session_id),
        obj=obj,
        recipient=sessions.token_owner(obj),
    )


@receiver.patch(
    "/{country_code}/{party_id}/{session_id}",
    summary="Update a Session; charging_periods are appended (must carry last_updated)",
    response_model=Envelope[None],
)
async def patch_session(
    country_code: CountryCode,
    party_id: PartyId,
    session_id: ObjectId,
    body: SessionPatch,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    return await push.patch_object(
        request,
        caller,
        ctx,
        session,
        target=push.Target(MODULE, owner, session_id),
        patch=body.model_dump(mode="json", exclude_unset=True),
        merge=sessions.merge_session,
    )


@receiver.get(
    "/{country_code}/{party_id}/{session_id}",
    summary="The Session as the hub stores it (for its owner)",
    response_model=Envelope[Session],
)
async def get_own_session(
    country_code: CountryCode,
    party_id: PartyId,
    session_id: ObjectId,
    caller: CallerDep,
    session: SessionDep,
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    return await push.get_own(caller, session, push.Target(MODULE, owner, session_id))


@sender.get(
    "",
    summary="The caller's Sessions: those of tokens it owns (paginated, oldest first)",
    response_model=Envelope[list[Session]],
)
async def list_sessions(
    request: Request, caller: CallerDep, session: SessionDep, params: PageDep
) -> Response:
    documents, total = await store.page_json(
        session, MODULE, params, recipients=caller.parties(EMSP_LIKE)
    )
    return paginated_json_response(request, documents, total, params)


@sender.put(
    "/{session_id}/charging_preferences",
    summary="Set the driver's charging preferences: forwarded to the Session's CPO",
    response_model=Envelope[ChargingPreferencesResponse],
)
async def put_charging_preferences(
    session_id: ObjectId,
    body: ChargingPreferences,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    """eMSP -> hub -> CPO; the CPO's ChargingPreferencesResponse comes back unchanged.

    Only for the eMSP of the Session's token; anybody else, and a Session the hub does not know,
    gets HTTP 404 with OCPI 2001, what the spec prescribes when preferences cannot be set there
    ("the receiver should respond with an HTTP status of 404 and an OCPI status code of 2001",
    ChargingPreferencesResponse), so the answer does not tell whether the Session exists.
    """
    route = await sessions.route(session, ctx, caller, session_id)
    if route is None:
        raise NotFound(f"Unknown Session {session_id}", OcpiStatus.INVALID_PARAMETERS)
    party, requester = route
    reply = await call_party(
        ctx,
        party,
        module=MODULE,
        interface="SENDER",
        method="PUT",
        path=push.url_path(session_id, "charging_preferences"),
        body=body.to_json(),
        from_party=requester,
    )
    return relay_reply(ctx, reply, caller.routing, request.url.path)
