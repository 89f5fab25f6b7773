"""Meter values of the chargers connected to this instance, written in batches.

A charger sends MeterValues every few seconds per running transaction (and 1.6 chargers send
them with no transaction at all), while the OCPI Session shows them at most every
OCPP_SESSION_UPDATE_SECONDS. Reading the transaction and committing its row on every message made
the database the CSMS's bottleneck, so:

- the running transaction of each (charger, EVSE) and of each transaction id is kept in memory
  once read (also when there is none), for the chargers this instance holds;
- a reading only changes that copy; the rows of the copies that changed are written together,
  one statement every OCPP_METER_FLUSH_SECONDS, when the charger disconnects, before any other
  message about its transactions (``settle``) and when the CSMS stops;
- a reading that closes a charging period of the Session (or is the first of a transaction
  that started without one) is written at once, with the Session PATCH, as before.

A hub killed with SIGKILL loses at most the readings of the last OCPP_METER_FLUSH_SECONDS: the
row keeps an older reading, and the charger's next reading (or its StopTransaction with
meterStop) carries on from it. Sessions and CDRs never lose anything they already showed.

A charger's messages are handled one at a time (OCPP-J: one CALL in flight), and only the
instance holding its WebSocket handles them, so the copy in memory is the newest state of its
transactions; every other change to them goes through ``settle`` first (start, stop, 2.0.1
TransactionEvent), which writes the copy and forgets it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.context import HubContext
from app.ocpp.models import OcppTransaction, TransactionStatus
from app.ocpp.settings import OcppSettings
from app.ocpp.transactions import Sample, TransactionBridge

log = logging.getLogger("voltroam.ocpp.meters")

# Built once. The newest reading of a running transaction, unless the row has a newer one
# already (written with a Session PATCH while this batch was on its way).
_table: Any = OcppTransaction.__table__  # type: ignore[attr-defined]
WRITE_READING = (
    update(_table)
    .where(
        _table.c.id == bindparam("tx_id"),
        _table.c.status == TransactionStatus.ACTIVE,
        or_(_table.c.meter_last_at.is_(None), _table.c.meter_last_at < bindparam("at")),
    )
    .values(meter_last_wh=bindparam("wh"), meter_last_at=bindparam("at"))
)
RUNNING_ON_EVSE = (
    select(OcppTransaction)
    .where(
        col(OcppTransaction.charge_point_id) == bindparam("cp"),
        col(OcppTransaction.evse_id) == bindparam("evse"),
        col(OcppTransaction.status) == TransactionStatus.ACTIVE,
    )
    .order_by(col(OcppTransaction.id).desc())
    .limit(1)
)
ALL_RUNNING = (
    select(OcppTransaction)
    .where(
        col(OcppTransaction.charge_point_id) == bindparam("cp"),
        col(OcppTransaction.status) == TransactionStatus.ACTIVE,
    )
    .order_by(col(OcppTransaction.id))
)
BY_TX_ID = select(OcppTransaction).where(
    col(OcppTransaction.charge_point_id) == bindparam("cp"),
    col(OcppTransaction.ocpp_tx_id) == bindparam("tx"),
)


@dataclass
class _Known:
    """What this instance knows of one connected charger's transactions (None: there is none)."""

    by_evse: dict[int, OcppTransaction | None] = field(default_factory=dict)
    by_tx_id: dict[str, OcppTransaction | None] = field(default_factory=dict)
    # by_evse holds every running transaction of the charger (read when it connected): an EVSE
    # or transaction id not in it has none running.
    complete: bool = False


