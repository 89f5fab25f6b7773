"""The own CPO's Locations, EVSEs and Tariffs, from what the admin describes and what chargers
report: written through the same store-and-announce path as any CPO's pushes."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.auth import Caller
from app.hub.store import push
from app.hub.store import service as store
from app.modules.locations import service as locations
from app.modules.locations.service import Address
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.common import format_datetime, parse_datetime
from app.ocpi.schemas.tariffs import Tariff
from app.ocpp.identity import BridgeBase, own_caller
from app.ocpp.models import (
    Charger,
    OwnLocation,
)

log = logging.getLogger("voltroam.ocpp.bridge")

DEFAULT_CONNECTOR: dict[str, Any] = {
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 32,
}


def evse_uid(charge_point_id: str, number: int) -> str:
    return f"{charge_point_id}-{number}"


def evse_id(ref: PartyRef, charge_point_id: str, number: int) -> str:
    clean = re.sub(r"[^A-Za-z0-9]", "", charge_point_id).upper() or "CP"
    return f"{ref.country_code}*{ref.party_id}*E{clean}*{number}"


def stamp() -> str:
    return format_datetime(utcnow())


class LocationBridge(BridgeBase):
    def evse_numbers(self, charger: Charger) -> range:
        """The charger's EVSE numbers (bounded: a row written before OCPP_MAX_EVSES existed may
        hold any count a charger reported)."""
        return range(1, min(max(charger.evse_count, 1), self.settings.ocpp_max_evses) + 1)

    def _evse(
        self, charger: Charger, number: int, tariff_ids: list[str], status: str, when: str
    ) -> dict[str, Any]:
        connector = {**DEFAULT_CONNECTOR, **(charger.connector or {})}
        connector.update({"id": "1", "last_updated": when})
        if tariff_ids:
            connector["tariff_ids"] = tariff_ids
        return {
            "uid": evse_uid(charger.charge_point_id, number),
            "evse_id": evse_id(self.ref, charger.charge_point_id, number),
            "status": status,
            "connectors": [connector],
            "last_updated": when,
        }

    async def _write_location(
        self,
        session: AsyncSession,
        caller: Caller,
        location_id: str,
        document: dict[str, Any],
        *,
        method: str,
        address: Address,
        body: dict[str, Any],
        existing: Any,
    ) -> None:
        segments = [str(document["id"]), *address.segments()[1:]]
        await push.store_and_announce(
            session,
            self.ctx,
            caller,
            push.Target("locations", self.ref, location_id),
            data=document,
            last_updated=parse_datetime(document["last_updated"]),
            method=method,
            path=push.url_path(self.ref.country_code, self.ref.party_id, *segments),
            body=body,
            full=method == "PUT" and address.evse_uid is None,
            existing=existing,
        )

    async def put_location(
        self, session: AsyncSession, spec: dict[str, Any], tariff_ids: list[str]
    ) -> dict[str, Any]:
        """Create or replace a Location from the admin's description and its chargers."""
        caller = await own_caller(session, self.settings)
        location_id = str(spec["id"])
        own = await session.get(OwnLocation, location_id)
        if own is None:
            own = OwnLocation(location_id=location_id)
        own.tariff_ids = list(tariff_ids)
        session.add(own)
        when = stamp()
        chargers = (
            await session.exec(
                select(Charger)
                .where(Charger.location_id == location_id)
                .order_by(col(Charger.charge_point_id))
            )
        ).all()
        existing = await store.get(session, "locations", self.ref, location_id)
        evses = self._evses_for(chargers, tariff_ids, when)
        document = {
            **spec,
            "country_code": self.ref.country_code,
            "party_id": self.ref.party_id,
            "publish": spec.get("publish", True),
            "evses": evses,
            "last_updated": when,
        }
        document = locations.validate_location(document)
        await self._write_location(
            session, caller, location_id, document, method="PUT", address=Address(location_id),
            body=document, existing=existing,
        )  # fmt: skip
        return document

    def _evses_for(self, chargers: Any, tariff_ids: list[str], when: str) -> list[dict[str, Any]]:
        evses = []
        for charger in chargers:
            for number in self.evse_numbers(charger):
                uid = evse_uid(charger.charge_point_id, number)
                status = self._shown_status(charger, uid)
                evses.append(self._evse(charger, number, tariff_ids, status, when))
        return evses

    @staticmethod
    def _shown_status(charger: Charger, uid: str) -> str:
        if not charger.connected:
            return "UNKNOWN"
        return str((charger.statuses or {}).get(uid, "UNKNOWN"))

    async def refresh_location(self, session: AsyncSession, location_id: str) -> None:
        """Rebuild a Location's EVSEs after chargers were attached or detached."""
        existing = await store.get(session, "locations", self.ref, location_id)
        if existing is None:
            return
        own = await session.get(OwnLocation, location_id)
        spec = {k: v for k, v in existing.data.items() if k not in ("evses", "last_updated")}
        await self.put_location(session, spec, own.tariff_ids if own else [])

    async def set_evse_status(
        self, session: AsyncSession, charger: Charger, number: int, status: str
    ) -> None:
        """A StatusNotification: remember it, and PATCH the EVSE when its OCPI status changes."""
        uid = evse_uid(charger.charge_point_id, number)
        statuses = dict(charger.statuses or {})
        statuses[uid] = status
        charger.statuses = statuses
        session.add(charger)
        if charger.location_id is None:
            await session.commit()
            return
        caller = await own_caller(session, self.settings)
        existing = await store.get(session, "locations", self.ref, charger.location_id)
        if existing is None:
            await session.commit()
            return
        try:
            current = locations.select(existing.data, Address(charger.location_id, uid))
        except OcpiError:
            # An EVSE the admin did not declare: the charger reported it, so it exists.
            own = await session.get(OwnLocation, charger.location_id)
            when = stamp()
            evse = self._evse(charger, number, own.tariff_ids if own else [], status, when)
            address = Address(charger.location_id, uid)
            document = locations.apply_put(existing.data, address, evse)
            if number > charger.evse_count:
                charger.evse_count = number
                session.add(charger)
            await self._write_location(
                session, caller, charger.location_id, document, method="PUT", address=address,
                body=evse, existing=existing,
            )  # fmt: skip
            return
        if current.get("status") == status:
            await session.commit()
            return
        patch = {"status": status, "last_updated": stamp()}
        address = Address(charger.location_id, uid)
        document = locations.apply_patch(existing.data, address, patch)
        await self._write_location(
            session, caller, charger.location_id, document, method="PATCH", address=address,
            body=patch, existing=existing,
        )  # fmt: skip

    async def show_charger(self, session: AsyncSession, charger: Charger) -> None:
        """PATCH every EVSE of a charger to what it should show now (UNKNOWN when it is gone,
        its last reported status when it is back)."""
        if charger.location_id is None:
            return
        existing = await store.get(session, "locations", self.ref, charger.location_id)
        if existing is None:
            return
        caller = await own_caller(session, self.settings)
        for number in self.evse_numbers(charger):
            uid = evse_uid(charger.charge_point_id, number)
            address = Address(charger.location_id, uid)
            try:
                current = locations.select(existing.data, address)
            except OcpiError:
                continue
            status = self._shown_status(charger, uid)
            if current.get("status") == status:
                continue
            patch = {"status": status, "last_updated": stamp()}
            document = locations.apply_patch(existing.data, address, patch)
            await self._write_location(
                session, caller, charger.location_id, document, method="PATCH",
                address=address, body=patch, existing=existing,
            )  # fmt: skip
            existing = await store.get(session, "locations", self.ref, charger.location_id)
            assert existing is not None

    async def put_tariff(self, session: AsyncSession, tariff: dict[str, Any]) -> dict[str, Any]:
        """A Tariff of the own CPO, broadcast to eMSPs like any CPO's tariff PUT."""
        caller = await own_caller(session, self.settings)
        document = {
            **tariff,
            "country_code": self.ref.country_code,
            "party_id": self.ref.party_id,
            "last_updated": tariff.get("last_updated") or stamp(),
        }
        document = push.validated(Tariff, document)
        tariff_id = str(document["id"])
        existing = await store.get(session, "tariffs", self.ref, tariff_id)
        await push.store_and_announce(
            session,
            self.ctx,
            caller,
            push.Target("tariffs", self.ref, tariff_id),
            data=document,
            last_updated=parse_datetime(document["last_updated"]),
            method="PUT",
            path=push.url_path(self.ref.country_code, self.ref.party_id, tariff_id),
            body=document,
            full=True,
            existing=existing,
        )
        return document
