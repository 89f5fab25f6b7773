"""Local parties: the hub's own CPO (its OCPP chargers) and its payments eMSP.

A party connected to the hub is *remote* (a partner platform, reached over HTTP through the
outbox and the OCPI client) or *local* (a part of the hub itself, reached by a method call). Both
are Platform rows with roles and party ids; a local platform carries the key of its
``LocalParty`` in ``Platform.local``. The hub decides between the two once per request, after it
has found the receiver the way it finds any receiver: ``ctx.local_parties.of(platform)``, like
the OCN node's ``Receiver.LOCAL / Receiver.REMOTE`` decision in its request handler. After that
decision both paths do the same thing: what a remote party's endpoint would do with a request, a
local party's method does, with the same meaning and the same answers.

The hub core knows local parties only through this interface: the OCPP package registers the own
CPO (backed by the CSMS), the payments package the payments eMSP. Nothing in app/hub imports them.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.outbox.service import Push
from app.hub.parties.models import Platform
from app.hub.relay.models import Callback
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.chargingprofiles import ChargingProfileResponse
from app.ocpi.schemas.commands import CommandResponse
from app.ocpi.schemas.common import Role
from app.ocpi.status import OcpiStatus

log = logging.getLogger("voltroam.local")


@dataclass(frozen=True)
class LocalRole:
    """One role a local party plays, under one party id."""

    role: Role
    party: PartyRef


def no_endpoint(party: PartyRef, module: str, interface: str) -> OcpiError:
    """What a request gets from a receiver without that endpoint (``app.hub.forward.call_party``
    says the same of a remote party)."""
    return OcpiError(
        OcpiStatus.UNKNOWN_RECEIVER, f"Receiver {party} has no {module} {interface} endpoint"
    )


class LocalParty(ABC):
    """A party the hub plays itself. The methods are the endpoints a remote party would have;
    each default answers what a remote party without that endpoint gets."""

    #: The value of ``Platform.local`` that marks this party's platform row.
    key: str
    #: The platform's name (business details of its roles).
    name: str

    @abstractmethod
    def roles(self) -> Sequence[LocalRole]:
        """The roles and party ids this party plays (stored as its platform's roles)."""

    def ref(self) -> PartyRef:
        return self.roles()[0].party

    async def receive(self, session: AsyncSession, push: Push) -> None:
        """A push the hub would have queued for a remote party's Receiver (or Sender, for an
        ActiveChargingProfile) endpoint, handed over in the caller's transaction instead of
        becoming an outbox row. ``push.object_ref`` names the stored object. By default nothing
        happens: a remote party without the endpoint is sent nothing either."""
        return None

    async def command(
        self, session: AsyncSession, command: str, request: dict[str, Any], callback: Callback
    ) -> CommandResponse:
        """POST ``commands/{command}`` (``request`` carries the hub's response_url); the result
        follows through ``callback`` (``app.hub.relay.service.relay_result``)."""
        raise no_endpoint(self.ref(), "commands", "RECEIVER")

    async def charging_profile(
        self,
        session: AsyncSession,
        method: str,
        session_id: str,
        params: dict[str, str],
        body: dict[str, Any] | None,
        callback: Callback,
    ) -> ChargingProfileResponse:
        """GET/PUT/DELETE ``chargingprofiles/{session_id}``; the result follows like a
        command's."""
        raise no_endpoint(self.ref(), "chargingprofiles", "RECEIVER")

    async def result(
        self, session: AsyncSession, callback: Callback, module: str, body: dict[str, Any]
    ) -> None:
        """A result for a response_url this party gave (``callback.original_url``): a
        CommandResult, or a TIMEOUT the hub answers itself (the caller commits)."""
        log.info("%s result for %s ignored by %s", module, callback.public_id, self.key)

    async def authorize(
        self,
        session: AsyncSession,
        uid: str,
        token_type: str,
        location: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """POST ``tokens/{uid}/authorize``: the AuthorizationInfo (as JSON) of one of this
        party's tokens."""
        raise no_endpoint(self.ref(), "tokens", "SENDER")


class LocalParties:
    """The registry of the local parties of one running hub (one per HubContext), filled at
    start-up by the packages that implement them."""

    def __init__(self) -> None:
        self._parties: dict[str, LocalParty] = {}

    def register(self, party: LocalParty) -> None:
        self._parties[party.key] = party

    def get(self, key: str) -> LocalParty | None:
        return self._parties.get(key)

    def of(self, platform: Platform) -> LocalParty | None:
        """The local party behind ``platform``; None for a remote platform (reached over HTTP).

        A platform marked local whose party does not run in this process (a command-line tool)
        is answered None as well: it has no endpoints, so a call to it gets the routing error.
        """
        return self._parties.get(platform.local) if platform.local else None
