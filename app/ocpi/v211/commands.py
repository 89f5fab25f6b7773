"""OCPI 2.1.1 Commands module objects (spec 2.1.1: mod_commands.md).

Differences from 2.2.1: no CANCEL_RESERVATION; one CommandResponse object (``result`` only) is
both the CPO's synchronous answer and the asynchronous result POSTed to ``response_url``, with
its own CommandResponseType (TIMEOUT, no CommandResultType); ReserveNow's ``reservation_id`` is an
int; StartSession has no ``connector_id``; no ``authorization_reference``.
"""

from __future__ import annotations

from enum import StrEnum

from app.ocpi.schemas.common import URL, DateTime, OcpiModel
from app.ocpi.v211.common import Id36, Id39
from app.ocpi.v211.tokens import Token

__all__ = (
    "CommandResponse",
    "CommandResponseType",
    "CommandType",
    "ReserveNow",
    "StartSession",
    "StopSession",
    "UnlockConnector",
)


class CommandResponseType(StrEnum):
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandType(StrEnum):
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class CommandResponse(OcpiModel):
    result: CommandResponseType


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: int
    location_id: Id39
    evse_uid: Id39 | None = None


class StartSession(OcpiModel):
    response_url: URL
    token: Token
    location_id: Id39
    evse_uid: Id39 | None = None


class StopSession(OcpiModel):
    response_url: URL
    session_id: Id36


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: Id39
    evse_uid: Id39
    connector_id: Id36
