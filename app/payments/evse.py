"""What a driver sees before paying: the EVSE, its Location, its ad hoc tariff in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub import agreements
from app.hub.context import HubContext
from app.hub.store import service as store
from app.hub.store.evse_index import EvseIndex
from app.hub.store.models import OcpiObject
from app.ocpi.headers import PartyRef
from app.payments.records import emsp_ref
from app.tariffs.money import currency_exponent, from_minor_units
from app.tariffs.selection import AD_HOC_TOKEN_TYPE, select_tariff

# The EVSE statuses in which a driver may start (mod_locations, Status enum).
STARTABLE = ("AVAILABLE", "PREPARING")  # PREPARING: plugged in first, as many drivers do
SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}


@dataclass(frozen=True)
class EvseChoice:
    cpo: PartyRef
    location: dict[str, Any]
    evse: dict[str, Any]

    @property
    def uid(self) -> str:
        return str(self.evse["uid"])

    @property
    def connectors(self) -> list[dict[str, Any]]:
        return list(self.evse.get("connectors") or [])

    @property
    def status(self) -> str:
        return str(self.evse.get("status", "UNKNOWN"))

    @property
    def startable(self) -> bool:
        return self.status in STARTABLE

    def connector(self, connector_id: str) -> dict[str, Any] | None:
        for connector in self.connectors:
            if str(connector.get("id", "")).upper() == connector_id.upper():
                return connector
        return None


async def find_evses(
    session: AsyncSession,
    evse_uid: str,
    cpo: PartyRef | None = None,
    *,
    ctx: HubContext | None = None,
) -> list[EvseChoice]:
    """Every EVSE with this uid among the Locations the hub holds (a uid is only unique per
    CPO; ``cpo`` narrows it down). Removed EVSEs are not offered. The Locations are found
    through the EVSE uid index (app/hub/store/evse_index.py), not by reading their JSON.

    With ``ctx``, only the EVSEs a driver can pay for: those of CPOs the hub's eMSP may send
    commands to (app/hub/agreements.py; with AGREEMENTS_DEFAULT=closed, a CPO without an
    agreement with it would refuse the start after the card was held)."""
    stmt = (
        select(OcpiObject)
        .join(EvseIndex, col(EvseIndex.object_id) == col(OcpiObject.id))
        .where(EvseIndex.evse_uid == evse_uid.upper(), OcpiObject.module == "locations")
    )
    if cpo is not None:
        stmt = stmt.where(
            OcpiObject.country_code == cpo.country_code, OcpiObject.party_id == cpo.party_id
        )
    found = []
    for row in (await session.exec(stmt.order_by(col(OcpiObject.id)))).all():
        for evse in row.data.get("evses") or []:
            if str(evse.get("uid", "")).upper() != evse_uid.upper():
                continue
            if evse.get("status") == "REMOVED" or agreements.restricted(row):
                # (A Location that is not published is never shown to the public.)
                continue
            owner = PartyRef(row.country_code, row.party_id)
            if ctx is not None and not await agreements.may(
                session, ctx, owner, emsp_ref(ctx.settings), "commands"
            ):
                continue
            found.append(EvseChoice(owner, row.data, evse))
    return found


async def connector_tariffs(
    session: AsyncSession, cpo: PartyRef, connector: dict[str, Any]
) -> list[dict[str, Any]]:
    """The connector's tariffs the hub holds, in ``tariff_ids`` order."""
    tariffs = []
    for tariff_id in connector.get("tariff_ids") or []:
        row = await store.get(session, "tariffs", cpo, str(tariff_id))
        if row is not None:
            tariffs.append(_with_preauthorize_amount(row))
    return tariffs


def _with_preauthorize_amount(row: OcpiObject) -> dict[str, Any]:
    """The stored tariff, with the ``preauthorize_amount`` a 2.3.0 CPO gave ("the amount to
    preauthorize for a Payment Terminal", mod_tariffs 2.3.0). 2.2.1 cannot carry it: it is kept
    beside the tariff in ``ext`` (app/ocpi/ext.py, a field 2.2.1 lacks: ``{"$set": value}``),
    and the hold is fitted to it (app/payments/hold.py)."""
    fields = (row.ext or {}).get("$fields") or {}
    node = fields.get("preauthorize_amount") if isinstance(fields, dict) else None
    if isinstance(node, dict) and isinstance(node.get("$set"), int | float):
        return {**row.data, "preauthorize_amount": node["$set"]}
    return row.data


async def ad_hoc_tariff(
    session: AsyncSession, cpo: PartyRef, connector: dict[str, Any]
) -> dict[str, Any] | None:
    """The tariff an ad hoc payer is charged: of the connector's tariffs, the one that applies to
    the single-use ``AD_HOC_USER`` token the hub's eMSP issues (``AD_HOC_PAYMENT``; see
    :func:`app.tariffs.select_tariff` for the fallbacks). The pay page shows it, the payment
    keeps a copy of it, and the capture and the receipt use that copy."""
    tariffs = await connector_tariffs(session, cpo, connector)
    return select_tariff(tariffs, AD_HOC_TOKEN_TYPE, at=utcnow())


