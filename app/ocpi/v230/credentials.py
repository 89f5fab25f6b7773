"""OCPI 2.3.0 Credentials (spec 2.3.0: credentials.asciidoc).

New since 2.2.1: ``hub_party_id`` ("The two-letter country code and three-character party ID are
concatenated together in this field as one five-character string"), and a hub lists the parties
reachable through it in ``roles`` ("unlike in OCPI 2.2 or 2.2.1"); Role has no HUB value.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from app.ocpi.schemas.common import URL, CiString2, CiString255, PartyId
from app.ocpi.schemas.credentials import CredentialsToken
from app.ocpi.v230.common import Ocpi230Model, Role
from app.ocpi.v230.locations import BusinessDetails

__all__ = ("Credentials", "CredentialsRole")

HubPartyId = Annotated[CiString255, StringConstraints(min_length=5, max_length=5)]


class CredentialsRole(Ocpi230Model):
    role: Role
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CiString2


class Credentials(Ocpi230Model):
    token: CredentialsToken
    url: URL
    hub_party_id: HubPartyId | None = None
    roles: list[CredentialsRole] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[CredentialsRole]) -> list[CredentialsRole]:
        seen: set[tuple[str, str, str]] = set()
        for role in roles:
            key = (role.role.value, role.country_code.upper(), role.party_id.upper())
            if key in seen:
                raise ValueError(f"role {key[0]} {key[1]}*{key[2]} is listed twice")
            seen.add(key)
        return roles
