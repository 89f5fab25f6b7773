"""Tables of the platforms connected to the hub and their roles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, ForeignKeyConstraint, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.dbtypes import JSONDoc, UTCDateTime, utcnow


class ConnectionStatus:
    """mod_hub_client_info ConnectionStatus."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class Platform(SQLModel, table=True):
    """One OCPI connection: a partner platform with one or more roles."""

    __tablename__ = "platform"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    # ConnectionStatus of mod_hub_client_info: CONNECTED, OFFLINE, PLANNED, SUSPENDED.
    status: str = Field(default="PLANNED", max_length=16)
    # True once the credentials handshake completed (and until the platform unregisters).
    registered: bool = Field(default=False)
    # "party" when the partner POSTed to us with our token A, "hub" when we connected to it,
    # "own" for a party the hub plays itself.
    initiated_by: str = Field(default="party", max_length=8)
    # A party the hub plays itself (app/hub/local.py): the key of its LocalParty ("cpo": the
    # own CPO, "payments": the payments eMSP); None for a partner reached over HTTP.
    local: str | None = Field(default=None, max_length=16, unique=True, index=True)
    versions_url: str | None = Field(default=None, max_length=255)
    # The OCPI version agreed with the partner (2.1.1, 2.2.1 or 2.3.0): what it is sent in.
    version: str | None = Field(default=None, max_length=16)
    # What a 2.1.1 partner's credentials and messages do not say, declared by the admin who
    # invites or connects it: its role (CPO or EMSP), the IANA time zone of its Locations and the
    # VAT percentage of its tariff prices (app/ocpi/TRANSLATION.md, "Context per partner").
    declared_role: str | None = Field(default=None, max_length=8)
    time_zone: str | None = Field(default=None, max_length=64)
    vat: str | None = Field(default=None, max_length=16)
    # The partner's 2.2.1 endpoints: [{"identifier", "role", "url"}].
    endpoints: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONDoc, nullable=False)
    )
    # What the partner presents to us: SHA-256 of token A (an invitation) or of token C.
    inbound_token_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    inbound_token_kind: str | None = Field(default=None, max_length=1)
    inbound_token_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What we present to the partner (its token B or C), encrypted with the secret key.
    outbound_token: str | None = Field(default=None, max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when the platform goes OFFLINE: what changed since is resent when it is back.
    offline_since: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlatformParty(SQLModel, table=True):
    """A (country_code, party_id) and the one platform that holds it, whatever its roles there.

    "The combination of country_code and party_id should always be unique" (credentials.asciidoc,
    Credentials object): the hub routes by it, so it must name one platform. The unique key makes
    it hold in the database (of two registrations racing for one party id, one fails), and every
    PlatformRole points here with its own platform id, so no role can name a party id another
    platform holds. One platform may hold CPO and eMSP roles under the same party id.
    """

    __tablename__ = "platform_party"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", name="uq_platform_party"),
        # The target of PlatformRole's foreign key (platform, party id).
        UniqueConstraint(
            "platform_id", "country_code", "party_id", name="uq_platform_party_platform"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(
        sa_column=Column(Integer, ForeignKey("platform.id", ondelete="CASCADE"), nullable=False)
    )
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)


class PlatformRole(SQLModel, table=True):
    """A CredentialsRole of a platform. country_code/party_id are stored upper-case (CiString)."""

    __tablename__ = "platform_role"
    __table_args__ = (
        UniqueConstraint("role", "country_code", "party_id", name="uq_platform_role_party"),
        ForeignKeyConstraint(
            ["platform_id", "country_code", "party_id"],
            [
                "platform_party.platform_id",
                "platform_party.country_code",
                "platform_party.party_id",
            ],
            name="fk_platform_role_party",
            ondelete="CASCADE",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("platform.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    role: str = Field(max_length=8)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    business_details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONDoc, nullable=False)
    )


def endpoint_url(platform: Platform, identifier: str, role: str | None = None) -> str | None:
    """The platform's advertised URL for a module (and interface role)."""
    for ep in platform.endpoints or []:
        if ep.get("identifier") != identifier:
            continue
        # "disregard the value of the role property of the Endpoint object for other platforms'
        # credentials modules"
        if role is None or identifier == "credentials" or ep.get("role") == role:
            return str(ep.get("url"))
    return None
