"""Commands (mod_commands.asciidoc): eMSP -> hub -> CPO, and the CPO's asynchronous results back.

The receiving CPO is the one the OCPI-to headers name or, when they are absent, the owner of the
Location (START_SESSION, RESERVE_NOW, UNLOCK_CONNECTOR), of the Session (STOP_SESSION) or of the
reservation (CANCEL_RESERVATION, from the RESERVE_NOW the same platform sent through the hub).
STOP_SESSION is relayed only for the eMSP of the Session's token, START_SESSION and RESERVE_NOW
only with the caller's own tokens.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.openapi.models import Example
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.background import BackgroundTask

from app.hub import agreements
from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.forward import relay_reply, resolve_for
from app.hub.relay import service as relay
from app.hub.routing import CPO_ONLY, EMSP_LIKE, Party
from app.hub.store import push
from app.hub.store import service as store
from app.modules.commands import service
from app.modules.common import CallerDep, ContextDep, SessionDep
from app.modules.sessions import service as sessions
from app.modules.versions.service import ServedEndpoint, register
from app.ocpi.envelope import Envelope, ocpi_response
from app.ocpi.errors import InvalidParameters, NotFound, OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.commands import (
    COMMAND_REQUEST_MODELS,
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandType,
)
from app.ocpi.schemas.common import examples_of
from app.ocpi.schemas.versions import InterfaceRole
from app.ocpi.status import OcpiStatus
from app.ocpi.version import VERSION_PREFIX

MODULE = service.MODULE
register(
    ServedEndpoint(MODULE, InterfaceRole.RECEIVER, "/receiver/commands"),
    ServedEndpoint(MODULE, InterfaceRole.SENDER, "/sender/commands"),
)
receiver = APIRouter(prefix=f"{VERSION_PREFIX}/receiver/commands", tags=["OCPI commands"])
sender = APIRouter(prefix=f"{VERSION_PREFIX}/sender/commands", tags=["OCPI commands"])

BY_LOCATION = (CommandType.START_SESSION, CommandType.RESERVE_NOW, CommandType.UNLOCK_CONNECTOR)

# One request example per {command}, from the examples of its body model.
COMMAND_EXAMPLES: dict[str, Example] = {
    command.value: Example(
        summary=f"{command.value}: {model.__name__}", value=examples_of(model)[0]
    )
    for command, model in COMMAND_REQUEST_MODELS.items()
}


async def _owner_of(session: AsyncSession, module: str, key: str, what: str) -> PartyRef | None:
    rows = await store.find_by_key(session, module, key)
    if len(rows) > 1:
        raise InvalidParameters(
            f"Several CPOs have a {what} {key}: name the CPO in the OCPI-to headers"
        )
    return PartyRef(rows[0].country_code, rows[0].party_id) if rows else None


async def _receiver(
    session: AsyncSession,
    ctx: HubContext,
    caller: Caller,
    command: CommandType,
    request: dict[str, Any],
) -> tuple[Party, PartyRef] | None:
    """The CPO a command goes to and who asks; None when the hub answers UNKNOWN_SESSION itself.

    STOP_SESSION only for the eMSP of the Session's token (the hub knows it from the Session the
    CPO pushed); for anybody else the hub answers as for a Session it does not know, OCPI-to
    headers or not, and nothing reaches the CPO.
    """
    requester = caller.sender_party(EMSP_LIKE)
    if command == CommandType.STOP_SESSION:
        return await sessions.route(session, ctx, caller, request["session_id"], MODULE)
    if command in (CommandType.START_SESSION, CommandType.RESERVE_NOW):
        _check_token_is_callers(caller, command, request["token"])
    to = push.directed_to(ctx, caller)
    if to is not None:
        party = await resolve_for(session, ctx, to, CPO_ONLY, asking=requester, module=MODULE)
        return party, requester
    if command in BY_LOCATION:
        owner = await _owner_of(session, "locations", request["location_id"], "Location")
        # A Location of a CPO without an agreement is a Location the hub does not know.
        owner = await agreements.reachable_owner(session, ctx, owner, requester, MODULE)
        if owner is None:
            raise OcpiError(
                OcpiStatus.UNKNOWN_LOCATION, f"Unknown Location {request['location_id']}"
            )
    else:
        # CANCEL_RESERVATION: the CPO of a RESERVE_NOW this platform sent through the hub.
        reservation = await relay.latest_for_subject(
            session,
            "command",
            str(request["reservation_id"]).upper(),
            CommandType.RESERVE_NOW,
            requester_platform_id=caller.platform.id,
        )
        if reservation is None:
            raise InvalidParameters(
                f"Unknown reservation {request['reservation_id']}: name the CPO in the OCPI-to"
                " headers"
            )
        owner = PartyRef(reservation.receiver_country_code, reservation.receiver_party_id)
    party = await resolve_for(session, ctx, owner, CPO_ONLY, asking=requester, module=MODULE)
    return party, requester


def _check_token_is_callers(caller: Caller, command: CommandType, token: dict[str, Any]) -> None:
    """ "An eMSP sending a StartSession SHALL only use Token that are owned by this eMSP, using
    Tokens of other eMSPs is not allowed" (likewise ReserveNow): the Session and CDR of another
    eMSP's token would be routed, and billed, to that eMSP."""
    owner = PartyRef.of(str(token.get("country_code", "")), str(token.get("party_id", "")))
    if owner not in caller.parties(EMSP_LIKE):
        raise InvalidParameters(
            f"{command.value}: the token belongs to {owner}, not to an eMSP role of your"
            " platform: only your own tokens may be used"
        )


