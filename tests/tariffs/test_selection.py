"""select_tariff: which of a connector's tariffs applies (mod_tariffs, TariffType)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.ocpi.schemas.tariffs import Tariff
from app.tariffs import select_tariff, tariff_type_for


def tariff(tariff_id: str, kind: str | None, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "CPA",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
        "last_updated": "2026-01-01T00:00:00Z",
        **fields,
    }
    if kind is not None:
        data["type"] = kind
    return data


REG = tariff("REG", "REGULAR")
ADHOC = tariff("ADHOC", "AD_HOC_PAYMENT")
CHEAP = tariff("CHEAP", "PROFILE_CHEAP")
FAST = tariff("FAST", "PROFILE_FAST")
ANY = tariff("ANY", None)


def chosen(tariffs: list[dict[str, Any]], token: str | None, profile: str | None = None) -> str:
    found = select_tariff(tariffs, token, profile)
    assert found is not None
    return str(found["id"])


@pytest.mark.parametrize(
    ("token", "profile", "expected"),
    [
        ("AD_HOC_USER", None, "AD_HOC_PAYMENT"),
        ("AD_HOC_USER", "CHEAP", "AD_HOC_PAYMENT"),  # paying on the spot decides
        ("RFID", None, "REGULAR"),
        ("APP_USER", None, "REGULAR"),
        ("OTHER", None, "REGULAR"),
        (None, None, "REGULAR"),
        ("RFID", "CHEAP", "PROFILE_CHEAP"),
        ("APP_USER", "FAST", "PROFILE_FAST"),
        ("RFID", "GREEN", "PROFILE_GREEN"),
        ("RFID", "REGULAR", "REGULAR"),
        ("rfid", "cheap", "PROFILE_CHEAP"),  # CiString-like input in any case
    ],
)
def test_the_tariff_type_meant_for_a_token_and_profile(
    token: str | None, profile: str | None, expected: str
) -> None:
    assert tariff_type_for(token, profile).value == expected


def test_an_ad_hoc_payer_gets_the_ad_hoc_tariff_wherever_it_is_listed() -> None:
    # The Location: tariff_ids ["REG", "ADHOC"].
    assert chosen([REG, ADHOC], "AD_HOC_USER") == "ADHOC"
    assert chosen([ADHOC, REG], "AD_HOC_USER") == "ADHOC"


def test_other_tokens_get_the_regular_tariff_not_the_ad_hoc_one() -> None:
    for token in ("RFID", "APP_USER", "OTHER"):
        assert chosen([ADHOC, REG], token) == "REG"
        assert chosen([REG, ADHOC], token) == "REG"


def test_a_charging_preference_picks_its_profile_tariff() -> None:
    assert chosen([REG, CHEAP, FAST], "RFID", "CHEAP") == "CHEAP"
    assert chosen([REG, CHEAP, FAST], "APP_USER", "FAST") == "FAST"
    assert chosen([REG, CHEAP, FAST], "RFID", "REGULAR") == "REG"
    # No PROFILE_GREEN tariff: REGULAR.
    assert chosen([CHEAP, REG], "RFID", "GREEN") == "REG"


def test_without_the_wanted_type_an_untyped_tariff_then_regular_then_the_first() -> None:
    # "When omitted, this tariff is valid for all sessions."
    assert chosen([REG, ANY], "AD_HOC_USER") == "ANY"
    assert chosen([ADHOC, ANY], "RFID") == "ANY"
    assert chosen([CHEAP, REG], "AD_HOC_USER") == "REG"
    assert chosen([CHEAP, FAST], "AD_HOC_USER") == "CHEAP"
    assert chosen([ADHOC], "RFID") == "ADHOC"
    # The wanted type wins over an untyped tariff listed before it.
    assert chosen([ANY, ADHOC], "AD_HOC_USER") == "ADHOC"
    assert chosen([ANY, REG], "RFID") == "REG"


def test_the_first_of_the_wanted_type_in_tariff_ids_order() -> None:
    second = tariff("ADHOC2", "AD_HOC_PAYMENT")
    assert chosen([REG, ADHOC, second], "AD_HOC_USER") == "ADHOC"
    assert chosen([REG, second, ADHOC], "AD_HOC_USER") == "ADHOC2"


def test_no_tariffs_no_choice() -> None:
    assert select_tariff([], "AD_HOC_USER") is None


def test_tariffs_outside_their_validity_are_passed_over() -> None:
    old = tariff("OLD", "AD_HOC_PAYMENT", end_date_time="2026-03-01T00:00:00Z")
    new = tariff("NEW", "AD_HOC_PAYMENT", start_date_time="2026-03-01T00:00:00Z")
    february = datetime(2026, 2, 10, tzinfo=UTC)
    march = datetime(2026, 3, 1, tzinfo=UTC)
    assert select_tariff([REG, old, new], "AD_HOC_USER", at=february) is old
    assert select_tariff([REG, old, new], "AD_HOC_USER", at=march) is new
    # Not valid at all at that moment: the choice is made as if no dates were given.
    assert select_tariff([old], "AD_HOC_USER", at=march) is old
    # Without a moment, dates are not looked at.
    assert select_tariff([REG, old, new], "AD_HOC_USER") is old


def test_tariff_objects_work_as_well_as_their_json() -> None:
    models = [Tariff.model_validate(t) for t in (REG, ADHOC)]
    assert select_tariff(models, "AD_HOC_USER") is models[1]
    assert select_tariff(models, "RFID") is models[0]