class Meters:
    def __init__(
        self,
        ctx: HubContext,
        settings: OcppSettings,
        bridge: TransactionBridge,
        slots: asyncio.Semaphore,
    ) -> None:
        self.ctx = ctx
        self._slots = slots
        self.settings = settings
        self.bridge = bridge
        self._known: dict[str, _Known] = {}
        # Transactions whose copy has a reading the row does not have yet, by row id.
        self._dirty: dict[int, OcppTransaction] = {}
        # One batch at a time: ``settle`` must not return while a batch with the charger's
        # readings is still on its way (what comes next reads the rows).
        self._writing = asyncio.Lock()

    # --- readings -----------------------------------------------------------------------------

    async def record(
        self, charge_point_id: str, evse: int | None, ocpp_tx_id: str | None, samples: list[Sample]
    ) -> None:
        """A MeterValues message: readings of the transaction given by id, else of the one
        running on the EVSE (none: nothing to record)."""
        tx = await self._running(charge_point_id, evse, ocpp_tx_id)
        if tx is None or not self.bridge.apply_readings(tx, samples):
            return
        assert tx.id is not None
        if tx.meter_start_wh >= 0 and not self.bridge.session_due(tx):
            self._dirty[tx.id] = tx
            return
        # A period of the Session closes (or the transaction's first reading): written now.
        self._dirty.pop(tx.id, None)
        self._forget(charge_point_id)
        async with self._slots, self.ctx.sessions() as session:
            row = await session.get(OcppTransaction, tx.id)
            if row is None or row.status != TransactionStatus.ACTIVE:
                return
            if row.meter_start_wh < 0:
                row.meter_start_wh = tx.meter_start_wh
                row.period_start_wh = tx.period_start_wh
            row.meter_last_wh = tx.meter_last_wh
            row.meter_last_at = tx.meter_last_at
            session.add(row)
            await self.bridge.publish_readings(session, row)

    async def connected(self, session: AsyncSession, charge_point_id: str) -> None:
        """A charger connected: read its running transactions now, in the session of its
        connection, rather than one query per EVSE with its first readings."""
        known = _Known(complete=True)
        for tx in (await session.exec(ALL_RUNNING, params={"cp": charge_point_id})).all():
            assert tx.id is not None
            tx = self._dirty.get(tx.id, tx)
            known.by_evse[tx.evse_id] = tx
            known.by_tx_id[tx.ocpp_tx_id] = tx
        self._known[charge_point_id] = known

    async def _running(
        self, charge_point_id: str, evse: int | None, ocpp_tx_id: str | None
    ) -> OcppTransaction | None:
        known = self._known.setdefault(charge_point_id, _Known())
        if known.complete:
            # Only a running transaction takes readings: one not known here has ended.
            if ocpp_tx_id is not None:
                return known.by_tx_id.get(ocpp_tx_id)
            return known.by_evse.get(evse) if evse is not None else None
        if ocpp_tx_id is not None:
            if ocpp_tx_id not in known.by_tx_id:
                known.by_tx_id[ocpp_tx_id] = await self._load(
                    BY_TX_ID, {"cp": charge_point_id, "tx": ocpp_tx_id}
                )
            return known.by_tx_id[ocpp_tx_id]
        assert evse is not None
        if evse not in known.by_evse:
            known.by_evse[evse] = await self._load(
                RUNNING_ON_EVSE, {"cp": charge_point_id, "evse": evse}
            )
        return known.by_evse[evse]

    async def _load(self, statement: Any, params: dict[str, Any]) -> OcppTransaction | None:
        async with self._slots, self.ctx.sessions() as session:
            found: OcppTransaction | None = (await session.exec(statement, params=params)).first()
            if found is not None and found.id in self._dirty:
                # Read again while readings of it wait in memory (after _forget): keep those.
                return self._dirty[found.id]
            return found

    # --- writing ------------------------------------------------------------------------------

    async def settle(self, charge_point_id: str) -> None:
        """Before anything else reads or changes the charger's transactions: write their
        readings and forget the copies (they are read again when needed)."""
        self._forget(charge_point_id)
        async with self._writing:
            mine = [tx for tx in self._dirty.values() if tx.charge_point_id == charge_point_id]
            await self._write(mine)

    def _forget(self, charge_point_id: str) -> None:
        self._known.pop(charge_point_id, None)

    async def flush(self) -> None:
        """Write every reading waiting in memory, in one statement."""
        async with self._writing:
            await self._write(list(self._dirty.values()))

    async def _write(self, txs: list[OcppTransaction]) -> None:
        if not txs:
            return
        rows: list[dict[str, Any]] = []
        for tx in txs:
            assert tx.id is not None
            rows.append({"tx_id": tx.id, "wh": tx.meter_last_wh, "at": tx.meter_last_at})
            del self._dirty[tx.id]
        try:
            async with self._slots, self.ctx.engine.begin() as conn:
                await conn.execute(WRITE_READING, rows)
        except BaseException:
            # Not written: they wait for the next round (unless a newer reading came meanwhile).
            for tx in txs:
                assert tx.id is not None
                self._dirty.setdefault(tx.id, tx)
            raise

    async def run(self) -> None:
        """Write the readings every OCPP_METER_FLUSH_SECONDS (a task of the CSMS)."""
        while True:
            await asyncio.sleep(self.settings.ocpp_meter_flush_seconds)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing meter values failed; retried in the next round")

    def waiting(self) -> int:
        return len(self._dirty)
