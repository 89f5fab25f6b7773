"""The hold placed on the driver's card, fitted to the EVSE and its tariff.

The price of charging at the connector's max power for PAYMENT_HOLD_HOURS and then parking for
PAYMENT_HOLD_PARKING_HOURS (costing something only where the tariff prices PARKING_TIME), by the
hub's tariff engine at the tariff the driver is shown, starting now in the Location's time zone;
or the tariff's own ``preauthorize_amount`` where an OCPI 2.3.0 tariff gives one ("the amount
to preauthorize for a Payment Terminal", mod_tariffs, Tariff object). Either is bounded by the
currency's PAYMENT_HOLD_MIN and PAYMENT_HOLD. A connector whose power is unknown holds the most.
The hub stops the session before its running cost reaches the hold (app/payments/emsp.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.core.dbtypes import utcnow
from app.core.settings import Settings
from app.ocpi.schemas.cdrs import ChargingPeriod
from app.ocpi.schemas.common import format_datetime
from app.payments.pricing import MAX_MINOR_UNITS, priced_minor
from app.tariffs import PricingInputError, compiled_tariff, price_session
from app.tariffs.money import to_minor_units

# Line-to-neutral voltage times current, times the phases (mod_locations, Connector:
# "max_voltage ... line to neutral for AC_3_PHASE").
PHASES = {"AC_3_PHASE": 3, "AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2}


@dataclass(frozen=True)
class Hold:
    amount: int  # minor units
    basis: str  # how it was found, for the pay page and the admins


def connector_power_kw(connector: dict[str, Any]) -> Decimal | None:
    """The connector's max power in kW: max_electric_power, else voltage x current x phases."""
    watts = connector.get("max_electric_power")
    if not watts:
        voltage, amperage = connector.get("max_voltage"), connector.get("max_amperage")
        if not voltage or not amperage:
            return None
        phases = PHASES.get(str(connector.get("power_type")), 1)
        watts = int(voltage) * int(amperage) * phases
    power = Decimal(int(watts)) / 1000
    return power if power > 0 else None


def bounds(settings: Settings, currency: str) -> tuple[int, int]:
    code = currency.upper()
    low = settings.payment_holds_min.get(code, Decimal(settings.payment_hold_min_default))
    high = settings.payment_holds.get(code, Decimal(settings.payment_hold_default))
    return to_minor_units(low, currency), to_minor_units(high, currency)


def _hours(value: float) -> Decimal:
    return Decimal(str(value))


def priced_hold(
    settings: Settings,
    tariff: dict[str, Any],
    connector: dict[str, Any],
    time_zone: str = "UTC",
    now: datetime | None = None,
) -> int | None:
    """The price of the longest session the hold covers; None when it cannot be priced."""
    power = connector_power_kw(connector)
    if power is None:
        return None
    start = (now or utcnow()).replace(microsecond=0)
    charging = _hours(settings.payment_hold_hours)
    parking = _hours(settings.payment_hold_parking_hours)
    charged_until = start + timedelta(seconds=float(charging * 3600))
    end = charged_until + timedelta(seconds=float(parking * 3600))
    periods = [
        ChargingPeriod.model_validate(
            {
                "start_date_time": format_datetime(start),
                "dimensions": [{"type": "ENERGY", "volume": power * charging}],
            }
        )
    ]
    if parking > 0:
        periods.append(
            ChargingPeriod.model_validate(
                {
                    "start_date_time": format_datetime(charged_until),
                    "dimensions": [{"type": "PARKING_TIME", "volume": parking}],
                }
            )
        )
    try:
        priced = price_session(compiled_tariff(tariff), periods, start, end, time_zone)
    except (PricingInputError, ValueError):
        return None
    return priced_minor(priced, str(tariff["currency"]))


def fitted_hold(
    settings: Settings,
    tariff: dict[str, Any],
    connector: dict[str, Any],
    time_zone: str = "UTC",
    now: datetime | None = None,
) -> Hold:
    currency = str(tariff["currency"])
    low, high = bounds(settings, currency)
    preauthorize = tariff.get("preauthorize_amount")
    if preauthorize is not None:
        amount = to_minor_units(Decimal(str(preauthorize)), currency)
        basis = "the operator's preauthorization amount"
    else:
        priced = priced_hold(settings, tariff, connector, time_zone, now)
        if priced is None:
            return Hold(high, "the most the hub holds")
        amount = priced
        basis = f"{settings.payment_hold_hours:g} h of charging at the connector's full power" + (
            f" and {settings.payment_hold_parking_hours:g} h of parking"
            if settings.payment_hold_parking_hours
            else ""
        )
    if amount > high:
        return Hold(high, "the most the hub holds")
    if amount < low:
        return Hold(low, "the least the hub holds")
    return Hold(min(amount, MAX_MINOR_UNITS), basis)
