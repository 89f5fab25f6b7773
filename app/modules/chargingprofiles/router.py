"""ChargingProfiles (mod_charging_profiles.asciidoc): SCSP/eMSP -> hub -> CPO, and back.

Built like the Commands relay. An eMSP's request is relayed only for a Session of its own tokens,
to the Session's CPO (or the one the OCPI-to headers name); an SCSP's only to the CPO it names
(see ``_cpo_of``). Anything else is answered UNKNOWN_SESSION by the hub. The hub replaces every ``response_url`` with its own
URL carrying an unguessable id and relays the CPO's asynchronous result (ActiveChargingProfileResult,
ChargingProfileResult or ClearProfileResult) to the original URL through the durable outbox.

The CPO's later ActiveChargingProfile updates (PUT on the Sender interface) go to the party that
set a profile on the Session through the hub ("The Receiver SHALL NOT call this interface for any
session where the Sender has never, successfully called the charging profile Receiver PUT
interface"), else to the newest party that asked about it, else to the eMSP of the Session's token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.openapi.models import Example
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.background import BackgroundTask

from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.forward import call_party, relay_reply, resolve_for
from app.hub.local import no_endpoint
from app.hub.outbox.service import Push, enqueue
from app.hub.parties.models import ConnectionStatus, endpoint_url
from app.hub.relay import service as relay
from app.hub.relay.models import Callback
from app.hub.routing import CPO_ONLY, EMSP_LIKE, Party, find_party
from app.hub.store import push
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.modules.common import CallerDep, ContextDep, ObjectId, SessionDep
from app.modules.sessions import service as sessions
from app.modules.versions.service import ServedEndpoint, register
from app.ocpi.envelope import Envelope, ocpi_response
from app.ocpi.errors import InvalidParameters, NotFound, OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.chargingprofiles import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfileResponse,
    ChargingProfileResponseType,
    ChargingProfileResult,
    ClearProfileResult,
    SetChargingProfile,
)
from app.ocpi.schemas.common import INT_MAX, OcpiModel, examples_of
from app.ocpi.schemas.versions import InterfaceRole
from app.ocpi.status import OcpiStatus
from app.ocpi.version import VERSION_PREFIX

MODULE = "chargingprofiles"
KIND = "chargingprofile"  # Callback.kind (relay.RESULT_PATHS)
SESSIONS = "sessions"
SCSP = frozenset({"SCSP"})
register(
    ServedEndpoint(MODULE, InterfaceRole.RECEIVER, "/receiver/chargingprofiles"),
    ServedEndpoint(MODULE, InterfaceRole.SENDER, "/sender/chargingprofiles"),
)
receiver = APIRouter(
    prefix=f"{VERSION_PREFIX}/receiver/chargingprofiles", tags=["OCPI chargingprofiles"]
)
sender = APIRouter(
    prefix=f"{VERSION_PREFIX}/sender/chargingprofiles", tags=["OCPI chargingprofiles"]
)

# What the CPO POSTs to the hub's response_url, by the request it answers.
RESULT_MODELS: dict[str, type[OcpiModel]] = {
    "GET": ActiveChargingProfileResult,
    "PUT": ChargingProfileResult,
    "DELETE": ClearProfileResult,
}
# One request example per result type, from the examples of its model.
RESULT_EXAMPLES: dict[str, Example] = {
    model.__name__: Example(
        summary=f"{model.__name__} (answers a {method})", value=examples_of(model)[0]
    )
    for method, model in RESULT_MODELS.items()
}

ResponseUrl = Annotated[
    str,
    Query(
        min_length=1,
        max_length=255,
        description="Where the asynchronous result is to be POSTed (replaced by the hub's own URL)",
    ),
]


def _subject(session_id: str) -> str:
    return session_id.upper()


def _validated(model: type[OcpiModel], body: dict[str, Any]) -> dict[str, Any]:
    try:
        return model.model_validate(body).to_json()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidParameters(f"{model.__name__}: {where}: {first['msg']}") from None


async def _cpo_of(
    session: AsyncSession, ctx: HubContext, caller: Caller, session_id: str
) -> tuple[Party, PartyRef] | None:
    """The CPO a request goes to and who asks; None when the hub answers UNKNOWN_SESSION itself.

    "ChargingProfile can be created by the owner of a Token on Sessions that belong to that
    token": an eMSP's request is relayed only for a Session of its own tokens; for any other
    Session, and one the hub does not know, the hub answers UNKNOWN_SESSION, OCPI-to headers or
    not, so the answer does not tell whether the Session exists.

    An SCSP owns no tokens and the hub routes no Sessions to it, so the hub looks none up for it.
    Its requests are relayed only to the CPO its OCPI-to headers name, which decides: "These SCSPs
    then depend on the CPO sending session information to them" (its own contract, topology "The
    CPO delegated Smart Charging to SCSP", where "the eMSP is not aware"), and "If another party
    sends a ChargingProfile and the CPO has no contract that allows that party to set profiles on
    sessions, the CPO is allowed to reject such profiles." The hub's own parties (its own CPO)
    have no contract with any SCSP: it answers UNKNOWN_SESSION to SCSPs.
    """
    route = await sessions.route(session, ctx, caller, session_id, MODULE)
    if route is not None:
        return route
    named = await sessions.named_cpo(session, ctx, caller, MODULE)
    scsp = caller.parties(SCSP)
    asking = caller.routing.from_party
    if named is None or named.platform.local is not None or not scsp:
        return None
    if asking is not None and asking not in scsp:
        return None
    return named, asking or scsp[0]


async def _relay_request(
    request: Request,
    caller: Caller,
    ctx: HubContext,
    session: AsyncSession,
    *,
    method: str,
    session_id: str,
    response_url: str,
    params: Sequence[tuple[str, str]] = (),
    body: dict[str, Any] | None = None,
) -> JSONResponse:
    """Forward one Receiver-interface request to the CPO with the hub's own response_url."""
    receiver = await _cpo_of(session, ctx, caller, session_id)
    if receiver is None:
        answer = ChargingProfileResponse(
            result=ChargingProfileResponseType.UNKNOWN_SESSION, timeout=0
        )
        requester = caller.sender_party(EMSP_LIKE)
        return ocpi_response(answer, headers=push.answer_headers(ctx, requester))
    party, requester = receiver
    values = relay.callback_values(
        kind=KIND,
        action=method,
        subject=_subject(session_id),
        requester_platform_id=caller.platform.id,
        requester=requester,
        receiver=party,
        original_url=response_url,
    )
    local = ctx.local_parties.of(party.platform)
    if local is not None:
        # A local CPO (the hub's own chargers) answers by a call.
        callback = await relay.open_callback(session, values)
        hub_url = relay.result_url(ctx, callback)
        if body is not None:
            body = {**body, "response_url": hub_url}
        else:
            params = [*params, ("response_url", hub_url)]
        answer = await relay.ask_local(
            session,
            callback,
            local.charging_profile(session, method, session_id, dict(params), body, callback),
        )
        return ocpi_response(answer, headers=push.answer_headers(ctx, requester))
    # Sent while its callback is written; what the CPO answered is written once the requester
    # has it (relay.record_answer).
    forwarded = await relay.forward_meanwhile(
        session,
        ctx,
        values,
        party,
        module=MODULE,
        method=method,
        path=push.url_path(session_id),
        requester=requester,
        response_model=ChargingProfileResponse,
        params=params,
        body=body,
    )
    response = relay_reply(ctx, forwarded.reply, caller.routing, request.url.path)
    response.background = BackgroundTask(forwarded.record(ctx))
    return response


