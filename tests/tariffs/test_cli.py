"""``voltroam tariff price`` (tested on ``tariff_app`` directly)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.tariffs.cli import tariff_app
from tests.tariffs.helpers import EXAMPLES, example

runner = CliRunner()
CDR_FILE = str(EXAMPLES / "cdr_example.json")


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def cdr_tariff(tmp_path: Path) -> str:
    return write(tmp_path, "tariff.json", example("cdr_example.json")["tariffs"][0])


def test_price_prints_the_cdr_with_recomputed_totals(tmp_path: Path) -> None:
    data = example("cdr_example.json")
    data["total_cost"] = {"excl_vat": 999, "incl_vat": 999}  # totals in the file are ignored
    data["total_energy"] = 15.342
    cdr_file = write(tmp_path, "cdr.json", data)
    result = runner.invoke(tariff_app, ["price", cdr_tariff(tmp_path), cdr_file])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["id"] == "12345"
    assert out["total_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert out["total_time_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert out["total_time"] == 1.973
    assert out["total_energy"] == 0
    assert out["total_parking_time"] == 0
    assert out["total_reservation_cost"] == {"excl_vat": 0, "incl_vat": 0}
    assert out["charging_periods"] == data["charging_periods"]


def test_time_zone_option(tmp_path: Path) -> None:
    # tariff_14: TIME 1.20/h before 17:00 local, 2.40/h after; the CDR charges 16:30-17:30 UTC.
    cdr = example("cdr_example.json")
    cdr["start_date_time"] = "2024-01-10T16:30:00Z"
    cdr["end_date_time"] = "2024-01-10T17:30:00Z"
    cdr["charging_periods"] = [
        {"start_date_time": "2024-01-10T16:30:00Z", "dimensions": [{"type": "TIME", "volume": 1}]}
    ]
    cdr_file = write(tmp_path, "cdr.json", cdr)
    tariff_file = str(EXAMPLES / "tariff_14_step_size.json")
    utc = runner.invoke(tariff_app, ["price", tariff_file, cdr_file])
    ams = runner.invoke(
        tariff_app, ["price", tariff_file, cdr_file, "--time-zone", "Europe/Amsterdam"]
    )
    assert utc.exit_code == ams.exit_code == 0, utc.output + ams.output
    assert json.loads(utc.stdout)["total_cost"]["excl_vat"] == 1.8  # 0.60 + 1.20
    assert json.loads(ams.stdout)["total_cost"]["excl_vat"] == 2.4  # 17:30-18:30 local


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: t.pop("currency"), "invalid tariff: currency: Field required"),
        (lambda t: t.update(currency="EURO"), "invalid tariff: currency:"),
        (
            lambda t: t["elements"][0]["price_components"][0].update(price="two"),
            "elements[0].price_components[0].price",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"start_time": "25:00"}),
            "elements[0].restrictions.start_time",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"end_date": "2023-02-29"}),
            "invalid tariff: elements[0].restrictions.end_date: '2023-02-29' is not a valid date",
        ),
        (lambda t: t.update(elements=[]), "elements"),
    ],
)
def test_invalid_tariff_exits_2_naming_the_field(
    tmp_path: Path, mutate: Any, expected: str
) -> None:
    tariff = example("cdr_example.json")["tariffs"][0]
    mutate(tariff)
    result = runner.invoke(tariff_app, ["price", write(tmp_path, "tariff.json", tariff), CDR_FILE])
    assert result.exit_code == 2
    assert expected in result.stderr


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.pop("charging_periods"), "invalid CDR: charging_periods: Field required"),
        (
            lambda c: c["charging_periods"][0]["dimensions"][0].update(type="LIGHTYEARS"),
            "charging_periods[0].dimensions[0].type",
        ),
        (
            lambda c: c.update(end_date_time="2015-06-29T20:00:00Z"),
            "invalid CDR: end_date_time: before the start of the last charging period",
        ),
        (
            lambda c: c["charging_periods"].append(
                {
                    "start_date_time": "2015-06-29T21:00:00Z",
                    "dimensions": c["charging_periods"][0]["dimensions"],
                }
            ),
            "invalid CDR: charging_periods[1].start_date_time: earlier than the start",
        ),
        (lambda c: c.update(currency="USD"), "invalid CDR: currency: 'USD' differs"),
        (lambda c: c.pop("currency"), "invalid CDR: currency: Field required"),
        (lambda c: c.pop("start_date_time"), "invalid CDR: start_date_time: Field required"),
        (lambda c: c.pop("end_date_time"), "invalid CDR: end_date_time: Field required"),
        (lambda c: c.update(charging_periods=[]), "invalid CDR: charging_periods:"),
        (
            lambda c: c.update(start_date_time="29 June 2015"),
            "invalid CDR: start_date_time: Value error, not an RFC 3339 date-time",
        ),
        (
            lambda c: c.update(end_date_time="2015-02-30T10:00:00Z"),
            "invalid CDR: end_date_time:",
        ),
        (
            lambda c: c["charging_periods"][0].update(start_date_time="yesterday"),
            "invalid CDR: charging_periods[0].start_date_time:",
        ),
    ],
)
def test_invalid_cdr_exits_2_naming_the_field(tmp_path: Path, mutate: Any, expected: str) -> None:
    cdr = example("cdr_example.json")
    mutate(cdr)
    result = runner.invoke(
        tariff_app, ["price", cdr_tariff(tmp_path), write(tmp_path, "cdr.json", cdr)]
    )
    assert result.exit_code == 2
    assert expected in result.stderr


def test_unreadable_input_and_bad_options(tmp_path: Path) -> None:
    tariff = cdr_tariff(tmp_path)
    missing = runner.invoke(tariff_app, ["price", str(tmp_path / "nope.json"), CDR_FILE])
    assert missing.exit_code == 2
    assert "cannot read tariff file" in missing.stderr
    broken = runner.invoke(tariff_app, ["price", tariff, write(tmp_path, "cdr.json", "{oops")])
    assert broken.exit_code == 2
    assert "invalid CDR:" in broken.stderr and "not valid JSON" in broken.stderr
    zone = runner.invoke(tariff_app, ["price", tariff, CDR_FILE, "--time-zone", "Mars/Base"])
    assert zone.exit_code == 2
    assert "invalid --time-zone" in zone.stderr
    reservation = runner.invoke(tariff_app, ["price", tariff, CDR_FILE, "--reservation", "X"])
    assert reservation.exit_code == 2
    assert "invalid --reservation" in reservation.stderr


def test_reservation_option(tmp_path: Path) -> None:
    cdr = example("cdr_example.json")
    cdr["start_date_time"] = "2024-01-10T10:00:00Z"
    cdr["end_date_time"] = "2024-01-10T11:00:00Z"
    cdr["charging_periods"] = [
        {
            "start_date_time": "2024-01-10T10:00:00Z",
            "dimensions": [{"type": "RESERVATION_TIME", "volume": 1}],
        }
    ]
    cdr_file = write(tmp_path, "cdr.json", cdr)
    tariff_file = str(EXAMPLES / "tariff_17_reservation_with_expire_fee.json")
    expired = runner.invoke(tariff_app, ["price", tariff_file, cdr_file])
    cancelled = runner.invoke(
        tariff_app, ["price", tariff_file, cdr_file, "--reservation", "RESERVATION"]
    )
    assert json.loads(expired.stdout)["total_reservation_cost"] == {"excl_vat": 6, "incl_vat": 7.2}
    assert json.loads(cancelled.stdout)["total_cost"] == {"excl_vat": 2, "incl_vat": 2.4}


def test_help_lists_price() -> None:
    result = runner.invoke(tariff_app, ["--help"])
    assert result.exit_code == 0
    assert "price" in result.output


# Issue 13.6: the command prices what pricing needs and carries the rest.
TARIFF_ONLY_PRICES = {
    # No country_code, party_id, id or last_updated: a tariff being drafted, or copied from a
    # partner's documentation.
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1},
                {"type": "FLAT", "price": 1.00, "vat": 21, "step_size": 1},
            ]
        }
    ],
}
PERIODS = [
    {"start_date_time": "2026-01-01T12:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 12}]},
    {"start_date_time": "2026-01-01T12:30:00Z", "dimensions": [{"type": "ENERGY", "volume": 8}]},
]


def price(tmp_path: Path, document: Any, *options: str, tariff: Any = None) -> Any:
    tariff_file = write(tmp_path, "tariff.json", tariff or TARIFF_ONLY_PRICES)
    return runner.invoke(
        tariff_app, ["price", tariff_file, write(tmp_path, "doc.json", document), *options]
    )


def test_a_minimal_cdr_is_priced_and_what_it_carries_is_kept(tmp_path: Path) -> None:
    cdr = {
        "start_date_time": "2026-01-01T12:00:00Z",
        "end_date_time": "2026-01-01T13:00:00Z",
        "currency": "EUR",
        "charging_periods": PERIODS,
        # Not needed for pricing, incomplete, or unknown: carried as they are.
        "id": "CDR-MIN",
        "cdr_location": {"id": "LOC1"},
        "x_vendor": {"note": "kept"},
    }
    result = price(tmp_path, cdr)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # 20 kWh x 0.30 + 1.00 = 7.00, 8.47 incl. 21 % VAT.
    assert out["total_cost"] == {"excl_vat": 7, "incl_vat": 8.47}
    assert out["total_energy"] == 20 and out["total_time"] == 1
    assert out["total_energy_cost"] == {"excl_vat": 6, "incl_vat": 7.26}
    assert out["total_fixed_cost"] == {"excl_vat": 1, "incl_vat": 1.21}
    assert out["id"] == "CDR-MIN" and out["cdr_location"] == {"id": "LOC1"}
    assert out["x_vendor"] == {"note": "kept"}
    assert out["charging_periods"] == PERIODS


def test_a_tariff_without_country_code_party_id_or_last_updated_prices_the_spec_cdr(
    tmp_path: Path,
) -> None:
    tariff = example("cdr_example.json")["tariffs"][0]
    for name in ("country_code", "party_id", "id", "last_updated"):
        tariff.pop(name)
    result = runner.invoke(tariff_app, ["price", write(tmp_path, "tariff.json", tariff), CDR_FILE])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_cost"] == {"excl_vat": 4, "incl_vat": 4.4}


def session_document(**fields: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPA",
        "id": "S1",
        "start_date_time": "2026-01-01T12:00:00Z",
        "kwh": 20,
        "auth_method": "WHITELIST",
        "currency": "EUR",
        "charging_periods": PERIODS,
        "status": "COMPLETED",
        "end_date_time": "2026-01-01T13:00:00Z",
        "last_updated": "2026-01-01T13:00:05Z",
        **fields,
    }


def test_a_session_is_priced_into_its_total_cost(tmp_path: Path) -> None:
    document = session_document(total_cost={"excl_vat": 1, "incl_vat": 1.21})
    result = price(tmp_path, document)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["total_cost"] == {"excl_vat": 7, "incl_vat": 8.47}
    # A Session keeps its own fields: no CDR totals are added to it.
    assert "total_energy" not in out and "total_time" not in out
    assert {k: v for k, v in out.items() if k != "total_cost"} == {
        k: v for k, v in document.items() if k != "total_cost"
    }


def test_a_running_session_is_priced_until_its_last_updated(tmp_path: Path) -> None:
    # No end_date_time yet: the figures describe the session at last_updated.
    time_tariff = {
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "TIME", "price": 2.0, "step_size": 1}]}],
    }
    running = session_document(status="ACTIVE", last_updated="2026-01-01T12:45:00Z")
    running.pop("end_date_time")
    result = price(tmp_path, running, tariff=time_tariff)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_cost"] == {"excl_vat": 1.5, "incl_vat": 1.5}
    running.pop("last_updated")
    result = price(tmp_path, running, tariff=time_tariff)
    assert result.exit_code == 2
    assert "invalid Session: end_date_time:" in result.stderr
    # last_updated before the last period started cannot end the session.
    running["last_updated"] = "2026-01-01T12:10:00Z"
    result = price(tmp_path, running, tariff=time_tariff)
    assert result.exit_code == 2
    assert "invalid Session: last_updated: before the start of the last charging period" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s.pop("currency"), "invalid Session: currency: Field required"),
        (lambda s: s.pop("charging_periods"), "invalid Session: charging_periods: Field required"),
        (
            lambda s: s.update(end_date_time="2026-13-01T00:00:00Z"),
            "invalid Session: end_date_time:",
        ),
        (lambda s: s.update(currency="GBP"), "invalid Session: currency: 'GBP' differs"),
    ],
)
def test_an_invalid_session_exits_2_naming_the_field(
    tmp_path: Path, mutate: Any, expected: str
) -> None:
    document = session_document()
    mutate(document)
    result = price(tmp_path, document)
    assert result.exit_code == 2
    assert expected in result.stderr


def test_the_session_option_prices_a_minimal_document_as_a_session(tmp_path: Path) -> None:
    document = {
        "start_date_time": "2026-01-01T12:00:00Z",
        "end_date_time": "2026-01-01T13:00:00Z",
        "currency": "EUR",
        "charging_periods": PERIODS,
    }
    as_cdr = json.loads(price(tmp_path, document).stdout)
    assert as_cdr["total_energy"] == 20
    result = price(tmp_path, document, "--session")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        **document,
        "total_cost": {"excl_vat": 7, "incl_vat": 8.47},
    }
