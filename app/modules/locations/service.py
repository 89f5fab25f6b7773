"""Locations with their EVSEs and Connectors (mod_locations.asciidoc).

A Location is stored as one document; PUT and PATCH on an EVSE or a Connector change it inside
its Location. "When the PUT only contains a Connector Object, the Receiver SHALL also set the new
last_updated value on the parent EVSE and Location Objects" (and likewise for an EVSE; the same
holds for PATCH).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.hub.store.push import validated
from app.ocpi.errors import NotFound
from app.ocpi.schemas.common import ci_key
from app.ocpi.schemas.locations import Location
from app.ocpi.status import OcpiStatus

MODULE = "locations"


@dataclass(frozen=True)
class Address:
    """Which part of a Location a request is about."""

    location_id: str
    evse_uid: str | None = None
    connector_id: str | None = None

    def segments(self) -> list[str]:
        return [s for s in (self.location_id, self.evse_uid, self.connector_id) if s is not None]


def _find(items: list[dict[str, Any]], field: str, key: str) -> int | None:
    wanted = ci_key(key)
    for index, item in enumerate(items):
        if ci_key(str(item.get(field, ""))) == wanted:
            return index
    return None


def select(location: dict[str, Any], address: Address) -> dict[str, Any]:
    """The Location, EVSE or Connector an address names (404 when it does not exist)."""
    if address.evse_uid is None:
        return location
    evses = location.get("evses") or []
    index = _find(evses, "uid", address.evse_uid)
    if index is None:
        raise NotFound(f"Unknown EVSE {address.evse_uid}")
    evse = evses[index]
    if address.connector_id is None:
        return dict(evse)
    connectors = evse.get("connectors") or []
    cindex = _find(connectors, "id", address.connector_id)
    if cindex is None:
        raise NotFound(f"Unknown connector {address.connector_id}")
    return dict(connectors[cindex])


def validate_location(document: dict[str, Any]) -> dict[str, Any]:
    return validated(Location, document)


def apply_put(
    existing: dict[str, Any] | None, address: Address, obj: dict[str, Any]
) -> dict[str, Any]:
    """A new version of the Location after a PUT of a Location, an EVSE or a Connector."""
    if address.evse_uid is None:
        return obj
    if existing is None:
        raise NotFound(f"Unknown Location {address.location_id}", OcpiStatus.UNKNOWN_LOCATION)
    location = dict(existing)
    evses = [dict(e) for e in location.get("evses") or []]
    stamp = obj["last_updated"]
    index = _find(evses, "uid", address.evse_uid)
    if address.connector_id is None:
        if index is None:
            evses.append(obj)
        else:
            evses[index] = obj
    else:
        if index is None:
            raise NotFound(f"Unknown EVSE {address.evse_uid}")
        evse = evses[index]
        connectors = [dict(c) for c in evse.get("connectors") or []]
        cindex = _find(connectors, "id", address.connector_id)
        if cindex is None:
            connectors.append(obj)
        else:
            connectors[cindex] = obj
        evse["connectors"] = connectors
        evse["last_updated"] = stamp
    location["evses"] = evses
    location["last_updated"] = stamp
    return validate_location(location)


def apply_patch(
    existing: dict[str, Any], address: Address, patch: dict[str, Any]
) -> dict[str, Any]:
    """A new version of the Location after a PATCH; the parents' last_updated follows."""
    stamp = patch["last_updated"]
    location = dict(existing)
    if address.evse_uid is None:
        location.update(patch)
        return validate_location(location)
    evses = [dict(e) for e in location.get("evses") or []]
    index = _find(evses, "uid", address.evse_uid)
    if index is None:
        raise NotFound(f"Unknown EVSE {address.evse_uid}")
    evse = evses[index]
    if address.connector_id is None:
        evse.update(patch)
    else:
        connectors = [dict(c) for c in evse.get("connectors") or []]
        cindex = _find(connectors, "id", address.connector_id)
        if cindex is None:
            raise NotFound(f"Unknown connector {address.connector_id}")
        connectors[cindex] = {**connectors[cindex], **patch}
        evse["connectors"] = connectors
        evse["last_updated"] = stamp
    evses[index] = evse
    location["evses"] = evses
    location["last_updated"] = stamp
    return validate_location(location)


def body_ids(address: Address, owner_ids: dict[str, str]) -> dict[str, str]:
    """The ids the pushed object must carry, from the URL."""
    if address.connector_id is not None:
        return {"id": address.connector_id}
    if address.evse_uid is not None:
        return {"uid": address.evse_uid}
    return owner_ids
