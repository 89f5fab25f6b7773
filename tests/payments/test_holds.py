"""Holds that fit the EVSE and its tariff: the price of charging at the connector's max power for
PAYMENT_HOLD_HOURS (and parking where the tariff prices it), bounded per currency, or the tariff's
preauthorize_amount; shown on the pay page before the driver pays, and held."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select

from app.core.settings import Settings
from app.hub.store.models import OcpiObject
from app.payments.hold import connector_power_kw, fitted_hold
from app.payments.models import Payment
from tests.hub.network import network
from tests.payments.test_partner_flow import ADHOC, put_issue_site

NOON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
PARKING = {
    **ADHOC,
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1},
                {"type": "FLAT", "price": 1.00, "vat": 21, "step_size": 1},
                {"type": "PARKING_TIME", "price": 2.00, "vat": 21, "step_size": 60},
            ]
        }
    ],
}
SINGLE_PHASE_16A = {"id": "1", "power_type": "AC_1_PHASE", "max_voltage": 230, "max_amperage": 16}


def settings(**values: Any) -> Settings:
    return Settings(**{"payment_hold_hours": 2, "payment_hold_parking_hours": 1, **values})


def test_the_connector_power_comes_from_its_fields() -> None:
    assert connector_power_kw(SINGLE_PHASE_16A) == Decimal("3.68")
    three = {"power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32}
    assert connector_power_kw(three) == Decimal("22.08")
    assert connector_power_kw({**three, "max_electric_power": 11000}) == 11
    assert connector_power_kw({"power_type": "DC"}) is None


def test_the_hold_is_the_price_of_the_longest_session_within_the_bounds() -> None:
    # 3.68 kW x 2 h = 7.36 kWh x 0.30 + 1.00 + 1 h parking x 2.00 = 5.208, x 1.21 = 6.30.
    hold = fitted_hold(settings(), PARKING, SINGLE_PHASE_16A, "Europe/Amsterdam", NOON)
    assert hold.amount == 630 and "2 h of charging" in hold.basis and "1 h of parking" in hold.basis
    # Without a parking price the parking hour costs nothing: 3.208 x 1.21 = 3.88 -> the minimum.
    hold = fitted_hold(settings(), ADHOC, SINGLE_PHASE_16A, "UTC", NOON)
    assert (hold.amount, hold.basis) == (500, "the least the hub holds")
    hold = fitted_hold(settings(payment_hold_min="EUR=1"), ADHOC, SINGLE_PHASE_16A, "UTC", NOON)
    assert hold.amount == 388
    # A fast charger for 8 h is more than the hub holds: the most (PAYMENT_HOLD).
    fast = {"id": "2", "power_type": "DC", "max_electric_power": 150000}
    assert fitted_hold(Settings(), ADHOC, fast, "UTC", NOON).amount == 5000
    assert fitted_hold(Settings(payment_hold="EUR=80"), ADHOC, fast, "UTC", NOON).amount == 8000
    # Unknown power: the most.
    assert fitted_hold(settings(), ADHOC, {"id": "3"}, "UTC", NOON).amount == 5000
    # A currency not listed: PAYMENT_HOLD_MIN_DEFAULT / PAYMENT_HOLD_DEFAULT (major units).
    sek = {**ADHOC, "currency": "SEK"}
    assert fitted_hold(settings(), sek, {"id": "3"}, "UTC", NOON).amount == 50000
    isk = {**ADHOC, "currency": "ISK"}
    assert fitted_hold(settings(), isk, SINGLE_PHASE_16A, "UTC", NOON).amount == 5


def test_an_ocpi_230_preauthorize_amount_is_held_within_the_bounds() -> None:
    tariff = {**ADHOC, "preauthorize_amount": 25}
    hold = fitted_hold(settings(), tariff, SINGLE_PHASE_16A, "UTC", NOON)
    assert (hold.amount, hold.basis) == (2500, "the operator's preauthorization amount")
    assert fitted_hold(settings(), {**ADHOC, "preauthorize_amount": 500}, {}, "UTC").amount == 5000


def test_hold_settings_are_checked() -> None:
    for bad in ({"payment_hold_min": "EUR=x"}, {"payment_hold_min_default": "0"}):
        with pytest.raises(ValueError, match="PAYMENT_HOLD_MIN"):
            Settings(**bad)
    for hours in (0, -1):
        with pytest.raises(ValueError):
            Settings(payment_hold_hours=hours)


async def test_the_pay_page_shows_the_fitted_hold_and_the_checkout_holds_it(
    database_url: str,
) -> None:
    # The test Location's connector: 230 V x 32 A x 3 phases = 22.08 kW; half an hour is
    # 11.04 kWh x 0.30 + 1.00 = 4.312, x 1.21 = 5.22.
    async with network(database_url, payment_hold_hours=0.5, payment_hold_parking_hours=0) as n:
        await put_issue_site(n)
        base = n.hub.base_url
        page = re.sub(r"\s+", " ", (await n.http.get(f"{base}/pay/EVSE1")).text)
        assert 'We hold <strong id="hold">€5.22</strong>' in page
        assert "(0.5 h of charging at the connector&#39;s full power)" in page
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        checkout = await n.http.get(started.headers["location"])
        assert "€5.22" in checkout.text
        async with n.ctx.sessions() as session:
            payment = (await session.exec(select(Payment))).one()
        assert payment.hold_amount == 522


async def test_a_preauthorize_amount_a_230_cpo_gave_is_the_hold(database_url: str) -> None:
    # A 2.3.0 CPO's tariff keeps preauthorize_amount beside the canonical 2.2.1 form, in ext.
    async with network(database_url) as n:
        await put_issue_site(n)
        async with n.ctx.sessions() as session:
            rows = await session.exec(select(OcpiObject).where(OcpiObject.module == "tariffs"))
            for row in rows.all():
                row.ext = {"$fields": {"preauthorize_amount": {"$set": 12}}}
                session.add(row)
            await session.commit()
        base = n.hub.base_url
        page = re.sub(r"\s+", " ", (await n.http.get(f"{base}/pay/EVSE1")).text)
        assert 'We hold <strong id="hold">€12.00</strong>' in page
        assert "(the operator&#39;s preauthorization amount)" in page
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        assert started.status_code in (302, 303), started.text
        async with n.ctx.sessions() as session:
            payment = (await session.exec(select(Payment))).one()
        assert payment.hold_amount == 1200
