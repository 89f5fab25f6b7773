"""Ad hoc payments: one row per driver payment, its durable jobs, and the webhook events seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.dbtypes import JSONDoc, UTCDateTime, utcnow


class PaymentStatus:
    """Where a payment is on the driver's path (each step only moves forward)."""

    CREATED = "created"  # Checkout Session created, the driver has not paid yet
    AUTHORIZED = "authorized"  # the hold is in place (PaymentIntent requires_capture)
    STARTING = "starting"  # START_SESSION sent
    CHARGING = "charging"  # the CPO reported the Session
    STOPPING = "stopping"  # STOP_SESSION sent (by the driver or because the hold was reached)
    AWAITING_CDR = "awaiting_cdr"  # the Session ended; the price comes with the CDR
    CAPTURING = "capturing"  # the CDR arrived; capture (or cancel) is queued
    CAPTURED = "captured"  # money taken (amount_captured)
    CANCELED = "canceled"  # hold released, nothing taken (price zero, start failed, expired)
    FAILED = "failed"  # the provider refused; an admin must look

    FINAL = (CAPTURED, CANCELED, FAILED)
    # Charging may still be going on: the status page refreshes and offers the stop button.
    LIVE = (AUTHORIZED, STARTING, CHARGING, STOPPING)


class Payment(SQLModel, table=True):
    """A driver's ad hoc payment at one EVSE, from checkout to capture.

    ``public_id`` is the driver's handle (the status and receipt pages): unguessable, it is the
    only thing that gives access to the payment without an admin JWT. Amounts are integers in the
    currency's minor units, as the payment provider takes them.
    """

    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_status", "status"),
        Index("ix_payment_token", "token_uid"),
        Index("ix_payment_checkout", "checkout_id"),
        Index("ix_payment_intent", "payment_intent_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=48, unique=True, index=True)
    provider: str = Field(max_length=16)  # "stripe" | "local"
    status: str = Field(default=PaymentStatus.CREATED, max_length=16)
    # Where: the CPO that owns the EVSE, its Location, EVSE and connector.
    cpo_country_code: str = Field(max_length=2)
    cpo_party_id: str = Field(max_length=3)
    location_id: str = Field(max_length=36)
    evse_uid: str = Field(max_length=36)
    connector_id: str = Field(max_length=36)
    # The tariff the driver was shown on the pay page and agreed to, kept as it was then: the
    # capture and the receipt price the CDR's charging periods with this copy, so a later update
    # of the tariff does not change the price agreed (mod_tariffs, NOTE on start_date_time).
    tariff_id: str | None = Field(default=None, max_length=36)
    tariff_last_updated: datetime | None = Field(default=None, sa_type=UTCDateTime)
    tariff_snapshot: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONDoc, nullable=True)
    )
    currency: str = Field(max_length=3)
    hold_amount: int
    # Provider handles.
    checkout_id: str | None = Field(default=None, max_length=255)
    checkout_url: str | None = Field(default=None, max_length=2048)
    payment_intent_id: str | None = Field(default=None, max_length=255)
    amount_capturable: int = 0
    # The single-use AD_HOC_USER token the hub's eMSP issued for this payment.
    token_uid: str = Field(max_length=36)
    # What the CPO reported.
    session_id: str | None = Field(default=None, max_length=36)
    cdr_id: str | None = Field(default=None, max_length=39)
    # What the driver pays (minor units, incl. VAT): the shown tariff's price of the CDR's
    # charging periods; the CDR's own total_cost as the CPO sent it; what was taken, what could
    # not be taken.
    price: int | None = None
    cpo_price: int | None = None
    amount_captured: int = 0
    amount_refunded: int = 0
    shortfall: int = 0
    # A line for admins and the driver when something went wrong.
    note: str | None = Field(default=None, max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    authorized_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the card's hold runs out (the provider's capture_before, else the settings' guess):
    # the hub stops and captures before then (app/payments/long_sessions.py).
    hold_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class JobKind:
    START = "start"  # START_SESSION (OCPP remote start for the own chargers)
    STOP = "stop"
    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"
    CONFIRM = "confirm"  # ask the provider whether the hold is in place
    TRANSFER = "transfer"  # the CPO's share to its Stripe Connect account
    TRANSFER_REVERSAL = "reverse_transfer"  # a refund takes back the CPO's share of it


class JobStatus:
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class PaymentJob(SQLModel, table=True):
    """Work on a payment that must happen exactly once, whatever crashes in between.

    Written in the same transaction as the fact that calls for it (a CDR stored, a webhook
    received); ``idempotency_key`` is sent to the provider, so a retry after a crash between the
    provider's answer and our commit is answered with the first result, not done twice.
    """

    __tablename__ = "payment_job"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_payment_job_key"),
        Index("ix_payment_job_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(index=True)
    kind: str = Field(max_length=16)
    idempotency_key: str = Field(max_length=128)
    amount: int | None = None
    reason: str | None = Field(default=None, max_length=255)
    status: str = Field(default=JobStatus.PENDING, max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDoc, nullable=False))
    last_error: str | None = Field(default=None, max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PaymentEvent(SQLModel, table=True):
    """A provider webhook event already processed: each event id is acted on once."""

    __tablename__ = "payment_event"

    event_id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CpoPayout(SQLModel, table=True):
    """An admin's payout terms for one partner CPO: its own hub fee instead of the settings'
    (PAYOUT_FEE_PERCENT, PAYOUT_FEE_FIXED), and its Stripe Connect account when the hub pays it
    through Stripe. No row: the settings' fee, the ledger alone."""

    __tablename__ = "cpo_payout"
    __table_args__ = (UniqueConstraint("country_code", "party_id", name="uq_cpo_payout_party"),)

    id: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    # A percentage as decimal text ("2.5"); None: PAYOUT_FEE_PERCENT.
    fee_percent: str | None = Field(default=None, max_length=16)
    # Fixed fee per session per currency, major units ("EUR=0.30"); None: PAYOUT_FEE_FIXED.
    fee_fixed: str | None = Field(default=None, max_length=255)
    # A Stripe Connect connected account ("acct_..."): the CPO's share is transferred there.
    connect_account_id: str | None = Field(default=None, max_length=255)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LedgerAccount:
    """The hub's books for ad hoc payments (debits positive, credits negative; every journal
    sums to zero)."""

    CASH = "cash"  # the hub's balance at the payment provider
    FEES = "fees"  # the hub's income: its fee, or the whole price at its own chargers
    CPO = "cpo"  # owed to the payment's CPO (a credit balance: the hub owes it)


class LedgerKind:
    CAPTURE = "capture"
    REFUND = "refund"
    TRANSFER = "transfer"
    TRANSFER_REVERSAL = "transfer_reversal"


class LedgerEntry(SQLModel, table=True):
    """One line of a journal: a capture, a refund, a transfer to the CPO or its reversal.

    A journal is written once, in the same transaction as the outcome it books (the job that
    captured, refunded or transferred turns DONE in it); ``(journal, account)`` is unique, so a
    replayed outcome cannot book twice. Amounts are integers in the currency's minor units.
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("journal", "account", name="uq_ledger_entry_journal_account"),
        Index("ix_ledger_entry_cpo", "cpo_country_code", "cpo_party_id", "booked_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    journal: str = Field(max_length=160)
    kind: str = Field(max_length=20)
    account: str = Field(max_length=16)
    payment_id: int = Field(index=True)
    cpo_country_code: str = Field(max_length=2)
    cpo_party_id: str = Field(max_length=3)
    currency: str = Field(max_length=3)
    amount: int
    # The provider's id of what was booked (a refund, a transfer, a transfer reversal).
    reference: str | None = Field(default=None, max_length=255)
    booked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InvoiceCounter(SQLModel, table=True):
    """The last number an issuer gave: updated in the transaction that issues a document, so a
    document that is not committed gives its number back (no gaps), and two captures at once
    queue on the row (PostgreSQL's row lock) instead of taking one number twice."""

    __tablename__ = "invoice_counter"

    issuer: str = Field(primary_key=True, max_length=32)
    last_number: int = 0


class InvoiceKind:
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class Invoice(SQLModel, table=True):
    """An invoice for a captured payment, or a credit note for a refund, as issued: what it
    says never changes. Amounts in minor units; ``vat_lines`` per rate:
    ``[{"rate": "21", "net": 700, "vat": 147, "gross": 847}]``."""

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("issuer", "number", name="uq_invoice_issuer_number"),
        UniqueConstraint("source", name="uq_invoice_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=32)
    number: int
    document_number: str = Field(max_length=48, index=True)
    kind: str = Field(max_length=16)
    payment_id: int = Field(index=True)
    # The job whose outcome it documents (the capture's or the refund's key): one document each.
    source: str = Field(max_length=160)
    # A credit note's invoice.
    references_id: int | None = Field(default=None)
    currency: str = Field(max_length=3)
    total: int  # incl. VAT; negative for a credit note
    vat_lines: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONDoc, nullable=False)
    )
    # The seller, the supply (location, EVSE, period) and the lines in words, as issued.
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDoc, nullable=False))
    supply_date: str = Field(max_length=10)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
