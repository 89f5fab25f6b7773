"""Engine rules beyond the spec's worked examples: restrictions, VAT, limits, errors, CDR output."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.ocpi.schemas.cdrs import ChargingPeriod
from app.ocpi.schemas.tariffs import TariffDimensionType
from app.tariffs import (
    SessionDataError,
    TariffError,
    apply_to_cdr,
    compile_tariff,
    price_cdr,
    price_session,
    resolve_time_zone,
    running_cost,
)
from tests.tariffs.helpers import D, at, cdr, make_tariff, session, tariff

AUTO = "auto"
AMS = "Europe/Amsterdam"


def time_element(price: str | int, restrictions: dict[str, Any] | None = None, **pc: Any) -> dict:
    element: dict[str, Any] = {
        "price_components": [{"type": "TIME", "price": price, "step_size": 1, **pc}]
    }
    if restrictions:
        element["restrictions"] = restrictions
    return element


def energy_element(price: str | int, restrictions: dict[str, Any] | None = None) -> dict:
    element: dict[str, Any] = {
        "price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]
    }
    if restrictions:
        element["restrictions"] = restrictions
    return element


# --- time of day, dates, days, local time ---------------------------------------------------------


def test_time_window_wrapping_past_midnight_in_local_time() -> None:
    # 1 EUR/h between 22:00 and 06:00 local time, else 10 EUR/h.
    t = make_tariff(time_element(1, {"start_time": "22:00", "end_time": "06:00"}), time_element(10))
    # 21:00 to 07:00 Amsterdam (winter): 1 h at 10, 8 h at 1, 1 h at 10.
    priced = session("2024-01-10 21:00", (600, {"TIME": AUTO}), tz=AMS).price(t, AMS)
    assert priced.total_time_cost.excl_vat == D(28)
    # The same instants priced in UTC are an hour earlier on the clock: 20:00-06:00 UTC.
    assert session("2024-01-10 21:00", (600, {"TIME": AUTO}), tz=AMS).price(
        t
    ).total_time_cost.excl_vat == D(8 + 2 * 10)


def test_end_time_midnight_means_end_of_day() -> None:
    t = make_tariff(time_element(1, {"start_time": "20:00", "end_time": "00:00"}))
    priced = session("2024-01-10 19:00", (300, {"TIME": AUTO})).price(t)  # 19:00 - 00:00
    assert priced.total_time_cost.excl_vat == D(4)


def test_start_time_only_and_end_time_only() -> None:
    t = make_tariff(time_element(1, {"start_time": "12:00"}), time_element(0))
    assert session("2024-01-10 11:00", (120, {"TIME": AUTO})).price(t).total_cost.excl_vat == 1
    t = make_tariff(time_element(1, {"end_time": "12:00"}), time_element(0))
    assert session("2024-01-10 11:00", (120, {"TIME": AUTO})).price(t).total_cost.excl_vat == 1


def test_start_date_inclusive_end_date_exclusive_local() -> None:
    t = make_tariff(
        energy_element(1, {"start_date": "2024-01-11", "end_date": "2024-01-12"}),
        energy_element(0),
    )
    # 10 Jan 23:00 to 12 Jan 01:00 local, 1 kWh per hour: only 11 Jan (24 kWh) is priced.
    priced = session("2024-01-10 23:00", (26 * 60, {"ENERGY": 26}), tz=AMS).price(t, AMS)
    assert priced.total_energy_cost.excl_vat == D(24)


def test_day_of_week_uses_local_day() -> None:
    t = make_tariff(energy_element(1, {"day_of_week": ["MONDAY"]}), energy_element(0))
    # Sunday 23:30 UTC is Monday 01:30 in Amsterdam (winter, UTC+1).
    s = session("2024-01-07 23:30", (60, {"ENERGY": 6}))
    assert s.price(t, AMS).total_cost.excl_vat == D(6)
    assert s.price(t, "UTC").total_cost.excl_vat == D(3)  # only 00:00-00:30 UTC is Monday


def test_wrapping_window_and_day_of_week_are_anded_per_instant() -> None:
    # "treated as a logical AND": Friday 22:00-06:00 does not cover Saturday 02:00.
    t = make_tariff(
        time_element(1, {"start_time": "22:00", "end_time": "06:00", "day_of_week": ["FRIDAY"]})
    )
    priced = session("2024-01-12 21:00", (240, {"TIME": AUTO})).price(t)  # Fri 21:00-Sat 01:00
    assert priced.total_cost.excl_vat == D(2)


def test_dst_spring_forward_cuts_where_the_clock_jumps() -> None:
    # 31 March 2024, Amsterdam: 02:00 CET -> 03:00 CEST (01:00 UTC). From 02:30 local time.
    t = make_tariff(time_element(1, {"start_time": "02:30", "end_time": "23:00"}))
    priced = session("2024-03-31 00:00", (120, {"TIME": AUTO})).price(t, AMS)  # 00:00-02:00Z
    # Local 01:00 CET .. 04:00 CEST; the window holds from 03:00 CEST (01:00Z): one hour.
    assert priced.total_cost.excl_vat == D(1)


def test_dst_fall_back_counts_the_repeated_hour_twice() -> None:
    # 27 October 2024, Amsterdam: 03:00 CEST -> 02:00 CET (01:00 UTC); 02:00-03:00 happens twice.
    t = make_tariff(time_element(1, {"start_time": "02:00", "end_time": "03:00"}))
    priced = session("2024-10-26 23:00", (240, {"TIME": AUTO})).price(t, AMS)
    assert priced.total_cost.excl_vat == D(2)


# --- energy, power, current, duration -------------------------------------------------------------


def test_max_kwh_splits_a_period_at_the_threshold() -> None:
    t = make_tariff(energy_element("0.10", {"max_kwh": 10}), energy_element("0.30"))
    priced = session("2024-01-10 10:00", (60, {"ENERGY": 20})).price(t)
    assert priced.total_energy_cost.excl_vat == D("4.00")
    first, second = (line for line in priced.lines if line.dimension is TariffDimensionType.ENERGY)
    assert first.end == at("2024-01-10 10:30") == second.start


def test_min_kwh_applies_after_the_threshold_across_periods() -> None:
    t = make_tariff(energy_element("0.50", {"min_kwh": 5}), energy_element("0.20"))
    s = session("2024-01-10 10:00", (30, {"ENERGY": 3}), (30, {"ENERGY": 12}))
    assert s.price(t).total_energy_cost.excl_vat == D("1.00") + D("5.00")


def test_time_priced_by_kwh_restriction() -> None:
    # Restrictions of one element apply to all its dimensions: TIME free for the first 10 kWh.
    t = make_tariff(time_element(0, {"max_kwh": 10}), time_element(6))
    priced = session("2024-01-10 10:00", (60, {"ENERGY": 20, "TIME": AUTO})).price(t)
    assert priced.total_time_cost.excl_vat == D(3)


def test_min_and_max_current() -> None:
    t = make_tariff(
        time_element(1, {"max_current": 32}),
        time_element(2, {"min_current": 32}),
    )
    s = session(
        "2024-01-10 10:00",
        (60, {"TIME": AUTO, "MAX_CURRENT": 16, "MIN_CURRENT": 10}),
        (60, {"TIME": AUTO, "MIN_CURRENT": 40, "MAX_CURRENT": 48}),
        (60, {"TIME": AUTO, "MIN_CURRENT": 20, "MAX_CURRENT": 40}),  # crosses 32 A: neither
        (60, {"TIME": AUTO}),  # current unknown: neither restriction can be said to hold
    )
    assert s.price(t).total_time_cost.excl_vat == D(3)


def test_session_only_current_and_power_dimensions_are_used() -> None:
    t = make_tariff(time_element(1, {"min_current": 32, "min_power": 20}))
    s = session("2024-01-10 10:00", (60, {"TIME": AUTO, "CURRENT": 40, "POWER": 22}))
    assert s.price(t).total_cost.excl_vat == D(1)


def test_min_duration_and_max_duration() -> None:
    # Parking: free for the first 2 hours of the session, then 3 EUR/h; cut inside a period.
    t = make_tariff(
        {
            "price_components": [{"type": "PARKING_TIME", "price": 3, "step_size": 1}],
            "restrictions": {"min_duration": 7200},
        }
    )
    # 10:00-11:30 charging, 11:30-13:00 parking: parking after 12:00 costs, one hour.
    s = session("2024-01-10 10:00", (90, {"TIME": AUTO}), (90, {"PARKING_TIME": AUTO}))
    assert s.price(t).total_parking_cost.excl_vat == D(3)
    # max_duration: TIME free for the first 30 minutes, then 2 EUR/h.
    t = make_tariff(time_element(0, {"max_duration": 1800}), time_element(2))
    s = session("2024-01-10 10:00", (90, {"TIME": AUTO}))
    assert s.price(t).total_time_cost.excl_vat == D(2)


def test_dimensions_from_different_elements_and_unmatched_is_free() -> None:
    t = make_tariff(
        {
            "price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}],
            "restrictions": {"start_time": "08:00", "end_time": "20:00"},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.99", "step_size": 1},
                {"type": "TIME", "price": "1", "step_size": 1},
            ]
        },
    )
    priced = session("2024-01-10 10:00", (60, {"ENERGY": 10, "TIME": AUTO})).price(t)
    assert priced.total_energy_cost.excl_vat == D("3.00")  # from the first element
    assert priced.total_time_cost.excl_vat == D(1)  # from the second
    assert priced.total_parking_cost.excl_vat == 0


def test_charging_time_defaults_to_duration_minus_parking() -> None:
    t = make_tariff(time_element(6))
    priced = session("2024-01-10 10:00", (60, {"ENERGY": 10, "PARKING_TIME": "0.25"})).price(t)
    assert priced.total_time_cost.excl_vat == D("4.5")
    assert priced.total_time == D(1)
    assert priced.total_parking_time == D("0.25")
    assert priced.total_charging_time == D("0.75")


def test_reservation_elements_do_not_price_charging() -> None:
    t = make_tariff(time_element(5, {"reservation": "RESERVATION"}))
    assert session("2024-01-10 10:00", (60, {"TIME": AUTO})).price(t).total_cost.excl_vat == 0


def test_flat_fee_is_billed_once_when_it_first_applies() -> None:
    # An evening start fee that only applies from 18:00: billed once, when it becomes active.
    t = make_tariff(
        {
            "price_components": [{"type": "FLAT", "price": 2, "step_size": 0}],
            "restrictions": {"start_time": "18:00"},
        },
        {"price_components": [{"type": "FLAT", "price": 1, "step_size": 0}]},
    )
    assert session("2024-01-10 17:00", (120, {"TIME": AUTO})).price(t).total_cost.excl_vat == 1
    assert session("2024-01-10 18:30", (120, {"TIME": AUTO})).price(t).total_cost.excl_vat == 2


# --- VAT, min_price, max_price --------------------------------------------------------------------


def test_vat_omitted_means_no_vat_applicable() -> None:
    t = make_tariff(
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.25", "step_size": 1},
                {"type": "FLAT", "price": "1", "vat": 0, "step_size": 1},
                {"type": "TIME", "price": "1", "vat": 21, "step_size": 1},
            ]
        }
    )
    priced = session("2024-01-10 10:00", (60, {"ENERGY": 10, "TIME": AUTO})).price(t)
    assert priced.total_energy_cost.incl_vat == priced.total_energy_cost.excl_vat == D("2.5")
    assert priced.total_fixed_cost.incl_vat == D(1)
    assert priced.total_time_cost.incl_vat == D("1.21")
    assert priced.total_cost.incl_vat == D("4.71")
    vats = {line.dimension: line.vat for line in priced.lines}
    assert vats[TariffDimensionType.ENERGY] is None  # kept apart from 0 %
    assert vats[TariffDimensionType.FLAT] == 0


def test_min_and_max_price_bound_excl_and_incl_independently() -> None:
    # 20 % VAT on energy; min excl 10 / incl 11: 5 kWh = 5 / 6 -> 10 / 11.
    t = make_tariff(
        {"price_components": [{"type": "ENERGY", "price": 1, "vat": 20, "step_size": 1}]},
        min_price={"excl_vat": 10, "incl_vat": 11},
        max_price={"excl_vat": 30, "incl_vat": 35},
    )
    low = session("2024-01-10 10:00", (60, {"ENERGY": 5})).price(t).total_cost
    assert (low.excl_vat, low.incl_vat) == (D(10), D(11))
    # 9.5 kWh = 9.5 / 11.4: only the excl. VAT minimum applies.
    mid = session("2024-01-10 10:00", (60, {"ENERGY": "9.5"})).price(t).total_cost
    assert (mid.excl_vat, mid.incl_vat) == (D(10), D("11.4"))
    # 29.5 kWh = 29.5 / 35.4: only the incl. VAT bound applies.
    high = session("2024-01-10 10:00", (60, {"ENERGY": "29.5"})).price(t).total_cost
    assert (high.excl_vat, high.incl_vat) == (D("29.5"), D(35))


def test_limit_without_incl_vat_keeps_the_vat_rate() -> None:
    t = make_tariff(
        {"price_components": [{"type": "ENERGY", "price": 1, "vat": 20, "step_size": 1}]},
        max_price={"excl_vat": 10},
    )
    total = session("2024-01-10 10:00", (60, {"ENERGY": 20})).price(t).total_cost
    assert (total.excl_vat, total.incl_vat) == (D(10), D(12))


# --- live sessions, CDR output --------------------------------------------------------------------


def test_running_cost_is_the_cost_if_stopped_now() -> None:
    t = tariff("tariff_13_simple_3hour_5parking.json")
    s = session("2024-01-10 10:00", (60, {"TIME": AUTO}), (2, {"PARKING_TIME": AUTO}))
    live = running_cost(t, s.periods, s.start, s.end)
    assert live.total_cost == s.price(t).total_cost
    # Parking started 2 minutes ago: 3.00 + 5 minutes of parking at 5.00.
    assert live.total_cost.rounded().excl_vat == D("3.4167")
    # A clock behind the last meter value is taken as that meter value's time.
    last_start = s.periods[-1].start_date_time
    early = running_cost(t, s.periods, s.start, last_start - timedelta(seconds=1))
    assert early.total_cost == price_session(t, s.periods, s.start, last_start).total_cost
    # No meter values yet: the time so far counts as charging time.
    assert running_cost(t, [], s.start, s.start + timedelta(hours=1)).total_cost.excl_vat == 3


def test_apply_to_cdr_rounds_to_four_decimals_and_sets_every_total() -> None:
    example = cdr()
    t = make_tariff(
        {"price_components": [{"type": "TIME", "price": "0.12345", "vat": 19, "step_size": 0}]}
    )
    out = apply_to_cdr(example, price_cdr(example, t)).to_json()
    # 1.973 h * 0.12345 = 0.24356685 -> 0.2436; incl. 19 % = 0.2898445... -> 0.2898
    assert out["total_cost"] == {"excl_vat": 0.2436, "incl_vat": 0.2898}
    for key in (
        "total_fixed_cost",
        "total_energy_cost",
        "total_time_cost",
        "total_parking_cost",
        "total_reservation_cost",
        "total_parking_time",
        "total_energy",
        "total_time",
    ):
        assert key in out
    assert out["total_energy"] == 0  # the example states 15.342 kWh but has no ENERGY dimension


def test_compiled_tariff_can_be_reused() -> None:
    compiled = compile_tariff(tariff("tariff_4_complex.json"))
    s = session("2024-06-03 09:30", (60, {"TIME": AUTO, "MAX_CURRENT": 10}), tz=AMS)
    assert (
        s.price(compiled, AMS).total_cost
        == s.price(tariff("tariff_4_complex.json"), AMS).total_cost
    )


# --- invalid input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "field"),
    [
        (
            time_element(1, {"start_date": "2015-02-30"}),
            "elements[0].restrictions.start_date",
        ),
        (time_element(-1), "elements[0].price_components[0].price"),
        (time_element(1, vat=-5), "elements[0].price_components[0].vat"),
        (time_element(1, {"max_kwh": -1}), "elements[0].restrictions.max_kwh"),
    ],
)
def test_invalid_tariff_names_the_field(element: dict, field: str) -> None:
    with pytest.raises(TariffError) as info:
        compile_tariff(make_tariff(element))
    assert info.value.field == field
    assert str(info.value).startswith(field + ": ")


def test_unsorted_periods_and_end_before_last_period_are_refused() -> None:
    t = make_tariff(time_element(1))
    s = session("2024-01-10 10:00", (60, {"TIME": AUTO}), (60, {"TIME": AUTO}))
    with pytest.raises(SessionDataError) as info:
        price_session(t, list(reversed(s.periods)), s.start, s.end)
    assert info.value.field == "charging_periods[1].start_date_time"
    with pytest.raises(SessionDataError) as info:
        price_session(t, s.periods, s.start, s.start + timedelta(minutes=30))
    assert info.value.field == "end_date_time"


def test_negative_time_volume_is_refused() -> None:
    period = ChargingPeriod.model_validate(
        {
            "start_date_time": "2024-01-10T10:00:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 1}, {"type": "TIME", "volume": -1}],
        }
    )
    with pytest.raises(SessionDataError) as info:
        price_session(
            make_tariff(time_element(1)), [period], at("2024-01-10 10:00"), at("2024-01-10 11:00")
        )
    assert info.value.field == "charging_periods[0].dimensions[1].volume"


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        resolve_time_zone("Mars/Olympus_Mons")
    assert resolve_time_zone(AMS).utcoffset(at("2024-01-01 00:00").replace(tzinfo=None)) == (
        timedelta(hours=1)
    )


def test_the_engines_fast_cost_is_a_cost() -> None:
    import dataclasses
    from decimal import Decimal

    from app.tariffs.engine import _cost
    from app.tariffs.money import Cost

    fast = _cost(Decimal("1.5"), Decimal("1.815"))
    assert type(fast) is Cost and fast == Cost(Decimal("1.5"), Decimal("1.815"))
    assert hash(fast) == hash(Cost(Decimal("1.5"), Decimal("1.815")))
    assert repr(fast) == repr(Cost(Decimal("1.5"), Decimal("1.815")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.excl_vat = Decimal(0)  # type: ignore[misc]


def test_the_engines_fast_priced_session_is_a_priced_session() -> None:
    import dataclasses
    from decimal import Decimal

    from app.tariffs.engine import PricedSession, _priced_session

    t = make_tariff(time_element(2), energy_element("0.25"))
    priced = session("2024-01-10 11:00", (90, {"TIME": AUTO, "ENERGY": 7})).price(t)
    values = [getattr(priced, f.name) for f in dataclasses.fields(PricedSession)]
    fast = _priced_session(*values)
    slow = PricedSession(*values)
    assert type(fast) is PricedSession and fast == slow and hash(fast) == hash(slow)
    assert repr(fast) == repr(slow) and fast.total_cost.excl_vat == D("4.75")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.total_time = Decimal(0)  # type: ignore[misc]
    with pytest.raises(ValueError):
        _priced_session(*values[:-1])  # every field or none