@receiver.post(
    "/{command}",
    summary="Send a command to the CPO of the Location, Session or reservation",
    response_model=Envelope[CommandResponse],
)
async def post_command(
    command: CommandType,
    body: Annotated[
        dict[str, Any],
        Body(
            description="StartSession, StopSession, ReserveNow, ...",
            openapi_examples=COMMAND_EXAMPLES,
        ),
    ],
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    try:
        parsed = COMMAND_REQUEST_MODELS[command].model_validate(body).to_json()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidParameters(f"{command.value}: {where}: {first['msg']}") from None
    receiver = await _receiver(session, ctx, caller, command, parsed)
    if receiver is None:
        requester = caller.sender_party(EMSP_LIKE)
        answer = CommandResponse(
            result=CommandResponseType.UNKNOWN_SESSION,
            timeout=0,
            message=[{"language": "en", "text": "The hub knows no such Session"}],
        )
        return ocpi_response(answer, headers=push.answer_headers(ctx, requester))
    party, requester = receiver
    sent = await service.send(
        session,
        ctx,
        command=command,
        request=parsed,
        party=party,
        requester=requester,
        requester_platform_id=caller.platform.id,
        response_url=parsed["response_url"],
        defer_record=True,
    )
    if sent.reply is None:
        # A local CPO (the hub's own chargers) answered.
        return ocpi_response(sent.answer, headers=push.answer_headers(ctx, requester))
    response = relay_reply(ctx, sent.reply, caller.routing, request.url.path)
    # What the CPO answered is written once the eMSP has it (relay.record_answer says what a
    # write lost to a crash would mean).
    if sent.record is not None:
        response.background = BackgroundTask(sent.record)
    return response


@sender.post(
    "/{result_id}",
    summary="The CPO's asynchronous CommandResult (the hub's response_url)",
    response_model=Envelope[None],
)
async def post_command_result(
    result_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: CommandResult,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    callback = await relay.find(session, "command", result_id, ctx)
    # Only the CPO the command went to may answer it.
    if callback is None or callback.receiver_platform_id != caller.platform.id:
        raise NotFound("Unknown command response URL")
    # Sent to the eMSP right after the commit, its outbox row the fallback.
    await relay.relay_result_now(session, ctx, callback, MODULE, body.to_json())
    return ocpi_response()
