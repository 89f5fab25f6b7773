"""The bridge: what chargers do, written as OCPI objects of the hub's own CPO.

Every write goes through app/hub/store/push.store_and_announce with the own CPO's Caller, and EVSE
statuses through app/modules/locations/service.apply_patch, exactly as an external CPO's pushes
of the same objects would: eMSPs receive the same Location PATCHes, Session PUT/PATCHes and CDR
POSTs. Its three parts: Locations and Tariffs (app/ocpp/locations.py), authorization of idTags
(app/ocpp/authorization.py), transactions, Sessions and CDRs (app/ocpp/transactions.py).
"""

from __future__ import annotations

from app.ocpp.authorization import AuthorizationBridge, AuthResult
from app.ocpp.locations import LocationBridge
from app.ocpp.transactions import Sample, TransactionBridge, energy_samples

__all__ = ("AuthResult", "Bridge", "Sample", "energy_samples")


class Bridge(LocationBridge, AuthorizationBridge, TransactionBridge):
    """The own CPO's writer, one per CSMS (and per admin call)."""
