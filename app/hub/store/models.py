"""The objects the hub stores and forwards: one table for every client-owned OCPI object."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.dbtypes import JSONDoc, UTCDateTime, utcnow


class OcpiObject(SQLModel, table=True):
    """A Location (with its EVSEs and Connectors), Tariff, Token, Session or CDR.

    ``data`` is the object as its owner sent it (JSON), so the hub returns exactly what it got and
    never changes ``last_updated`` ("Timestamps and Objects send via Hubs"). Keys are CiStrings,
    stored upper-case so that lookups are case-insensitive.
    """

    __tablename__ = "ocpi_object"
    __table_args__ = (
        UniqueConstraint(
            "module", "country_code", "party_id", "object_key", "subtype", name="uq_ocpi_object"
        ),
        Index("ix_ocpi_object_module_updated", "module", "last_updated", "id"),
        Index("ix_ocpi_object_recipient", "module", "recipient_country_code", "recipient_party_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    module: str = Field(max_length=16)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    object_key: str = Field(max_length=64)
    # Token type for Tokens ("uid and type should be unique"); empty for the other modules.
    subtype: str = Field(default="", max_length=16)
    owner_platform_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("platform.id", ondelete="SET NULL"), nullable=True),
    )
    # Sessions and CDRs: the eMSP that owns the token (cdr_token.country_code/party_id).
    recipient_country_code: str | None = Field(default=None, max_length=2)
    recipient_party_id: str | None = Field(default=None, max_length=3)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDoc, nullable=False))
    # What 2.2.1 cannot carry but a 2.3.0 sender gave (app/ocpi/ext.py): 2.3.0 receivers get it
    # back (app/hub/edge.py). None for an object that has nothing more.
    ext: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDoc, nullable=True))
    last_updated: datetime = Field(sa_type=UTCDateTime)
    # When the hub stored this version (hub clock): what an offline party missed is found by it.
    stored_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
