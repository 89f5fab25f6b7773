"""OCPI 2.2.1 Tokens module objects (spec: mod_tokens.asciidoc).

``ProfileType`` is specified in the Sessions module (mod_sessions.asciidoc, "ProfileType enum") but
is defined here: ``Token.default_profile_type`` needs it, and importing it from ``sessions`` would
close the import cycle sessions -> cdrs -> tokens -> sessions. ``sessions`` re-exports it, so
``from app.ocpi.schemas.sessions import ProfileType`` works and names the same class.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field
from pydantic.json_schema import JsonDict

from app.ocpi.schemas.common import (
    CiString36,
    CountryCode,
    DateTime,
    DisplayText,
    NullAsEmpty,
    ObjectId36,
    OcpiModel,
    PartyId,
    String2,
    String64,
)

__all__ = (
    "TOKEN_EXAMPLE",
    "AllowedType",
    "AuthorizationInfo",
    "EnergyContract",
    "LocationReferences",
    "ProfileType",
    "Token",
    "TokenPatch",
    "TokenType",
    "WhitelistType",
)


class AllowedType(StrEnum):
    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class TokenType(StrEnum):
    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(StrEnum):
    """When authorization of a Token by the CPO is allowed.

    "The validity of a Token has no influence on this." (mod_tokens, WhitelistType enum)
    """

    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class ProfileType(StrEnum):
    """Smart charging profile types (spec: mod_sessions.asciidoc, ProfileType enum)."""

    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class EnergyContract(OcpiModel):
    supplier_name: String64
    contract_id: String64 | None = None


# token_put_example.json (mod_tokens.asciidoc): an RFID card of the eMSP NL*TNM.
TOKEN_EXAMPLE: JsonDict = {
    "country_code": "NL",
    "party_id": "TNM",
    "uid": "012345678",
    "type": "RFID",
    "contract_id": "NL8ACC12E46L89",
    "visual_number": "DF000-2001-8999-1",
    "issuer": "TheNewMotion",
    "group_id": "DF000-2001-8999",
    "valid": True,
    "whitelist": "ALWAYS",
    "last_updated": "2015-06-29T22:39:09Z",
}


class LocationReferences(OcpiModel):
    """Body of the real-time authorization POST (``?`` there) and part of AuthorizationInfo."""

    # The driver presents the token at EVSE 3256 of Location LOC1.
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"location_id": "LOC1", "evse_uids": ["3256"]}]}
    )

    location_id: CiString36
    evse_uids: Annotated[list[CiString36], NullAsEmpty] = Field(default_factory=list)


class Token(OcpiModel):
    """A Token. "The combination of uid and type should be unique for every token within the
    eMSP's system." (mod_tokens, Token Object)"""

    model_config = ConfigDict(json_schema_extra={"examples": [TOKEN_EXAMPLE]})

    country_code: CountryCode
    party_id: PartyId
    uid: ObjectId36
    type: TokenType
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


class TokenPatch(OcpiModel):
    """Body of a Token PATCH: only the fields to change, but "Any request to the PATCH method SHALL
    contain the last_updated field." (mod_tokens, PATCH Method)"""

    # token_patch_example.json: invalidate the Token.
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"valid": False, "last_updated": "2019-06-19T02:11:11Z"}]}
    )

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    uid: ObjectId36 | None = None
    type: TokenType | None = None
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


class AuthorizationInfo(OcpiModel):
    """Response data of a real-time authorization (POST .../tokens/{token_uid}/authorize)."""

    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString36 | None = None
    info: DisplayText | None = None