def money(amount: Decimal | float | int | str, currency: str) -> str:
    """An amount in major units as a driver reads it: "€0.36", "SEK 12.50"."""
    value = Decimal(str(amount))
    digits = currency_exponent(currency)
    # Unit prices may have more decimals than the currency (EUR 0.363 per kWh): keep up to 4.
    places = max(digits, min(4, -value.normalize().as_tuple().exponent))  # type: ignore[operator]
    text = f"{value:,.{places}f}"
    symbol = SYMBOLS.get(currency.upper())
    return f"{symbol}{text}" if symbol else f"{currency.upper()} {text}"


def minor(amount: int | None, currency: str) -> str:
    return money(from_minor_units(amount or 0, currency), currency)


def _incl(price: Any, vat: Any) -> Decimal:
    value = Decimal(str(price))
    if vat is not None:
        value = value * (1 + Decimal(str(vat)) / 100)
    return value.quantize(Decimal("0.0001")).normalize()


_DAYS = {
    "MONDAY": "Mon",
    "TUESDAY": "Tue",
    "WEDNESDAY": "Wed",
    "THURSDAY": "Thu",
    "FRIDAY": "Fri",
    "SATURDAY": "Sat",
    "SUNDAY": "Sun",
}


def _restriction_words(r: dict[str, Any]) -> str:
    parts = []
    if r.get("day_of_week"):
        parts.append(", ".join(_DAYS.get(d, d) for d in r["day_of_week"]))
    if r.get("start_time") or r.get("end_time"):
        parts.append(f"{r.get('start_time', '00:00')}-{r.get('end_time', '24:00')}")
    if r.get("start_date") or r.get("end_date"):
        parts.append(f"from {r.get('start_date', '...')} to {r.get('end_date', '...')}")
    if r.get("min_kwh") is not None:
        parts.append(f"after {r['min_kwh']} kWh")
    if r.get("max_kwh") is not None:
        parts.append(f"up to {r['max_kwh']} kWh")
    if r.get("min_duration") is not None:
        parts.append(f"after {int(r['min_duration']) // 60} min")
    if r.get("max_duration") is not None:
        parts.append(f"for the first {int(r['max_duration']) // 60} min")
    if r.get("min_power") is not None or r.get("max_power") is not None:
        parts.append(f"at {r.get('min_power', 0)}-{r.get('max_power', '...')} kW")
    if r.get("reservation"):
        parts.append("while reserved")
    return "; ".join(parts)


_UNITS = {
    "ENERGY": "per kWh",
    "TIME": "per hour charging",
    "PARKING_TIME": "per hour parked without charging",
    "FLAT": "per session",
}


def describe_tariff(tariff: dict[str, Any]) -> list[str]:
    """The tariff in plain words, prices including VAT (what a driver pays), one line each."""
    currency = str(tariff.get("currency", "EUR"))
    lines = []
    for element in tariff.get("elements") or []:
        words = []
        for component in element.get("price_components") or []:
            kind = str(component.get("type"))
            price = money(_incl(component.get("price", 0), component.get("vat")), currency)
            text = f"{price} {_UNITS.get(kind, kind.lower())}"
            step = int(component.get("step_size") or 1)
            if kind in ("TIME", "PARKING_TIME") and step > 1:
                text += f" (billed per {step // 60 or 1} min)" if step >= 60 else f" (per {step} s)"
            elif kind == "ENERGY" and step > 1:
                text += f" (billed per {step} Wh)"
            if component.get("vat") is not None:
                text += f", incl. {Decimal(str(component['vat'])).normalize()}% VAT"
            words.append(text)
        if not words:
            continue
        when = _restriction_words(element.get("restrictions") or {})
        lines.append(f"{when}: {' + '.join(words)}" if when else " + ".join(words))
    if tariff.get("min_price"):
        value = tariff["min_price"].get("incl_vat", tariff["min_price"].get("excl_vat"))
        lines.append(f"At least {money(value, currency)} per session")
    if tariff.get("max_price"):
        value = tariff["max_price"].get("incl_vat", tariff["max_price"].get("excl_vat"))
        lines.append(f"At most {money(value, currency)} per session")
    return lines or ["Free of charge"]


def address_line(location: dict[str, Any]) -> str:
    parts = [location.get("address"), location.get("postal_code"), location.get("city")]
    return ", ".join(str(p) for p in parts if p)


__all__ = [
    "EvseChoice",
    "ad_hoc_tariff",
    "address_line",
    "connector_tariffs",
    "describe_tariff",
    "find_evses",
    "minor",
    "money",
]
