"""Benchmark: CDRs priced per second for a complex tariff.

Run: ``python bench/bench_tariffs.py [--seconds 3]``. Not part of the test run.

The tariff has 14 elements with time-of-day windows (one wrapping past midnight), days of the
week, a date range, kWh tiers, power and current bands, session-duration overstay fees and all four
dimensions, priced in Europe/Amsterdam local time. Sessions: a typical 2-hour CDR with 8 charging
periods, and a 24-hour CDR with 96 periods crossing every restriction boundary.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import progress

from app.ocpi.schemas.cdrs import CDR, ChargingPeriod
from app.ocpi.schemas.tariffs import Tariff
from app.tariffs import apply_to_cdr, compile_tariff, price_cdr

WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
WEEKEND = ["SATURDAY", "SUNDAY"]
TZ = "Europe/Amsterdam"


def pc(kind: str, price: str, vat: str = "21", step: int = 1) -> dict[str, Any]:
    return {"type": kind, "price": price, "vat": vat, "step_size": step}


TARIFF: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "VLT",
    "id": "BENCH-COMPLEX",
    "currency": "EUR",
    "min_price": {"excl_vat": "1.00", "incl_vat": "1.21"},
    "max_price": {"excl_vat": "500.00", "incl_vat": "605.00"},
    "elements": [
        {
            "price_components": [pc("FLAT", "0.35")],
            "restrictions": {"start_time": "06:00", "end_time": "23:00"},
        },
        {"price_components": [pc("FLAT", "0.50")]},
        {"price_components": [pc("ENERGY", "0.19", step=100)], "restrictions": {"min_kwh": 60}},
        {
            "price_components": [pc("ENERGY", "0.69", step=100), pc("TIME", "1.20", step=60)],
            "restrictions": {"min_power": 150},
        },
        {
            "price_components": [pc("ENERGY", "0.59", step=100), pc("TIME", "0.60", step=60)],
            "restrictions": {"min_power": 50, "max_power": 150},
        },
        {
            "price_components": [pc("ENERGY", "0.45", step=100)],
            "restrictions": {"start_time": "07:00", "end_time": "11:00", "day_of_week": WEEKDAYS},
        },
        {
            "price_components": [pc("ENERGY", "0.47", step=100)],
            "restrictions": {"start_time": "17:00", "end_time": "21:00", "day_of_week": WEEKDAYS},
        },
        {
            "price_components": [pc("ENERGY", "0.25", step=100)],
            "restrictions": {"start_time": "23:00", "end_time": "06:00"},
        },
        {
            "price_components": [pc("ENERGY", "0.30", step=100)],
            "restrictions": {
                "day_of_week": WEEKEND,
                "start_date": "2024-01-01",
                "end_date": "2030-01-01",
            },
        },
        {
            "price_components": [
                pc("TIME", "6.00", step=300),
                pc("PARKING_TIME", "9.00", step=300),
            ],
            "restrictions": {"min_duration": 4 * 3600, "start_time": "08:00", "end_time": "20:00"},
        },
        {"price_components": [pc("TIME", "0.30", step=60)], "restrictions": {"max_current": 16}},
        {
            "price_components": [pc("PARKING_TIME", "3.00", "9", step=600)],
            "restrictions": {"start_time": "09:00", "end_time": "18:00", "day_of_week": WEEKDAYS},
        },
        {
            "price_components": [pc("PARKING_TIME", "1.00", "9", step=600)],
            "restrictions": {"min_duration": 2 * 3600},
        },
        {"price_components": [pc("ENERGY", "0.39", step=100), pc("TIME", "0.10", step=60)]},
    ],
    "last_updated": "2024-01-01T00:00:00Z",
}


def make_cdr(start: datetime, periods: int, minutes: int) -> CDR:
    charging_periods = []
    moment = start
    for i in range(periods):
        parking = i % 7 == 6
        power = Decimal((i * 37) % 200 + 3)
        dims: list[dict[str, Any]]
        if parking:
            dims = [{"type": "PARKING_TIME", "volume": Decimal(minutes) / 60}]
        else:
            energy = (power * minutes / 60).quantize(Decimal("0.001"))
            dims = [
                {"type": "ENERGY", "volume": energy},
                {"type": "TIME", "volume": Decimal(minutes) / 60},
                {"type": "MIN_POWER", "volume": power},
                {"type": "MAX_POWER", "volume": power + 2},
                {"type": "MIN_CURRENT", "volume": (i * 11) % 40},
                {"type": "MAX_CURRENT", "volume": (i * 11) % 40 + 4},
            ]
        charging_periods.append(
            ChargingPeriod.model_validate({"start_date_time": moment, "dimensions": dims})
        )
        moment += timedelta(minutes=minutes)
    return CDR.model_validate(
        {
            "country_code": "NL",
            "party_id": "VLT",
            "id": f"BENCH-{periods}",
            "start_date_time": start,
            "end_date_time": moment,
            "cdr_token": {
                "country_code": "DE",
                "party_id": "TNM",
                "uid": "012345678",
                "type": "RFID",
                "contract_id": "DE8ACC12E46L89",
            },
            "auth_method": "WHITELIST",
            "cdr_location": {
                "id": "LOC1",
                "address": "Stationsplein 1",
                "city": "Amsterdam",
                "country": "NLD",
                "coordinates": {"latitude": "52.378901", "longitude": "4.900591"},
                "evse_uid": "3256",
                "evse_id": "NL*VLT*E3256",
                "connector_id": "1",
                "connector_standard": "IEC_62196_T2_COMBO",
                "connector_format": "CABLE",
                "connector_power_type": "DC",
            },
            "currency": "EUR",
            "charging_periods": charging_periods,
            "total_cost": {"excl_vat": 0},
            "total_energy": 0,
            "total_time": 0,
            "last_updated": moment,
        }
    )


def rate(label: str, work: Any, seconds: float) -> float:
    progress.status(f"measuring {label} for {seconds:g} s")
    work()  # warm up
    count = 0
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        work()
        count += 1
    elapsed = time.perf_counter() - began
    per_second = count / elapsed
    progress.clear()
    print(f"  {label:<52} {per_second:10.1f} CDRs/s  ({1000 / per_second:7.2f} ms/CDR)")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()

    tariff = Tariff.model_validate(TARIFF)
    compiled = compile_tariff(tariff)
    # Thursday morning, Amsterdam winter time.
    start = datetime(2024, 1, 11, 6, 40, tzinfo=UTC)
    typical = make_cdr(start, periods=8, minutes=15)
    long_cdr = make_cdr(start, periods=96, minutes=15)

    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"tariff: {len(TARIFF['elements'])} elements; time zone {TZ}; one process, one thread")
    for cdr in (typical, long_cdr):
        priced = price_cdr(cdr, compiled, TZ)
        print(
            f"{len(cdr.charging_periods)} charging periods "
            f"({(cdr.end_date_time - cdr.start_date_time) / timedelta(hours=1):.0f} h): "
            f"{len(priced.lines)} cost lines, total {priced.total_cost.rounded().excl_vat} EUR "
            f"excl. VAT / {priced.total_cost.rounded().incl_vat} incl."
        )
        rate("price_cdr, compiled tariff", lambda c=cdr: price_cdr(c, compiled, TZ), args.seconds)
        rate(
            "price_cdr + apply_to_cdr, tariff compiled each time",
            lambda c=cdr: apply_to_cdr(c, price_cdr(c, tariff, TZ)),
            args.seconds,
        )


if __name__ == "__main__":
    main()
