"""Tables of the CSMS: registered chargers, OCPP transactions, remote requests in flight."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.dbtypes import JSONDoc, UTCDateTime, utcnow


class Charger(SQLModel, table=True):
    """A charge point allowed to connect to ``/ocpp/{charge_point_id}``."""

    __tablename__ = "ocpp_charger"

    id: int | None = Field(default=None, primary_key=True)
    charge_point_id: str = Field(max_length=64, unique=True, index=True)
    # scrypt hash of the HTTP Basic password (security profiles 1 and 2); None: no password.
    password_hash: str | None = Field(default=None, max_length=256)
    # The OCPI Location (of the hub's own CPO) the charger's EVSEs belong to.
    location_id: str | None = Field(default=None, max_length=36, index=True)
    # How many EVSEs (1.6: connectors) the admin declared; more appear when the charger reports them.
    evse_count: int = Field(default=1)
    # The OCPI Connector fields of its connectors (standard, format, power_type, max_voltage, ...).
    connector: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONDoc, nullable=False)
    )
    ocpp_version: str | None = Field(default=None, max_length=8)
    vendor: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=64)
    serial_number: str | None = Field(default=None, max_length=64)
    firmware_version: str | None = Field(default=None, max_length=64)
    connected: bool = Field(default=False)
    connected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The hub instance whose WebSocket holds the charger (valid while that instance's lease is).
    instance_id: str | None = Field(default=None, max_length=32, index=True)
    # Last OCPI status reported per EVSE uid: restored when the charger is back after a drop.
    statuses: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONDoc, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TransactionStatus:
    ACTIVE = "active"
    COMPLETED = "completed"


class OcppTransaction(SQLModel, table=True):
    """One OCPP transaction and the OCPI Session/CDR it became.

    The row is the idempotency record: a repeated StartTransaction finds it by ``start_key``, a
    late 2.0.1 TransactionEvent by (charger, ``ocpp_tx_id``), and a hub restarted mid-session
    carries on from it.
    """

    __tablename__ = "ocpp_transaction"
    __table_args__ = (
        UniqueConstraint("charge_point_id", "ocpp_tx_id", name="uq_ocpp_tx"),
        UniqueConstraint("charge_point_id", "start_key", name="uq_ocpp_tx_start"),
        Index("ix_ocpp_tx_session", "session_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    charge_point_id: str = Field(max_length=64, index=True)
    # 1.6: str(id) (the transactionId handed to the charger); 2.0.1: the charger's transactionId.
    ocpp_tx_id: str = Field(max_length=64)
    # What identifies a repeated start: connector, idTag and the charger's timestamp.
    start_key: str = Field(max_length=160)
    evse_id: int = Field(default=1)
    connector_id: int = Field(default=1)
    id_tag: str = Field(max_length=64)
    # OCPI side.
    session_id: str = Field(max_length=36)
    location_id: str = Field(max_length=36)
    evse_uid: str = Field(max_length=36)
    cdr_token: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONDoc, nullable=False)
    )
    auth_method: str = Field(default="WHITELIST", max_length=16)
    authorization_reference: str | None = Field(default=None, max_length=36)
    status: str = Field(default=TransactionStatus.ACTIVE, max_length=12)
    started_at: datetime = Field(sa_type=UTCDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stop_reason: str | None = Field(default=None, max_length=32)
    meter_start_wh: float = Field(default=0)
    meter_last_wh: float = Field(default=0)
    meter_last_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Charging periods closed so far (OCPI ChargingPeriod JSON), and how many the Session has.
    periods: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONDoc, nullable=False)
    )
    periods_sent: int = Field(default=0)
    period_start_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    period_start_wh: float = Field(default=0)
    last_session_push_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # 2.0.1: highest seqNo seen (events at or below it are repeats).
    seq_no: int = Field(default=-1)
    cdr_id: str | None = Field(default=None, max_length=39)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RemoteRequest(SQLModel, table=True):
    """An OCPI command sent to a charger whose outcome comes later (a transaction starting or
    ending), or a reservation whose OCPP id maps back to the OCPI reservation_id."""

    __tablename__ = "ocpp_remote_request"
    __table_args__ = (Index("ix_ocpp_remote_open", "charge_point_id", "kind", "open"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)  # START_SESSION, STOP_SESSION, RESERVE_NOW
    charge_point_id: str = Field(max_length=64)
    evse_id: int = Field(default=1)
    id_tag: str | None = Field(default=None, max_length=64)
    # START_SESSION: the OCPI Token the eMSP sent (becomes the Session's cdr_token).
    token: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDoc, nullable=False))
    authorization_reference: str | None = Field(default=None, max_length=36)
    # RESERVE_NOW: the OCPI reservation id; STOP_SESSION: the OCPI session id.
    subject: str | None = Field(default=None, max_length=64, index=True)
    # The hub's relay callback (public id) the CommandResult goes to.
    callback_id: str | None = Field(default=None, max_length=64)
    open: bool = Field(default=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OwnLocation(SQLModel, table=True):
    """What the admin said about a Location of the hub's own CPO that OCPI does not keep
    elsewhere: the tariffs of its connectors (also given to EVSEs that appear later)."""

    __tablename__ = "ocpp_location"

    location_id: str = Field(primary_key=True, max_length=36)
    tariff_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONDoc, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
