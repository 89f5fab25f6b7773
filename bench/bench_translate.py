"""Benchmark: what translating a message between OCPI versions costs.

Run: ``python bench/bench_translate.py [--seconds 0.5]``. Not part of the test run.

For each module and direction (2.1.1 or 2.3.0 -> canonical 2.2.1, and back) it prints µs per
message beside two baselines measured in the same run on the same message: ``json`` is
``json.loads(json.dumps(obj))`` (the least any handling of the message costs) and ``2.2.1`` is
what the hub does today with a 2.2.1 message (validate it with the 2.2.1 model and write it back
as JSON). The ratios are translation / baseline.

Messages: the specs' example Location (2 EVSEs, 3 Connectors) and a 20-EVSE Location, a Tariff
with 6 elements, a Token, a finished Session with 3 charging periods, a CDR with its Tariff, and a
START_SESSION. The 2.3.0 forms carry Parking places, tax amounts and an extension field; the
2.1.1 forms embed their Location as 2.1.1 does.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import progress

from app.ocpi.translation import CANONICAL, Kind, PartyIds, TranslationContext, normalise
from app.ocpi.v211 import translate as v211
from app.ocpi.v230 import translate as v230

NOW = "2024-12-05T17:39:09Z"


def connector(cid: str, tariff: str) -> dict[str, Any]:
    return {
        "id": cid,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "tariff_ids": [tariff],
        "last_updated": NOW,
    }


def evse(uid: str, connectors: int) -> dict[str, Any]:
    return {
        "uid": uid,
        "evse_id": f"NL*ABC*E{uid}",
        "status": "AVAILABLE",
        "capabilities": ["RESERVABLE", "REMOTE_START_STOP_CAPABLE"],
        "connectors": [connector(str(i + 1), "T1") for i in range(connectors)],
        "physical_reference": uid,
        "floor_level": "-1",
        "last_updated": NOW,
    }


def location(evses: int) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "ABC",
        "id": "LOC1" if evses == 2 else f"LOC{evses}",
        "publish": True,
        "name": "Gent Zuid",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "parking_type": "ON_STREET",
        "evses": [evse(str(3256 + i), 2 if i == 0 else 1) for i in range(evses)],
        "operator": {"name": "BeCharged"},
        "time_zone": "Europe/Brussels",
        "opening_times": {"twentyfourseven": True},
        "last_updated": NOW,
    }


def pc(kind: str, price: str, step: int = 1) -> dict[str, Any]:
    return {"type": kind, "price": price, "vat": "21", "step_size": step}


TARIFF = {
    "country_code": "NL",
    "party_id": "ABC",
    "id": "T1",
    "currency": "EUR",
    "tariff_alt_text": [{"language": "en", "text": "0.45/kWh, parking 2.00/h after 18:00"}],
    "elements": [
        {"price_components": [pc("FLAT", "0.50")]},
        {"price_components": [pc("ENERGY", "0.45", 100)], "restrictions": {"max_power": 50}},
        {"price_components": [pc("ENERGY", "0.59", 100)], "restrictions": {"min_power": 50}},
        {
            "price_components": [pc("PARKING_TIME", "2.00", 300)],
            "restrictions": {"start_time": "18:00", "end_time": "08:00"},
        },
        {"price_components": [pc("TIME", "1.00", 60)], "restrictions": {"min_duration": 7200}},
        {"price_components": [pc("ENERGY", "0.39", 100)]},
    ],
    "last_updated": NOW,
}
TOKEN = {
    "country_code": "DE",
    "party_id": "TNM",
    "uid": "012345678",
    "type": "RFID",
    "contract_id": "DE8ACC12E46L89",
    "visual_number": "DF000-2001-8999-1",
    "issuer": "TheNewMotion",
    "group_id": "DF000-2001-8999",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": NOW,
}
CDR_TOKEN = {k: TOKEN[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")}
PERIODS = [
    {
        "start_date_time": "2024-12-05T17:39:09Z",
        "dimensions": [{"type": "ENERGY", "volume": 12.5}, {"type": "TIME", "volume": 0.5}],
        "tariff_id": "T1",
    },
    {
        "start_date_time": "2024-12-05T18:09:09Z",
        "dimensions": [{"type": "ENERGY", "volume": 20.1}, {"type": "MAX_POWER", "volume": 45}],
        "tariff_id": "T1",
    },
    {
        "start_date_time": "2024-12-05T19:09:09Z",
        "dimensions": [{"type": "PARKING_TIME", "volume": 0.25}],
        "tariff_id": "T1",
    },
]
SESSION = {
    "country_code": "NL",
    "party_id": "ABC",
    "id": "101",
    "start_date_time": "2024-12-05T17:39:09Z",
    "end_date_time": "2024-12-05T19:24:09Z",
    "kwh": 32.6,
    "cdr_token": CDR_TOKEN,
    "auth_method": "WHITELIST",
    "location_id": "LOC1",
    "evse_uid": "3256",
    "connector_id": "1",
    "currency": "EUR",
    "charging_periods": PERIODS,
    "total_cost": {"excl_vat": "15.67", "incl_vat": "18.96"},
    "status": "COMPLETED",
    "last_updated": NOW,
}
CDR = {
    "country_code": "NL",
    "party_id": "ABC",
    "id": "CDR-101",
    "start_date_time": "2024-12-05T17:39:09Z",
    "end_date_time": "2024-12-05T19:24:09Z",
    "session_id": "101",
    "cdr_token": CDR_TOKEN,
    "auth_method": "WHITELIST",
    "cdr_location": {
        "id": "LOC1",
        "name": "Gent Zuid",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "evse_uid": "3256",
        "evse_id": "NL*ABC*E3256",
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2",
        "connector_format": "SOCKET",
        "connector_power_type": "AC_3_PHASE",
    },
    "currency": "EUR",
    "tariffs": [TARIFF],
    "charging_periods": PERIODS,
    "total_cost": {"excl_vat": "15.67", "incl_vat": "18.96"},
    "total_energy": 32.6,
    "total_energy_cost": {"excl_vat": "14.67", "incl_vat": "17.75"},
    "total_time": 1.75,
    "total_parking_time": 0.25,
    "total_parking_cost": {"excl_vat": "0.50", "incl_vat": "0.61"},
    "last_updated": NOW,
}
START_SESSION = {
    "response_url": "https://emsp.example/ocpi/2.2.1/commands/START_SESSION/8f2c",
    "token": TOKEN,
    "location_id": "LOC1",
    "evse_uid": "3256",
    "connector_id": "1",
}

MESSAGES: list[tuple[str, Kind, dict[str, Any]]] = [
    ("Location (2 EVSEs)", Kind.LOCATION, location(2)),
    ("Location (20 EVSEs)", Kind.LOCATION, location(20)),
    ("Tariff (6 elements)", Kind.TARIFF, TARIFF),
    ("Token", Kind.TOKEN, TOKEN),
    ("Session (3 periods)", Kind.SESSION, SESSION),
    ("CDR (with its Tariff)", Kind.CDR, CDR),
    ("START_SESSION", Kind.START_SESSION, START_SESSION),
]


def as_230(kind: Kind, data: dict[str, Any]) -> dict[str, Any]:
    """The 2.3.0 form a 2.3.0 sender would send: with 2.3.0-only fields."""
    obj = copy.deepcopy(v230.from_canonical(kind, data, None))
    obj["vendor_reference"] = "X-1"  # an extension field
    if kind == Kind.LOCATION:
        obj["parking_places"] = [
            {
                "id": f"P{e['uid']}",
                "vehicle_types": ["PERSONAL_VEHICLE"],
                "restricted_to_type": False,
                "reservation_required": False,
            }
            for e in obj["evses"]
        ]
        for e in obj["evses"]:
            e["parking"] = [{"parking_id": f"P{e['uid']}", "evse_position": "LEFT"}]
        obj["help_phone"] = "+32 9 123 45 67"
    if kind in (Kind.SESSION, Kind.CDR):
        obj["total_cost"]["taxes"] = [
            {"name": "GST", "amount": 0.78},
            {"name": "QST", "amount": 2.51},
        ]
    return obj


def timed(fn: Callable[[], Any], seconds: float) -> float:
    """µs per call: as many calls as fit in ``seconds``, best of three rounds."""
    fn()
    calls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / 3:
        fn()
        calls += 1
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.6, help="time per measurement")
    args = parser.parse_args()

    owner = PartyIds("NL", "ABC")
    rows: list[tuple[str, str, float, float, float]] = []
    for label, kind, message in MESSAGES:
        progress.step(f"measuring {label}")
        data = normalise(CANONICAL[kind], message)
        model = CANONICAL[kind]
        text = json.dumps(data)
        bare = timed(lambda text=text: json.dumps(json.loads(text)), args.seconds)  # type: ignore[misc]
        plain = timed(lambda data=data, model=model: normalise(model, data), args.seconds)  # type: ignore[misc]

        msg230 = as_230(kind, data)
        stored, ext = v230.to_canonical(kind, msg230)
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("2.3.0 -> canonical", lambda k=kind, m=msg230: v230.to_canonical(k, m)),
            ("canonical -> 2.3.0", lambda k=kind, d=stored, e=ext: v230.from_canonical(k, d, e)),
        ]
        token_221 = normalise(CANONICAL[Kind.TOKEN], TOKEN)
        location_221 = normalise(CANONICAL[Kind.LOCATION], location(2))
        ctx = TranslationContext(
            owner=owner if kind != Kind.START_SESSION else PartyIds("DE", "TNM"),
            token=token_221,
            location=location_221,
            time_zone="Europe/Brussels",
        )
        try:
            msg211 = v211.from_canonical(kind, data, None, ctx)
        except Exception as exc:  # a message 2.1.1 cannot carry: say so, measure the rest
            progress.step(f"  2.1.1: {exc}")
        else:
            cases += [
                ("2.1.1 -> canonical", lambda k=kind, m=msg211, c=ctx: v211.to_canonical(k, m, c)),
                (
                    "canonical -> 2.1.1",
                    lambda k=kind, d=data, c=ctx: v211.from_canonical(k, d, None, c),
                ),
            ]
        for direction, fn in cases:
            rows.append((label, direction, timed(fn, args.seconds), bare, plain))
    progress.clear()

    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(
        f"{'message':<22} {'direction':<19} {'µs/msg':>8} {'json µs':>8} {'x json':>7} "
        f"{'2.2.1 µs':>9} {'x 2.2.1':>8}"
    )
    for label, direction, cost, bare, plain in rows:
        print(
            f"{label:<22} {direction:<19} {cost:>8.0f} {bare:>8.1f} {cost / bare:>7.1f} "
            f"{plain:>9.0f} {cost / plain:>8.1f}"
        )


if __name__ == "__main__":
    main()
