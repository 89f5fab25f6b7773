"""What the message handlers and the own CPO's requests need of the CSMS (app/ocpp/csms.py).

A structural type, so that the modules the CSMS is built from (v16/v201 handlers, commands,
charging profiles) depend on it without importing the CSMS, which imports them.
"""

from __future__ import annotations

from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.context import HubContext
from app.ocpp.bridge import AuthResult, Bridge
from app.ocpp.meters import Meters
from app.ocpp.models import Charger, OcppTransaction
from app.ocpp.settings import OcppSettings


class CsmsPort(Protocol):
    ctx: HubContext
    settings: OcppSettings
    bridge: Bridge
    meters: Meters
    running: bool

    def now(self) -> datetime: ...

    def db(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None: ...

    async def reachable(self, charge_point_id: str) -> str | None: ...

    async def call(
        self, charge_point_id: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def booted(
        self,
        charge_point_id: str,
        version: str,
        *,
        vendor: str | None,
        model: str | None,
        serial: str | None,
        firmware: str | None,
    ) -> None: ...

    async def status(self, charge_point_id: str, evse: int, ocpi_status: str) -> None: ...

    async def status_all(self, charge_point_id: str, ocpi_status: str) -> None: ...

    async def authorize(
        self, charge_point_id: str, id_tag: str, evse: int | None
    ) -> AuthResult: ...

    async def charger(self, session: AsyncSession, charge_point_id: str) -> Charger: ...

    async def transaction_by_start(
        self, session: AsyncSession, charge_point_id: str, start_key: str
    ) -> OcppTransaction | None: ...
