"""The compiled-tariff cache: one compile per tariff version, a new last_updated compiles afresh."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from app.ocpi.schemas.cdrs import ChargingPeriod
from app.ocpi.schemas.tariffs import Tariff
from app.tariffs import (
    cache,
    clear_compiled_tariffs,
    compile_tariff,
    compiled_tariff,
    price_session,
)


def tariff_data(price: str, last_updated: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "VLT",
        "id": "T1",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]}],
        "last_updated": last_updated,
    }


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    clear_compiled_tariffs()
    yield
    clear_compiled_tariffs()


def cost(tariff: Any) -> Decimal:
    start = datetime(2024, 1, 1, 10, tzinfo=UTC)
    period = ChargingPeriod.model_validate(
        {"start_date_time": start, "dimensions": [{"type": "ENERGY", "volume": 10}]}
    )
    end = datetime(2024, 1, 1, 11, tzinfo=UTC)
    return price_session(compiled_tariff(tariff), [period], start, end).total_cost.excl_vat


def test_the_same_version_is_compiled_once() -> None:
    data = tariff_data("0.30")
    first = compiled_tariff(data)
    assert compiled_tariff(dict(data)) is first
    model = Tariff.model_validate(data)
    assert compiled_tariff(model) is compiled_tariff(Tariff.model_validate(data))
    assert compiled_tariff(first) is first
    assert cost(data) == Decimal("3.00")


def test_a_changed_tariff_with_a_new_last_updated_is_recompiled() -> None:
    assert cost(tariff_data("0.30")) == Decimal("3.00")
    changed = tariff_data("0.50", "2024-02-01T00:00:00Z")
    assert cost(changed) == Decimal("5.00")
    assert compiled_tariff(changed) is not compiled_tariff(tariff_data("0.30"))
    # As a model too.
    assert cost(Tariff.model_validate(tariff_data("0.40", "2024-03-01T00:00:00Z"))) == Decimal(
        "4.00"
    )


def test_a_tariff_changed_without_a_new_last_updated_is_recompiled() -> None:
    # Copies changed in memory keep their id and last_updated: the content decides.
    data = tariff_data("0.30")
    assert cost(data) == Decimal("3.00")
    assert cost(tariff_data("0.70")) == Decimal("7.00")
    assert cost({**data, "currency": "SEK"}) == Decimal("3.00")
    assert compiled_tariff({**data, "currency": "SEK"}).currency == "SEK"
    data["elements"][0]["price_components"][0]["price"] = "0.90"  # changed in place
    assert cost(data) == Decimal("9.00")
    model = Tariff.model_validate(tariff_data("0.30"))
    assert cost(model) == Decimal("3.00")
    model.elements[0].price_components[0].price = Decimal("0.20")
    assert cost(model) == Decimal("2.00")


def test_a_tariff_without_its_identity_is_compiled_every_time() -> None:
    # Only its prices, as ``voltroam tariff price`` takes it: no owner, no last_updated.
    model = Tariff.model_validate(tariff_data("0.30"))
    terms = SimpleNamespace(
        id=model.id,
        currency=model.currency,
        elements=model.elements,
        min_price=None,
        max_price=None,
    )
    assert compiled_tariff(terms) is not compiled_tariff(terms)
    assert not cache._cache


def test_bad_tariffs_raise_and_are_not_kept() -> None:
    bad = tariff_data("-1")
    for _ in range(2):
        with pytest.raises(ValueError):
            compiled_tariff(bad)
    assert not cache._cache


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "CACHE_SIZE", 3)
    tariffs = [tariff_data("0.30", f"2024-01-0{day}T00:00:00Z") for day in range(1, 6)]
    compiled = [compiled_tariff(t) for t in tariffs]
    assert len(cache._cache) == 3
    assert compiled_tariff(tariffs[-1]) is compiled[-1]  # kept
    assert compiled_tariff(tariffs[0]) is not compiled[0]  # dropped, compiled again
    assert compile_tariff(Tariff.model_validate(tariffs[0])) == compiled_tariff(tariffs[0])
