"""OCPI 2.3.0 HubClientInfo module objects (spec 2.3.0: mod_hub_client_info.asciidoc).

As 2.2.1, but ``role`` is the 2.3.0 Role enum, which has no HUB.
"""

from __future__ import annotations

from app.ocpi.schemas.common import CountryCode, DateTime, PartyId
from app.ocpi.schemas.hubclientinfo import ConnectionStatus
from app.ocpi.v230.common import Ocpi230Model, Role

__all__ = ("ClientInfo",)


class ClientInfo(Ocpi230Model):
    party_id: PartyId
    country_code: CountryCode
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
