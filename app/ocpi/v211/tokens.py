"""OCPI 2.1.1 Tokens module objects (spec 2.1.1: mod_tokens.md).

Differences from 2.2.1: no ``country_code``/``party_id`` (in the URL), ``auth_id`` instead of
``contract_id``, no ``group_id``/``default_profile_type``/``energy_contract``; TokenType is only
OTHER or RFID. The real-time authorization's LocationReferences has ``connector_ids``, and its
AuthorizationInfo has no ``token`` and no ``authorization_reference``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.ocpi.schemas.common import DateTime, DisplayText, NullAsEmpty, OcpiModel
from app.ocpi.schemas.tokens import AllowedType, WhitelistType
from app.ocpi.v211.common import Id36, Id39, String2, String64

__all__ = (
    "AuthorizationInfo",
    "LocationReferences",
    "Token",
    "TokenPatch",
    "TokenType",
)


class TokenType(StrEnum):
    OTHER = "OTHER"
    RFID = "RFID"


class LocationReferences(OcpiModel):
    location_id: Id39
    evse_uids: Annotated[list[Id39], NullAsEmpty] = Field(default_factory=list)
    connector_ids: Annotated[list[Id36], NullAsEmpty] = Field(default_factory=list)


class Token(OcpiModel):
    uid: Id36
    type: TokenType
    auth_id: Id36
    visual_number: String64 | None = None
    issuer: String64
    valid: bool
    whitelist: WhitelistType
    language: String2 | None = None
    last_updated: DateTime


class TokenPatch(OcpiModel):
    uid: Id36 | None = None
    type: TokenType | None = None
    auth_id: Id36 | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    valid: bool | None = None
    whitelist: WhitelistType | None = None
    language: String2 | None = None
    last_updated: DateTime | None = None


class AuthorizationInfo(OcpiModel):
    allowed: AllowedType
    location: LocationReferences | None = None
    info: DisplayText | None = None
