"""An idTag presented at one of the own chargers (OCPP Authorize, StartTransaction, a 2.0.1
TransactionEvent): the hub's one authorization chain (app/hub/authorization.py) with the own
CPO's policy (it accepts ALWAYS/ALLOWED tokens from the stored whitelist and asks the eMSP in real
time otherwise), after the one step only the CSMS knows: a remote start pending for this idTag."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub import authorization
from app.hub.store import service as store
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.tokens import AllowedType
from app.ocpp import remote as remote_requests
from app.ocpp.identity import BridgeBase
from app.ocpp.locations import evse_uid
from app.ocpp.models import Charger

log = logging.getLogger("voltroam.ocpp.bridge")

# AllowedType -> OCPP AuthorizationStatus (1.6) / AuthorizationStatusEnumType (2.0.1).
STATUS: dict[str, str] = {AllowedType.ALLOWED: "Accepted", AllowedType.BLOCKED: "Blocked"}


@dataclass
class AuthResult:
    """The outcome of authorizing an idTag: the OCPP status and, when accepted, the OCPI token."""

    status: str  # Accepted | Invalid | Blocked | Expired
    cdr_token: dict[str, Any] = field(default_factory=dict)
    auth_method: str = "WHITELIST"
    authorization_reference: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "Accepted"


def cdr_token(token: dict[str, Any]) -> dict[str, Any]:
    return {
        "country_code": token["country_code"],
        "party_id": token["party_id"],
        "uid": token["uid"],
        "type": token["type"],
        "contract_id": token["contract_id"],
    }


def pending_remote_start(charge_point_id: str, id_tag: str) -> authorization.Step:
    """The chain's first step at a charger: a START_SESSION in flight for this idTag carries the
    token the eMSP started it with (authorized by the command itself)."""

    async def step(
        session: AsyncSession, request: authorization.AuthorizationRequest
    ) -> authorization.Authorization | None:
        remote = await remote_requests.find_open(session, charge_point_id, "START_SESSION", id_tag)
        if remote is None or not remote.token:
            return None
        info: dict[str, Any] = {"allowed": AllowedType.ALLOWED, "token": remote.token}
        if remote.authorization_reference:
            info["authorization_reference"] = remote.authorization_reference
        return authorization.Authorization(info, authorization.BY_COMMAND)

    return step


class AuthorizationBridge(BridgeBase):
    async def authorize(
        self, session: AsyncSession, charger: Charger, id_tag: str, evse: int | None = None
    ) -> AuthResult:
        """An idTag presented at a charger: a pending remote start, the whitelist, or the eMSP."""
        rows = await store.find_by_key(session, "tokens", id_tag)
        # An idTag carries no token type: an RFID card's first.
        rows.sort(key=lambda r: r.subtype != "RFID")
        token = rows[0] if rows else None
        location: dict[str, Any] | None = None
        if charger.location_id:
            location = {"location_id": charger.location_id}
            if evse:
                location["evse_uids"] = [evse_uid(charger.charge_point_id, evse)]
        request = authorization.AuthorizationRequest(
            uid=str(token.data["uid"]) if token else id_tag,
            token_type=token.subtype if token else "RFID",
            token=token,
            owner=PartyRef(token.country_code, token.party_id) if token else None,
            location=location,
            requester=self.ref,
        )
        try:
            decided = await authorization.authorize(
                session,
                self.ctx,
                request,
                authorization.OWN_CPO,
                first=[pending_remote_start(charger.charge_point_id, id_tag)],
            )
        except OcpiError as exc:
            log.info("authorization of %s failed: %s", id_tag, exc.message)
            return AuthResult("Invalid")
        status = STATUS.get(decided.allowed or "", "Invalid")
        if status != "Accepted":
            return AuthResult(status)
        # The token the Session and CDR name: the command's, else the stored one.
        if decided.by == authorization.BY_COMMAND:
            shown = decided.info["token"]
        else:
            assert token is not None  # without one the chain has nobody to ask
            shown = token.data
        return AuthResult(
            status, cdr_token(shown), decided.by, decided.info.get("authorization_reference")
        )
