"""The hub's own CPO as a local party: OCPI requests addressed to it become OCPP calls.

Registered in the hub's LocalParties by the CSMS (app/ocpp/csms.py); the hub reaches it through
the ``LocalParty`` interface exactly where it would call a partner CPO's endpoint. Commands are
carried out by app/ocpp/commands.py, charging profiles by app/ocpp/profiles.py; their results go
back through the relay callback the hub opened, like a partner CPO's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.local import LocalParty, LocalRole
from app.hub.relay.models import Callback
from app.ocpi.schemas.chargingprofiles import ChargingProfileResponse
from app.ocpi.schemas.commands import CommandResponse
from app.ocpp.commands import handle_command
from app.ocpp.identity import KEY, own_roles
from app.ocpp.port import CsmsPort
from app.ocpp.profiles import handle_charging_profile


class OwnCpo(LocalParty):
    key = KEY

    def __init__(self, csms: CsmsPort) -> None:
        self.csms = csms
        self.name = csms.settings.own_cpo_name

    def roles(self) -> Sequence[LocalRole]:
        return own_roles(self.csms.settings)

    async def command(
        self, session: AsyncSession, command: str, request: dict[str, Any], callback: Callback
    ) -> CommandResponse:
        return await handle_command(self.csms, session, command, request, callback)

    async def charging_profile(
        self,
        session: AsyncSession,
        method: str,
        session_id: str,
        params: dict[str, str],
        body: dict[str, Any] | None,
        callback: Callback,
    ) -> ChargingProfileResponse:
        return await handle_charging_profile(
            self.csms, session, method, session_id, params, body, callback
        )
