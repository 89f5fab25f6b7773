"""The EVSE uids of the stored Locations, indexed: find a Location by one of its EVSEs.

A driver's pay page starts from an EVSE uid (printed on the charger). Locations are stored as
JSON documents, so without this table finding one by EVSE means scanning every Location's JSON.
:func:`refresh` keeps one row per (Location row, EVSE uid) whenever a Location is stored
(:func:`app.hub.store.service.save`); migration 0017 fills it for the Locations stored before.
uids are CiStrings (types.asciidoc, CiString: case-insensitive), stored upper-case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, delete, insert
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["EvseIndex", "evse_uids", "refresh"]


class EvseIndex(SQLModel, table=True):
    __tablename__ = "evse_index"

    object_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("ocpi_object.id", ondelete="CASCADE"), primary_key=True
        )
    )
    evse_uid: str = Field(primary_key=True, max_length=64, index=True)


def evse_uids(data: dict[str, Any] | None) -> set[str]:
    """The EVSE uids of a Location document, upper-case (REMOVED EVSEs included)."""
    evses: Iterable[Any] = (data or {}).get("evses") or []
    return {
        str(evse["uid"]).upper()
        for evse in evses
        if isinstance(evse, dict) and evse.get("uid") not in (None, "")
    }


async def refresh(
    session: AsyncSession, object_id: int, before: set[str], data: dict[str, Any]
) -> None:
    """Bring the index of Location row ``object_id`` from the uids it had (``before``: empty for
    a new row) to those of ``data``; nothing is written when they did not change."""
    after = evse_uids(data)
    gone, new = before - after, after - before
    if gone:
        await session.exec(
            delete(EvseIndex).where(
                col(EvseIndex.object_id) == object_id, col(EvseIndex.evse_uid).in_(gone)
            )
        )
    if new:
        await session.exec(
            insert(EvseIndex),
            params=[{"object_id": object_id, "evse_uid": uid} for uid in sorted(new)],
        )
