"""The own CPO's transactions: each becomes a Session at the token's eMSP, updated from meter
values, then a CDR priced with the Location's tariff; written through the same
store-and-announce path as any CPO's pushes."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.store import push
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.modules.locations import service as locations
from app.modules.locations.service import Address
from app.modules.sessions.service import merge_session
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.cdrs import CDR, ChargingPeriod
from app.ocpi.schemas.common import format_datetime, parse_datetime
from app.ocpi.schemas.sessions import Session
from app.ocpp import remote as remote_requests
from app.ocpp.authorization import AuthResult
from app.ocpp.identity import BridgeBase, own_caller
from app.ocpp.locations import DEFAULT_CONNECTOR, evse_id, evse_uid, stamp
from app.ocpp.models import (
    Charger,
    OcppTransaction,
    OwnLocation,
    TransactionStatus,
)
from app.tariffs import (
    TariffError,
    apply_to_cdr,
    compiled_tariff,
    price_session,
    running_cost,
    select_tariff,
)

log = logging.getLogger("voltroam.ocpp.bridge")


@dataclass
class Sample:
    """One meter reading: when, and the energy register (Wh) if present."""

    at: datetime
    energy_wh: float | None = None


ENERGY = "Energy.Active.Import.Register"


def energy_samples(
    meter_value: list[dict[str, Any]] | None, wh_of: Callable[[dict[str, Any]], float]
) -> list[Sample]:
    """Energy register readings (Wh) of MeterValues / transaction data, any OCPP version.

    ``wh_of`` reads one sampled value in Wh the way its version states units; a value it cannot
    read is skipped, as are other measurands and per-phase values.
    """
    samples = []
    for item in meter_value or []:
        energy = None
        for sampled in item.get("sampled_value") or []:
            if sampled.get("measurand", ENERGY) != ENERGY or sampled.get("phase"):
                continue
            try:
                energy = wh_of(sampled)
            except (KeyError, TypeError, ValueError):
                continue
        samples.append(Sample(parse_datetime(item["timestamp"]), energy))
    return samples


def recipient_of(tx: OcppTransaction) -> PartyRef:
    return PartyRef.of(tx.cdr_token["country_code"], tx.cdr_token["party_id"])


class TransactionBridge(BridgeBase):
    async def find_transaction(
        self, session: AsyncSession, charge_point_id: str, ocpp_tx_id: str
    ) -> OcppTransaction | None:
        return (
            await session.exec(
                select(OcppTransaction).where(
                    OcppTransaction.charge_point_id == charge_point_id,
                    OcppTransaction.ocpp_tx_id == ocpp_tx_id,
                )
            )
        ).first()

    async def start_transaction(
        self,
        session: AsyncSession,
        charger: Charger,
        *,
        evse: int,
        connector: int,
        id_tag: str,
        meter_start_wh: float,
        started_at: datetime,
        auth: AuthResult,
        ocpp_tx_id: str | None = None,
    ) -> tuple[OcppTransaction, bool]:
        """Record a transaction and PUT its Session (once). Returns the row and whether it is new."""
        key = f"{evse}:{connector}:{id_tag}:{format_datetime(started_at)}"
        cp = charger.charge_point_id
        if ocpp_tx_id is not None:
            found = await self.find_transaction(session, cp, ocpp_tx_id)
        else:
            found = (
                await session.exec(
                    select(OcppTransaction).where(
                        OcppTransaction.charge_point_id == cp, OcppTransaction.start_key == key
                    )
                )
            ).first()
        if found is not None:
            return found, False
        tx = OcppTransaction(
            charge_point_id=cp,
            ocpp_tx_id=ocpp_tx_id or f"pending-{uuid.uuid4().hex}",
            start_key=key,
            evse_id=evse,
            connector_id=connector,
            id_tag=id_tag,
            session_id="",
            location_id=charger.location_id or "",
            evse_uid=evse_uid(cp, evse),
            cdr_token=auth.cdr_token if auth.accepted else {},
            auth_method=auth.auth_method,
            authorization_reference=auth.authorization_reference,
            started_at=started_at,
            meter_start_wh=meter_start_wh,
            meter_last_wh=meter_start_wh,
            meter_last_at=started_at,
            period_start_at=started_at,
            period_start_wh=meter_start_wh,
        )
        session.add(tx)
        await session.flush()
        assert tx.id is not None
        if ocpp_tx_id is None:
            tx.ocpp_tx_id = str(tx.id)
        tx.session_id = f"OCPP-{tx.id}"
        session.add(tx)
        remote = await remote_requests.find_open(session, cp, "START_SESSION", id_tag)
        if remote is not None:
            await remote_requests.answer(session, self.ctx, remote, "ACCEPTED")
        if not self._on_ocpi(tx):
            await session.commit()
            self.ctx.notify_outbox()
            return tx, True
        document = await self._session_document(session, tx, "ACTIVE")
        await self._put_session(session, tx, document)
        return tx, True

    async def attach_token(
        self, session: AsyncSession, tx: OcppTransaction, auth: AuthResult
    ) -> None:
        """A 2.0.1 transaction that started before the driver identified: it becomes a Session
        now, with the periods measured so far."""
        tx.cdr_token = auth.cdr_token
        tx.auth_method = auth.auth_method
        tx.authorization_reference = auth.authorization_reference
        tx.id_tag = str(auth.cdr_token.get("uid", tx.id_tag))
        session.add(tx)
        if not self._on_ocpi(tx):
            await session.commit()
            return
        document = await self._session_document(session, tx, "ACTIVE")
        document["kwh"] = self._kwh(tx)
        document["charging_periods"] = list(tx.periods)
        tx.periods_sent = len(tx.periods)
        await self._put_session(session, tx, document)

    @staticmethod
    def _on_ocpi(tx: OcppTransaction) -> bool:
        return bool(tx.cdr_token and tx.location_id)

    async def _tariff(
        self, session: AsyncSession, tx: OcppTransaction
    ) -> tuple[dict[str, Any] | None, str]:
        """The tariff that prices the transaction, and the Location's time zone.

        Of the Location's tariffs (every connector lists them, in this order), the one for the
        token's type (mod_tariffs, TariffType): AD_HOC_PAYMENT for the single-use AD_HOC_USER
        tokens of the hub's payments eMSP, REGULAR for an RFID card, and so on
        (:func:`app.tariffs.select_tariff`). The own chargers take no charging preferences, so
        no profile is known.
        """
        own = await session.get(OwnLocation, tx.location_id)
        loc = await store.get(session, "locations", self.ref, tx.location_id)
        tz = str(loc.data.get("time_zone", "UTC")) if loc else "UTC"
        tariffs = []
        for tariff_id in own.tariff_ids if own else []:
            row = await store.get(session, "tariffs", self.ref, tariff_id)
            if row is not None:
                tariffs.append(row.data)
        token_type = (tx.cdr_token or {}).get("type")
        return select_tariff(tariffs, token_type, at=tx.started_at), tz

    async def _session_document(
        self, session: AsyncSession, tx: OcppTransaction, status: str
    ) -> dict[str, Any]:
        tariff, _tz = await self._tariff(session, tx)
        document: dict[str, Any] = {
            "country_code": self.ref.country_code,
            "party_id": self.ref.party_id,
            "id": tx.session_id,
            "start_date_time": format_datetime(tx.started_at),
            "kwh": 0,
            "cdr_token": tx.cdr_token,
            "auth_method": tx.auth_method,
            "location_id": tx.location_id,
            "evse_uid": tx.evse_uid,
            "connector_id": "1",
            "currency": str(tariff["currency"]) if tariff else self.settings.ocpp_default_currency,
            "status": status,
            "last_updated": stamp(),
        }
        if tx.authorization_reference:
            document["authorization_reference"] = tx.authorization_reference
        return document

    async def _put_session(
        self, session: AsyncSession, tx: OcppTransaction, document: dict[str, Any]
    ) -> None:
        existing = await store.get(session, "sessions", self.ref, tx.session_id)
        await self._announce_session(session, tx, document, "PUT", document, existing)

    async def _announce_session(
        self,
        session: AsyncSession,
        tx: OcppTransaction,
        document: dict[str, Any],
        method: str,
        body: dict[str, Any],
        existing: OcpiObject | None,
    ) -> None:
        """Store the Session's new version and send it (PUT: whole, PATCH: ``body``) to the
        token's eMSP, through the same path as an external CPO's push."""
        caller = await own_caller(session, self.settings)
        tx.last_session_push_at = utcnow()
        session.add(tx)
        await push.store_and_announce(
            session,
            self.ctx,
            caller,
            push.Target("sessions", self.ref, tx.session_id),
            data=document,
            last_updated=parse_datetime(document["last_updated"]),
            method=method,
            path=push.url_path(self.ref.country_code, self.ref.party_id, tx.session_id),
            body=body,
            full=method == "PUT",
            recipient=recipient_of(tx),
            existing=existing,
        )

    async def _patch_session(
        self, session: AsyncSession, tx: OcppTransaction, patch: dict[str, Any]
    ) -> None:
        existing = await store.get(session, "sessions", self.ref, tx.session_id)
        if existing is None:
            # The Session PUT never happened (data from before a crash): PUT it whole now.
            document = await self._session_document(session, tx, patch.get("status", "ACTIVE"))
            document.update({k: v for k, v in patch.items() if k != "charging_periods"})
            document["charging_periods"] = list(tx.periods)
            await self._put_session(session, tx, push.validated(Session, document))
            return
        document = merge_session(existing.data, patch)
        await self._announce_session(session, tx, document, "PATCH", patch, existing)

    def _close_period(self, tx: OcppTransaction, end_at: datetime, end_wh: float) -> bool:
        """Close the open charging period at ``end_at``; False when it has no length."""
        start_at = tx.period_start_at or tx.started_at
        if end_at <= start_at:
            return False
        if tx.period_start_wh < 0:
            end_wh = tx.period_start_wh
        kwh = max(Decimal(str(end_wh)) - Decimal(str(tx.period_start_wh)), Decimal(0)) / 1000
        period = {
            "start_date_time": format_datetime(start_at),
            "dimensions": [{"type": "ENERGY", "volume": float(round(kwh, 4))}],
        }
        tx.periods = [*tx.periods, period]
        tx.period_start_at = end_at
        tx.period_start_wh = end_wh
        return True

    def _kwh(self, tx: OcppTransaction) -> float:
        if tx.meter_start_wh < 0:
            return 0.0
        delta = Decimal(str(tx.meter_last_wh)) - Decimal(str(tx.meter_start_wh))
        return float(round(max(delta, Decimal(0)) / 1000, 4))

    def _cost(
        self, tariff: dict[str, Any] | None, tz: str, tx: OcppTransaction, end: datetime
    ) -> dict[str, Any] | None:
        if tariff is None:
            return None
        try:
            priced = running_cost(
                compiled_tariff(tariff),  # validated and compiled once per tariff version
                [ChargingPeriod.model_validate(p) for p in tx.periods],
                tx.started_at,
                end,
                tz,
            )
        except (TariffError, ValueError):
            return None
        rounded = priced.total_cost.rounded()
        cost: dict[str, Any] = {"excl_vat": float(rounded.excl_vat)}
        if rounded.incl_vat is not None:
            cost["incl_vat"] = float(rounded.incl_vat)
        return cost

    @staticmethod
    def apply_readings(tx: OcppTransaction, samples: list[Sample]) -> bool:
        """Take a running transaction's energy readings into ``tx`` (in memory); False when
        none of them is new."""
        if tx.status != TransactionStatus.ACTIVE:
            return False
        changed = False
        for sample in sorted(samples, key=lambda s: s.at):
            if sample.energy_wh is None:
                continue
            if tx.meter_last_at is not None and sample.at < tx.meter_last_at:
                continue  # an older reading than one already applied (a repeat)
            if tx.meter_start_wh < 0:
                # The transaction started without a reading (2.0.1): this one is its start.
                tx.meter_start_wh = sample.energy_wh
                tx.period_start_wh = sample.energy_wh
            tx.meter_last_wh = sample.energy_wh
            tx.meter_last_at = sample.at
            changed = True
        return changed

    def session_due(self, tx: OcppTransaction) -> bool:
        """Whether the transaction's readings close a charging period of its Session now (at
        most one PATCH every OCPP_SESSION_UPDATE_SECONDS)."""
        if tx.meter_last_at is None or not self._on_ocpi(tx):
            return False
        start_at = tx.period_start_at or tx.started_at
        return (tx.meter_last_at - start_at) >= timedelta(
            seconds=self.settings.ocpp_session_update_seconds
        )

    async def meter_values(
        self, session: AsyncSession, tx: OcppTransaction, samples: list[Sample]
    ) -> None:
        """Energy readings of a running transaction; the Session is PATCHed at a limited rate."""
        if not self.apply_readings(tx, samples):
            return
        session.add(tx)
        await self.publish_readings(session, tx)

    async def publish_readings(self, session: AsyncSession, tx: OcppTransaction) -> None:
        """Write a transaction whose readings changed (``tx`` in ``session``), and PATCH its
        Session with the charging period they close when one is due."""
        assert tx.meter_last_at is not None
        if not self.session_due(tx) or not self._close_period(
            tx, tx.meter_last_at, tx.meter_last_wh
        ):
            await session.commit()
            return
        tariff, tz = await self._tariff(session, tx)
        patch: dict[str, Any] = {
            "kwh": self._kwh(tx),
            "charging_periods": tx.periods[tx.periods_sent :],
            "last_updated": stamp(),
        }
        cost = self._cost(tariff, tz, tx, tx.meter_last_at)
        if cost is not None:
            patch["total_cost"] = cost
        tx.periods_sent = len(tx.periods)
        await self._patch_session(session, tx, patch)

    async def stop_transaction(
        self,
        session: AsyncSession,
        tx: OcppTransaction,
        *,
        meter_stop_wh: float | None,
        stopped_at: datetime,
        reason: str | None,
    ) -> None:
        """End a transaction: complete its Session, then POST its priced CDR (each once)."""
        if tx.status == TransactionStatus.COMPLETED:
            if (
                self._on_ocpi(tx)
                and tx.cdr_id is not None
                and await store.get(session, "cdrs", self.ref, tx.cdr_id) is None
            ):
                await self._post_cdr(session, tx)
            return
        if meter_stop_wh is not None and meter_stop_wh >= tx.meter_last_wh:
            tx.meter_last_wh = meter_stop_wh
            tx.meter_last_at = stopped_at
        stopped_at = max(stopped_at, tx.started_at)
        tx.status = TransactionStatus.COMPLETED
        tx.stopped_at = stopped_at
        tx.stop_reason = reason
        self._close_period(tx, stopped_at, tx.meter_last_wh)
        if not tx.periods:
            tx.periods = [
                {
                    "start_date_time": format_datetime(tx.started_at),
                    "dimensions": [{"type": "ENERGY", "volume": self._kwh(tx)}],
                }
            ]
        remote = await remote_requests.find_open(
            session, tx.charge_point_id, "STOP_SESSION", tx.session_id
        )
        if remote is not None:
            await remote_requests.answer(session, self.ctx, remote, "ACCEPTED")
        if not self._on_ocpi(tx):
            session.add(tx)
            await session.commit()
            self.ctx.notify_outbox()
            return
        tx.cdr_id = tx.session_id
        tariff, tz = await self._tariff(session, tx)
        patch: dict[str, Any] = {
            "kwh": self._kwh(tx),
            "end_date_time": format_datetime(stopped_at),
            "status": "COMPLETED",
            "last_updated": stamp(),
        }
        if len(tx.periods) > tx.periods_sent:
            patch["charging_periods"] = tx.periods[tx.periods_sent :]
        cost = self._cost(tariff, tz, tx, stopped_at)
        if cost is not None:
            patch["total_cost"] = cost
        tx.periods_sent = len(tx.periods)
        await self._patch_session(session, tx, patch)
        await self._post_cdr(session, tx)

    async def _post_cdr(self, session: AsyncSession, tx: OcppTransaction) -> None:
        assert tx.cdr_id is not None and tx.stopped_at is not None
        caller = await own_caller(session, self.settings)
        loc = await store.get(session, "locations", self.ref, tx.location_id)
        location = loc.data if loc else {}
        try:
            evse = locations.select(location, Address(tx.location_id, tx.evse_uid))
        except OcpiError:
            evse = {}
        connector = {**DEFAULT_CONNECTOR, **((evse.get("connectors") or [{}])[0])}
        tariff, tz = await self._tariff(session, tx)
        currency = str(tariff["currency"]) if tariff else self.settings.ocpp_default_currency
        cdr: dict[str, Any] = {
            "country_code": self.ref.country_code,
            "party_id": self.ref.party_id,
            "id": tx.cdr_id,
            "start_date_time": format_datetime(tx.started_at),
            "end_date_time": format_datetime(tx.stopped_at),
            "session_id": tx.session_id,
            "cdr_token": tx.cdr_token,
            "auth_method": tx.auth_method,
            "cdr_location": {
                "id": tx.location_id,
                "name": location.get("name"),
                "address": location.get("address", ""),
                "city": location.get("city", ""),
                "postal_code": location.get("postal_code"),
                "country": location.get("country", ""),
                "coordinates": location.get("coordinates", {"latitude": "0", "longitude": "0"}),
                "evse_uid": tx.evse_uid,
                "evse_id": evse.get("evse_id") or evse_id(self.ref, tx.charge_point_id, tx.evse_id),
                "connector_id": str(connector.get("id", "1")),
                "connector_standard": connector["standard"],
                "connector_format": connector["format"],
                "connector_power_type": connector["power_type"],
            },
            "currency": currency,
            "charging_periods": tx.periods,
            "total_cost": {"excl_vat": 0},
            "total_energy": self._kwh(tx),
            "total_time": round((tx.stopped_at - tx.started_at).total_seconds() / 3600, 4),
            "last_updated": stamp(),
        }
        if tx.authorization_reference:
            cdr["authorization_reference"] = tx.authorization_reference
        if tariff is not None:
            cdr["tariffs"] = [tariff]
        model = CDR.model_validate({k: v for k, v in cdr.items() if v is not None})
        if tariff is not None:
            try:
                priced = price_session(
                    compiled_tariff(model.tariffs[0]), model.charging_periods, model.start_date_time,
                    model.end_date_time, tz,
                )  # fmt: skip
                model = apply_to_cdr(model, priced)
            except (TariffError, ValueError):
                log.exception("CDR %s could not be priced; sent at zero cost", tx.cdr_id)
        document = model.to_json()
        await push.store_and_announce(
            session,
            self.ctx,
            caller,
            push.Target("cdrs", self.ref, tx.cdr_id),
            data=document,
            last_updated=parse_datetime(document["last_updated"]),
            method="POST",
            path="",
            body=document,
            full=True,
            recipient=recipient_of(tx),
        )
