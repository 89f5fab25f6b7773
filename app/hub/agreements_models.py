"""Tables of roaming agreements: who exchanges with whom (app/hub/agreements.py decides)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.core.dbtypes import JSONDoc, UTCDateTime, utcnow
from app.hub.store.models import OcpiObject

# The condition under which a stored object is a Location that is not published (mod_locations
# "publish": false), per database: the partial index below and the query that reads it
# (app/hub/agreements.py, hidden_locations) use it word for word, so that only those Locations
# are read.
UNPUBLISHED = {
    "sqlite": "json_extract(data, '$.publish') = 0",
    "postgresql": "(data ->> 'publish') = 'false'",
}
# Declared on the store's table from here (the agreements own the reasons for them).
# A GET-all limited to the owners a party has agreements with walks the objects in page order
# and checks each one's owner in the index, without reading the rows it leaves out.
Index(
    "ix_ocpi_object_page_owner",
    OcpiObject.__table__.c.module,  # type: ignore[attr-defined]
    OcpiObject.__table__.c.last_updated,  # type: ignore[attr-defined]
    OcpiObject.__table__.c.id,  # type: ignore[attr-defined]
    OcpiObject.__table__.c.country_code,  # type: ignore[attr-defined]
    OcpiObject.__table__.c.party_id,  # type: ignore[attr-defined]
)
Index(
    "ix_ocpi_object_unpublished",
    OcpiObject.__table__.c.module,  # type: ignore[attr-defined]
    sqlite_where=text(UNPUBLISHED["sqlite"]),
    postgresql_where=text(UNPUBLISHED["postgresql"]),
)


class AgreementState:
    """The life of an agreement. Only ACTIVE lets data flow."""

    PROPOSED = "proposed"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"

    ALL = (PROPOSED, ACTIVE, SUSPENDED, ENDED)


class Agreement(SQLModel, table=True):
    """A roaming agreement between a CPO role and an eMSP-like role (EMSP, NSP, OTHER, SCSP).

    A pair without a row has the hub's default (AGREEMENTS_DEFAULT: ``open`` = active for every
    module, ``closed`` = proposed). Party ids are stored upper-case (CiString).
    """

    __tablename__ = "agreement"
    __table_args__ = (
        UniqueConstraint(
            "cpo_country_code",
            "cpo_party_id",
            "emsp_country_code",
            "emsp_party_id",
            name="uq_agreement_pair",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    cpo_country_code: str = Field(max_length=2)
    cpo_party_id: str = Field(max_length=3)
    emsp_country_code: str = Field(max_length=2, index=True)
    emsp_party_id: str = Field(max_length=3)
    # The modules the agreement covers (app.hub.agreements.MODULES); None: every module.
    modules: list[str] | None = Field(default=None, sa_column=Column(JSONDoc, nullable=True))
    state: str = Field(default=AgreementState.PROPOSED, max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Who made the last change: the admin JWT's subject, or "cli:<user>".
    changed_by: str = Field(default="", max_length=255)
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    suspended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The correlation id of the pushes the last activation queued (its progress is theirs).
    sync_id: str | None = Field(default=None, max_length=64)
    sync_queued: int = Field(default=0)


class AgreementRevision(SQLModel, table=True):
    """One row (id 1) whose ``revision`` grows with every change of any agreement: every
    instance keeps the agreements in memory and reloads them when it sees a new revision."""

    __tablename__ = "agreement_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int = Field(default=0)


class TokenRoute(SQLModel, table=True):
    """Which eMSP answered for a token the hub did not know, when a CPO asked to authorize it
    without naming a receiver (open routing): asked directly the next time."""

    __tablename__ = "token_route"
    __table_args__ = (
        UniqueConstraint(
            "cpo_country_code", "cpo_party_id", "uid", "token_type", name="uq_token_route"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    cpo_country_code: str = Field(max_length=2)
    cpo_party_id: str = Field(max_length=3)
    # Upper-case (CiString).
    uid: str = Field(max_length=36)
    token_type: str = Field(max_length=16)
    emsp_country_code: str = Field(max_length=2)
    emsp_party_id: str = Field(max_length=3)
    learned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