@receiver.get(
    "/{session_id}",
    summary="Ask the Session's CPO for the ActiveChargingProfile (result relayed to response_url)",
    response_model=Envelope[ChargingProfileResponse],
)
async def get_active_charging_profile(
    session_id: ObjectId,
    duration: Annotated[
        int,
        Query(
            ge=0,
            le=INT_MAX,
            description="Length of the requested ActiveChargingProfile in seconds",
        ),
    ],
    response_url: ResponseUrl,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    return await _relay_request(
        request,
        caller,
        ctx,
        session,
        method="GET",
        session_id=session_id,
        response_url=response_url,
        params=[("duration", str(duration))],
    )


@receiver.put(
    "/{session_id}",
    summary="Set or replace the ChargingProfile of a Session: forwarded to its CPO",
    response_model=Envelope[ChargingProfileResponse],
)
async def put_charging_profile(
    session_id: ObjectId,
    body: SetChargingProfile,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    document = body.to_json()
    return await _relay_request(
        request,
        caller,
        ctx,
        session,
        method="PUT",
        session_id=session_id,
        response_url=document["response_url"],
        body=document,
    )


@receiver.delete(
    "/{session_id}",
    summary="Clear the ChargingProfile of a Session: forwarded to its CPO",
    response_model=Envelope[ChargingProfileResponse],
)
async def delete_charging_profile(
    session_id: ObjectId,
    response_url: ResponseUrl,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    return await _relay_request(
        request,
        caller,
        ctx,
        session,
        method="DELETE",
        session_id=session_id,
        response_url=response_url,
    )


@sender.post(
    "/results/{result_id}",
    summary="The CPO's asynchronous result (the hub's response_url), relayed to the requester",
    response_model=Envelope[None],
)
async def post_charging_profile_result(
    result_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: Annotated[
        dict[str, Any],
        Body(
            description="ActiveChargingProfileResult, ChargingProfileResult or ClearProfileResult",
            openapi_examples=RESULT_EXAMPLES,
        ),
    ],
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    callback = await relay.find(session, KIND, result_id, ctx)
    # Only the CPO the request went to may answer it.
    if callback is None or callback.receiver_platform_id != caller.platform.id:
        raise NotFound("Unknown charging profile response URL")
    document = _validated(RESULT_MODELS[callback.action], body)
    # Sent to the requester right after the commit, its outbox row the fallback.
    await relay.relay_result_now(session, ctx, callback, MODULE, document)
    return ocpi_response()


async def _latest_callback(
    session: AsyncSession, ctx: HubContext, subject: str, receiver_platform_id: int | None
) -> Callback | None:
    """The request to follow: the newest accepted SetChargingProfile this CPO received for the
    Session, else the newest request of any kind it received for it."""
    # (What the CPO answered is written after the requester has it: wait for this instance's.)
    await relay.answers_recorded(ctx)
    stmt = (
        select(Callback)
        .where(
            Callback.kind == KIND,
            Callback.subject == subject,
            Callback.receiver_platform_id == receiver_platform_id,
        )
        .order_by(col(Callback.id).desc())
        .limit(50)
    )
    callbacks = list((await session.exec(stmt)).all())
    for callback in callbacks:
        # relay.after_response sets expires_at only when the CPO answered ACCEPTED.
        if callback.action == "PUT" and callback.expires_at is not None:
            return callback
    return callbacks[0] if callbacks else None


def _own_session(caller: Caller, rows: list[OcpiObject], session_id: str) -> OcpiObject | None:
    """The caller's stored Session with this id; 2001 when the hub holds only others'."""
    mine = [r for r in rows if PartyRef(r.country_code, r.party_id) in caller.parties(CPO_ONLY)]
    if rows and not mine:
        raise InvalidParameters(f"Session {session_id} is not a Session of your platform")
    return mine[0] if mine else None


@sender.put(
    "/{session_id}",
    summary="The CPO's updated ActiveChargingProfile: delivered to the party that set the profile",
    response_model=Envelope[None],
)
async def put_active_charging_profile(
    session_id: ObjectId,
    body: ActiveChargingProfile,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    document = body.to_json()
    row = _own_session(caller, await store.find_by_key(session, SESSIONS, session_id), session_id)
    cpo = PartyRef(row.country_code, row.party_id) if row else caller.sender_party(CPO_ONLY)
    to = push.directed_to(ctx, caller)
    if to is not None:
        # A directed request: forwarded at once, its answer relayed.
        named = await resolve_for(session, ctx, to, EMSP_LIKE, asking=cpo, module=MODULE)
        reply = await call_party(
            ctx,
            named,
            module=MODULE,
            interface="SENDER",
            method="PUT",
            path=push.url_path(session_id),
            body=document,
            from_party=cpo,
        )
        return relay_reply(ctx, reply, caller.routing, request.url.path)
    callback = await _latest_callback(session, ctx, _subject(session_id), caller.platform.id)
    if callback is not None:
        target = PartyRef(callback.requester_country_code, callback.requester_party_id)
    elif row is not None and row.recipient_country_code and row.recipient_party_id:
        target = PartyRef(row.recipient_country_code, row.recipient_party_id)
    else:
        raise InvalidParameters(
            f"No party asked for the charging profiles of Session {session_id} through the hub:"
            " name the receiver in the OCPI-to headers"
        )
    party = await find_party(session, target, EMSP_LIKE)
    if party is None or not party.platform.registered:
        raise OcpiError(OcpiStatus.UNKNOWN_RECEIVER, f"Unknown receiver {target}")
    if party.platform.status == ConnectionStatus.SUSPENDED:
        raise OcpiError(OcpiStatus.RECEIVER_NOT_CONNECTED, f"Receiver {target} is suspended")
    update = Push(
        platform_id=party.platform.id or 0,
        module=MODULE,
        method="PUT",
        path=push.url_path(session_id),
        object_ref=store.object_ref(MODULE, cpo, session_id, "active"),
        body=document,
        from_party=cpo,
        to_party=target,
        # A newer ActiveChargingProfile replaces one that has not left yet.
        full=True,
    )
    local = ctx.local_parties.of(party.platform)
    if local is not None:
        await local.receive(session, update)
    else:
        url = endpoint_url(party.platform, MODULE, "SENDER")
        if url is None:
            raise no_endpoint(target, MODULE, "SENDER")
        await enqueue(session, [replace(update, url=url)])
    await session.commit()
    ctx.notify_outbox()
    return ocpi_response(headers=push.answer_headers(ctx, cpo))
