"""Credentials module (credentials.asciidoc)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, field_validator

from app.ocpi.schemas.common import URL, CountryCode, OcpiModel, PartyId, Role
from app.ocpi.schemas.locations import BusinessDetails


def _check_token(value: str) -> str:
    # "characters with Unicode code points from the range of U+0021 up to and including U+007E"
    if not all(0x21 <= ord(c) <= 0x7E for c in value):
        raise ValueError("a credentials token may only contain printable non-whitespace ASCII")
    return value


CredentialsToken = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_token)
]


class CredentialsRole(OcpiModel):
    role: Role
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(OcpiModel):
    # credentials_example.json and credentials_example2.json (credentials.asciidoc): a CPO, and a
    # platform that is both CPO and eMSP.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2",
                    "url": "https://example.com/ocpi/versions",
                    "roles": [
                        {
                            "role": "CPO",
                            "party_id": "EXA",
                            "country_code": "NL",
                            "business_details": {"name": "Example Operator"},
                        }
                    ],
                },
                {
                    "token": "9e80a9c4-28be-11e9-b210-d663bd873d93",
                    "url": "https://ocpi.example.com/versions",
                    "roles": [
                        {
                            "role": "CPO",
                            "party_id": "EXA",
                            "country_code": "NL",
                            "business_details": {"name": "Example Operator"},
                        },
                        {
                            "role": "EMSP",
                            "party_id": "EXA",
                            "country_code": "NL",
                            "business_details": {"name": "Example Provider"},
                        },
                    ],
                },
            ]
        }
    )

    token: CredentialsToken
    url: URL
    roles: list[CredentialsRole] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[CredentialsRole]) -> list[CredentialsRole]:
        # "Every role needs a unique combination of: role, party_id and country_code."
        seen: set[tuple[str, str, str]] = set()
        for role in roles:
            key = (role.role.value, role.country_code.upper(), role.party_id.upper())
            if key in seen:
                raise ValueError(f"role {key[0]} {key[1]}*{key[2]} is listed twice")
            seen.add(key)
        return roles


__all__ = ("BusinessDetails", "Credentials", "CredentialsRole", "CredentialsToken")
