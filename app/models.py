"""Every table of the hub, imported in one place for Alembic and the schema check."""

from app.hub.agreements_models import Agreement, AgreementRevision, TokenRoute
from app.hub.cluster.models import HubFact, HubInstance, HubLease
from app.hub.directory.models import PartiesVersion
from app.hub.outbox.models import Delivery
from app.hub.parties.models import Platform, PlatformParty, PlatformRole
from app.hub.relay.models import Callback
from app.hub.store.evse_index import EvseIndex
from app.hub.store.models import OcpiObject
from app.hub.syncs.models import SyncJob
from app.ocpp.models import Charger, OcppTransaction, OwnLocation, RemoteRequest
from app.payments.models import (
    CpoPayout,
    Invoice,
    InvoiceCounter,
    LedgerEntry,
    Payment,
    PaymentEvent,
    PaymentJob,
)
from app.payments.provider import LocalIntent

__all__ = [
    "Agreement",
    "AgreementRevision",
    "Callback",
    "Charger",
    "CpoPayout",
    "Delivery",
    "EvseIndex",
    "HubFact",
    "HubInstance",
    "HubLease",
    "Invoice",
    "InvoiceCounter",
    "LedgerEntry",
    "LocalIntent",
    "OcpiObject",
    "OcppTransaction",
    "OwnLocation",
    "PartiesVersion",
    "Payment",
    "PaymentEvent",
    "PaymentJob",
    "Platform",
    "PlatformParty",
    "PlatformRole",
    "RemoteRequest",
    "SyncJob",
    "TokenRoute",
]
