"""Benchmark: CDRs priced per second for a complex tariff.

Run: ``python bench/bench_tariffs.py [--seconds 3]``. Not part of the test run.

Prints, from one run, the engine (``price_cdr`` with a compiled tariff: "hub") beside a bare
baseline ("bare": the same CDR priced in one straight-line pass, summing each dimension's volume
and multiplying it by one price, VAT and rounding - see :func:`bare_price`), both in CDRs per
second on one core (CPU time of the thread: on a shared machine, waiting for a core is not
counted), and the ratio of their times per CDR. They run in alternating 0.1 s slices.

The tariff has 14 elements with time-of-day windows (one wrapping past midnight), days of the
week, a date range, kWh tiers, power and current bands, session-duration overstay fees and all four
dimensions, priced in Europe/Amsterdam local time. Sessions: a typical 2-hour CDR with 8 charging
periods, and a 24-hour CDR with 96 periods crossing every restriction boundary.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import progress
from common import Ratio, load_average, machine_line, print_ratios

from app.ocpi.schemas.cdrs import CDR, CdrDimensionType, ChargingPeriod
from app.ocpi.schemas.tariffs import Tariff
from app.tariffs import apply_to_cdr, compile_tariff, compiled_tariff, price_cdr

WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
WEEKEND = ["SATURDAY", "SUNDAY"]
TZ = "Europe/Amsterdam"
ENERGY, TIME, PARKING = (
    CdrDimensionType.ENERGY,
    CdrDimensionType.TIME,
    CdrDimensionType.PARKING_TIME,
)
# The bare baseline's one-element tariff: the bench tariff's unrestricted prices.
BARE_ZERO = Decimal(0)
BARE_FLAT, BARE_ENERGY, BARE_TIME, BARE_PARKING = (
    Decimal("0.50"),
    Decimal("0.39"),
    Decimal("0.10"),
    Decimal("1.00"),
)
BARE_VAT = Decimal("1.21")
QUANTUM = Decimal("0.0001")


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


def bare_price(cdr: CDR) -> tuple[Decimal, Decimal]:
    """The bare baseline: the same CDR priced straight-line, as by a one-element tariff.

    One pass over the charging periods summing each dimension's volume, then volume x price for
    ENERGY, TIME and PARKING_TIME plus the start fee, VAT added, rounded to OCPI's 4 decimals:
    the least any pricing of this CDR does (read every period, Decimal arithmetic), without
    restrictions, cuts, step_size or min/max price.
    """
    energy = time_ = parking = BARE_ZERO
    for period in cdr.charging_periods:
        for dim in period.dimensions:
            kind = dim.type
            if kind is ENERGY:
                energy += dim.volume
            elif kind is TIME:
                time_ += dim.volume
            elif kind is PARKING:
                parking += dim.volume
    excl = BARE_FLAT + energy * BARE_ENERGY + time_ * BARE_TIME + parking * BARE_PARKING
    return excl.quantize(QUANTUM), (excl * BARE_VAT).quantize(QUANTUM)


def measure(work: dict[str, Callable[[], object]], seconds: float) -> dict[str, float]:
    """Calls per CPU second of each function on one core.

    Time is this thread's CPU time (``time.thread_time``): on a shared machine the time spent
    waiting for a core is not counted. The functions run in alternating 0.1 s slices so that
    all of them see the same conditions (caches, frequency, neighbours).
    """
    counts = dict.fromkeys(work, 0)
    spent = dict.fromkeys(work, 0.0)
    for fn in work.values():
        fn()  # warm up
    slice_ = 0.1
    clock = time.thread_time
    while min(spent.values()) < seconds:
        for name, fn in work.items():
            began = clock()
            stop = began + slice_
            n = 0
            while True:
                fn()
                n += 1
                if not n % 8 and clock() >= stop:
                    break
            spent[name] += clock() - began
            counts[name] += n
    return {name: counts[name] / spent[name] for name in work}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="CPU seconds per function and CDR"
    )
    args = parser.parse_args()

    tariff = Tariff.model_validate(TARIFF)
    compiled = compile_tariff(tariff)
    # Thursday morning, Amsterdam winter time.
    start = datetime(2024, 1, 11, 6, 40, tzinfo=UTC)
    typical = make_cdr(start, periods=8, minutes=15)
    long_cdr = make_cdr(start, periods=96, minutes=15)

    print(f"bench_tariffs ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC): CDRs priced per second")
    print(machine_line())
    print(f"load average at the start: {load_average()} (1, 5, 15 min; the machine is shared)")
    print(f"tariff: {len(TARIFF['elements'])} elements; time zone {TZ}; one process, one thread")
    print(
        "hub: price_cdr(cdr, compiled tariff, time zone), the engine; "
        "bare: one straight-line pass summing the CDR's volumes x one price each, VAT, rounding"
    )
    rows: list[Ratio] = []
    for name, cdr in (("2 h CDR", typical), ("24 h CDR", long_cdr)):
        priced = price_cdr(cdr, compiled, TZ)
        print(
            f"{name}: {len(cdr.charging_periods)} charging periods, "
            f"{len(priced.lines)} cost lines, total {priced.total_cost.rounded().excl_vat} EUR "
            f"excl. VAT / {priced.total_cost.rounded().incl_vat} incl."
        )
        progress.status(f"measuring the {name} for {args.seconds:g} s each")
        rates = measure(
            {
                "hub": lambda c=cdr: price_cdr(c, compiled, TZ),
                "bare": lambda c=cdr: bare_price(c),
                "end-to-end": lambda c=cdr: apply_to_cdr(c, price_cdr(c, tariff, TZ)),
                "cached": lambda c=cdr: apply_to_cdr(c, price_cdr(c, compiled_tariff(tariff), TZ)),
            },
            args.seconds,
        )
        progress.clear()
        print(
            f"  hub {rates['hub']:10.0f} CDRs/s on one core   bare {rates['bare']:10.0f} CDRs/s"
            f"   (compile + price + apply_to_cdr: {rates['end-to-end']:.0f} CDRs/s; "
            f"with compiled_tariff's cache: {rates['cached']:.0f} CDRs/s)"
        )
        rows.append(
            Ratio(
                f"{name}, time per CDR", 1e6 / rates["hub"], 1e6 / rates["bare"], "µs", 1, "lower"
            )
        )
    print_ratios(rows)


if __name__ == "__main__":
    main()
