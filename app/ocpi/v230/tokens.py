"""OCPI 2.3.0 Tokens module objects (spec 2.3.0: mod_tokens.asciidoc).

As 2.2.1, except that TokenType is an OpenEnum with the new known value EMAID ("The eMSP is
RECOMMENDED to not push Tokens with type EMAID at all").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from app.ocpi.schemas.common import (
    CiString36,
    CountryCode,
    DateTime,
    NullAsEmpty,
    PartyId,
    String2,
    String64,
)
from app.ocpi.schemas.tokens import AllowedType, ProfileType, WhitelistType
from app.ocpi.v230.common import DisplayText, Ocpi230Model, OpenEnum

__all__ = (
    "AuthorizationInfo",
    "EnergyContract",
    "LocationReferences",
    "Token",
    "TokenPatch",
    "TokenType",
)


class TokenType(StrEnum):
    """The TokenType value that 2.3.0 adds to 2.2.1's."""

    EMAID = "EMAID"


class EnergyContract(Ocpi230Model):
    supplier_name: String64
    contract_id: String64 | None = None


class LocationReferences(Ocpi230Model):
    location_id: CiString36
    evse_uids: Annotated[list[CiString36], NullAsEmpty] = Field(default_factory=list)


class Token(Ocpi230Model):
    country_code: CountryCode
    party_id: PartyId
    uid: CiString36
    type: OpenEnum
    contract_id: CiString36
    visual_number: String64 | None = None
    issuer: String64
    group_id: CiString36 | None = None
    valid: bool
    whitelist: WhitelistType
    language: String2 | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class TokenPatch(Ocpi230Model):
    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    uid: CiString36 | None = None
    type: OpenEnum | None = None
    contract_id: CiString36 | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    group_id: CiString36 | None = None
    valid: bool | None = None
    whitelist: WhitelistType | None = None
    language: String2 | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class AuthorizationInfo(Ocpi230Model):
    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString36 | None = None
    info: DisplayText | None = None
