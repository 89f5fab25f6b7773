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
        (lambda t: t.pop("last_updated"), "invalid tariff: last_updated: Field required"),
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
