"""OCPI 2.3.0 Commands module objects (spec 2.3.0: mod_commands.asciidoc).

As 2.2.1; CommandType (the ``{command}`` URL segment) is an OpenEnum, so a 2.3.0 party may send
commands 2.2.1 does not know (the translator refuses those).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, NonNegativeInt, model_validator

from app.ocpi.schemas.commands import CommandResponseType, CommandResultType
from app.ocpi.schemas.common import URL, CiString36, DateTime, NullAsEmpty
from app.ocpi.v230.common import DisplayText, Ocpi230Model
from app.ocpi.v230.tokens import Token

__all__ = (
    "CancelReservation",
    "CommandResponse",
    "CommandResult",
    "ReserveNow",
    "StartSession",
    "StopSession",
    "UnlockConnector",
)


class CancelReservation(Ocpi230Model):
    response_url: URL
    reservation_id: CiString36


class CommandResponse(Ocpi230Model):
    result: CommandResponseType
    timeout: NonNegativeInt
    message: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)


class CommandResult(Ocpi230Model):
    result: CommandResultType
    message: Annotated[list[DisplayText], NullAsEmpty] = Field(default_factory=list)


class ReserveNow(Ocpi230Model):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString36
    location_id: CiString36
    evse_uid: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StartSession(Ocpi230Model):
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


class StopSession(Ocpi230Model):
    response_url: URL
    session_id: CiString36


class UnlockConnector(Ocpi230Model):
    response_url: URL
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36
