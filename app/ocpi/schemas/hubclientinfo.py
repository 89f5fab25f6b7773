"""OCPI 2.2.1 HubClientInfo module objects (spec: mod_hub_client_info.asciidoc)."""

from __future__ import annotations

from enum import StrEnum

from app.ocpi.schemas.common import CountryCode, DateTime, OcpiModel, PartyId, Role

__all__ = ("ClientInfo", "ConnectionStatus")


class ConnectionStatus(StrEnum):
    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class ClientInfo(OcpiModel):
    """A party connected to the Hub, with ``party_id``/``country_code`` "as used in the
    credentials exchange"."""

    party_id: PartyId
    country_code: CountryCode
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
