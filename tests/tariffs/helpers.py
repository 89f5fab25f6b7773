"""Builders for tariff-engine tests: tariffs from the copied spec examples, sessions by minutes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.ocpi.schemas.cdrs import CDR, ChargingPeriod
from app.ocpi.schemas.tariffs import Tariff
from app.tariffs import CompiledTariff, PricedSession, price_session

EXAMPLES = Path(__file__).parent / "examples"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def tariff(name_or_data: str | dict[str, Any]) -> Tariff:
    data = example(name_or_data) if isinstance(name_or_data, str) else name_or_data
    return Tariff.model_validate(data)


def cdr(name: str = "cdr_example.json") -> CDR:
    return CDR.model_validate(example(name))


def make_tariff(*elements: dict[str, Any], **extra: Any) -> Tariff:
    """A tariff around the given elements (EUR, DE/ALL)."""
    return Tariff.model_validate(
        {
            "country_code": "DE",
            "party_id": "ALL",
            "id": "T1",
            "currency": "EUR",
            "elements": list(elements),
            "last_updated": "2024-01-01T00:00:00Z",
            **extra,
        }
    )


def hours(minutes: float | int | str | Decimal) -> Decimal:
    return Decimal(str(minutes)) / Decimal(60)


def minutes(hours_value: Decimal) -> Decimal:
    """Hours -> minutes, to the millisecond (engine values carry 40 significant digits)."""
    return (hours_value * 60).quantize(Decimal("0.00001"))


def D(value: str | int) -> Decimal:
    return Decimal(value)


def cents(value: Decimal) -> Decimal:
    """The spec's tables round to cents, half up."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Session:
    periods: list[ChargingPeriod]
    start: datetime
    end: datetime

    def price(
        self, t: Tariff | CompiledTariff, time_zone: str = "UTC", **kwargs: Any
    ) -> PricedSession:
        return price_session(t, self.periods, self.start, self.end, time_zone, **kwargs)


def at(local: str, time_zone: str = "UTC") -> datetime:
    """``"2024-06-03 09:30"`` in ``time_zone`` -> aware UTC datetime."""
    naive = datetime.fromisoformat(local)
    return naive.replace(tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def session(
    start: str, *steps: tuple[float | int | str, dict[str, Any]], tz: str = "UTC"
) -> Session:
    """Consecutive periods: ``(minutes, {"ENERGY": 5, "TIME": "auto", ...})``.

    ``"auto"`` for TIME / PARKING_TIME / RESERVATION_TIME is the period's length in hours.
    """
    begin = at(start, tz)
    moment = begin
    periods = []
    for minutes, dims in steps:
        dimensions = []
        for kind, volume in dims.items():
            value = hours(minutes) if volume == "auto" else Decimal(str(volume))
            dimensions.append({"type": kind, "volume": value})
        periods.append(
            ChargingPeriod.model_validate({"start_date_time": moment, "dimensions": dimensions})
        )
        moment = moment + timedelta(minutes=float(minutes))
    return Session(periods, begin, moment)
