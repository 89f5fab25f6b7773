"""Sending a command to a CPO through the hub's relay: the same path for a partner eMSP's command
(the commands router) and the hub's own payments eMSP's (app/payments/emsp.py).

The hub opens a callback (its own response_url, the requester's kept), then asks the receiver's
platform once whether it is local: a local CPO (the own CPO, backed by the CSMS) answers by a
call, a remote one over HTTP. Either way the callback records whether a result will follow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.context import HubContext
from app.hub.relay import service as relay
from app.hub.routing import Party
from app.ocpi.client import OcpiReply, url_path
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.commands import CommandResponse, CommandType

MODULE = "commands"


def subject(command: CommandType, request: dict[str, Any]) -> str | None:
    """What the command is about (the relay looks callbacks up by it)."""
    field = {
        CommandType.STOP_SESSION: "session_id",
        CommandType.RESERVE_NOW: "reservation_id",
        CommandType.CANCEL_RESERVATION: "reservation_id",
    }.get(command, "location_id")
    value = request.get(field)
    return str(value).upper() if value is not None else None


@dataclass(frozen=True)
class Sent:
    """The receiver's immediate answer: a local CPO's CommandResponse, or a remote CPO's reply as
    it came (relayed unchanged to a partner)."""

    answer: CommandResponse | None = None
    reply: OcpiReply | None = None
    # With ``defer_record``: writes what the receiver answered (the caller runs it once the
    # requester has the answer).
    record: Callable[[], Awaitable[None]] | None = None

    def response(self, party: Party) -> CommandResponse:
        if self.answer is not None:
            return self.answer
        assert self.reply is not None
        if not self.reply.ok:
            raise OcpiError(
                self.reply.status_code, f"{party.ref} answered {self.reply.status_message}"
            )
        return CommandResponse.model_validate(self.reply.one())


async def send(
    session: AsyncSession,
    ctx: HubContext,
    *,
    command: CommandType,
    request: dict[str, Any],
    party: Party,
    requester: PartyRef,
    requester_platform_id: int | None,
    response_url: str,
    defer_record: bool = False,
) -> Sent:
    """Relay a parsed command (``request``, with the requester's ``response_url``) to ``party``.

    To a remote CPO the command leaves while its callback is being written (the CPO's result,
    should it come first, waits for that write), and with ``defer_record`` what the CPO answered
    is written by ``Sent.record``, after the requester has the answer."""
    values = relay.callback_values(
        kind="command",
        action=command.value,
        subject=subject(command, request),
        requester_platform_id=requester_platform_id,
        requester=requester,
        receiver=party,
        original_url=response_url,
    )
    local = ctx.local_parties.of(party.platform)
    if local is not None:
        callback = await relay.open_callback(session, values)
        forwarded = {**request, "response_url": relay.result_url(ctx, callback)}
        answer = await relay.ask_local(
            session, callback, local.command(session, command.value, forwarded, callback)
        )
        return Sent(answer=answer)
    out = await relay.forward_meanwhile(
        session,
        ctx,
        values,
        party,
        module=MODULE,
        method="POST",
        path=url_path(command.value),
        requester=requester,
        response_model=CommandResponse,
        body=request,
    )
    if defer_record:
        return Sent(reply=out.reply, record=out.record(ctx))
    await out.record_in(session, ctx)
    return Sent(reply=out.reply)
