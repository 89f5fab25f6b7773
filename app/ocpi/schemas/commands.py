"""OCPI 2.2.1 Commands module objects (spec: mod_commands.asciidoc).

The eMSP POSTs one of the command bodies to ``.../commands/{command}``; the CPO answers
synchronously with a ``CommandResponse`` and later POSTs a ``CommandResult`` to ``response_url``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import ConfigDict, Field, model_validator

from app.ocpi.schemas.common import (
    URL,
    CiString36,
    DateTime,
    DisplayText,
    NonNegativeInt,
    NullAsEmpty,
    OcpiModel,
)
from app.ocpi.schemas.tokens import TOKEN_EXAMPLE, Token

__all__ = (
    "COMMAND_REQUEST_MODELS",
    "CancelReservation",
    "CommandRequest",
    "CommandResponse",
    "CommandResponseType",
    "CommandResult",
    "CommandResultType",
    "CommandType",
    "ReserveNow",
    "StartSession",
    "StopSession",
    "UnlockConnector",
)


class CommandResponseType(StrEnum):
    """Synchronous answer of the CPO (not the Charge Point)."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(StrEnum):
    """Asynchronous result, as sent by the Charge Point to the CPO."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class CommandType(StrEnum):
    """``{command}`` URL segment. "The command UNLOCK_CONNECTOR may only be used by an operator or
    the eMSP. This command SHALL never be allowed to be sent directly by the EV-Driver." """

    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


# Where the eMSP wants the asynchronous CommandResult; the hub swaps in its own URL.
_RESPONSE_URL = "https://www.server.com/ocpi/emsp/2.2.1/commands/{}/c3f6a1e2"


class CancelReservation(OcpiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "response_url": _RESPONSE_URL.format("CANCEL_RESERVATION"),
                    "reservation_id": "R1001",
                }
            ]
        }
    )

    response_url: URL
    reservation_id: CiString36


class CommandResponse(OcpiModel):
    """Sent in the HTTP response body; ``timeout`` is in seconds."""

    result: CommandResponseType
    timeout: NonNegativeInt
    message: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)


class CommandResult(OcpiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"result": "ACCEPTED"},
                {
                    "result": "EVSE_OCCUPIED",
                    "message": [{"language": "en", "text": "Another vehicle is charging at 3256"}],
                },
            ]
        }
    )

    result: CommandResultType
    message: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)


class ReserveNow(OcpiModel):
    """ "A reservation can be replaced/updated by sending a RESERVE_NOW request with the same
    Location (Charge Point) and the same reservation_id." ``evse_uid`` is optional: without it
    the Charge Point keeps one EVSE available."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "response_url": _RESPONSE_URL.format("RESERVE_NOW"),
                    "token": TOKEN_EXAMPLE,
                    "expiry_date": "2020-03-09T10:45:00Z",
                    "reservation_id": "R1001",
                    "location_id": "LOC1",
                    "evse_uid": "3257",
                }
            ]
        }
    )

    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString36
    location_id: CiString36
    evse_uid: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StartSession(OcpiModel):
    """``evse_uid``: "Optional EVSE.uid [...] Required when connector_id is set." (enforced).
    ``connector_id`` is required when the EVSE has START_SESSION_CONNECTOR_REQUIRED (checked by
    the receiver, which knows the EVSE)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "response_url": _RESPONSE_URL.format("START_SESSION"),
                    "token": TOKEN_EXAMPLE,
                    "location_id": "LOC1",
                    "evse_uid": "3256",
                    "connector_id": "1",
                    "authorization_reference": "AUTH-6f2e1c9b",
                }
            ]
        }
    )

    response_url: URL
    token: Token
    location_id: CiString36
    evse_uid: CiString36 | None = None
    connector_id: CiString36 | None = None
    authorization_reference: CiString36 | None = None

    @model_validator(mode="after")
    def _connector_needs_evse(self) -> Self:
        if self.connector_id is not None and self.evse_uid is None:
            raise ValueError("evse_uid is required when connector_id is set")
        return self


class StopSession(OcpiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"response_url": _RESPONSE_URL.format("STOP_SESSION"), "session_id": "101"}
            ]
        }
    )

    response_url: URL
    session_id: CiString36


class UnlockConnector(OcpiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "response_url": _RESPONSE_URL.format("UNLOCK_CONNECTOR"),
                    "location_id": "LOC1",
                    "evse_uid": "3256",
                    "connector_id": "1",
                }
            ]
        }
    )

    response_url: URL
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36


CommandRequest = CancelReservation | ReserveNow | StartSession | StopSession | UnlockConnector

# Request body per ``{command}``. (The spec's "Choice: one of five" table lists only four rows;
# UNLOCK_CONNECTOR -> UnlockConnector is the fifth.)
COMMAND_REQUEST_MODELS: dict[CommandType, type[OcpiModel]] = {
    CommandType.CANCEL_RESERVATION: CancelReservation,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
}
