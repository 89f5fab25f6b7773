"""QR codes of pay pages (admin API and CLI), provider choice and its safety rule, metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.settings import Settings
from app.payments.qr import pay_url, qr_code
from tests.conftest import free_port, hub_settings
from tests.hub.network import location, network

runner = CliRunner()


async def test_qr_codes_of_pay_pages(database_url: str, tmp_path: Path) -> None:
    async with network(database_url) as n:
        r = await n.http.put(
            n.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=n.auth(n.cpo)
        )
        assert r.json()["status_code"] == 1000
        base = n.hub.base_url
        url = f"{base}/admin/evses/EVSE1/qr"
        assert (await n.http.get(url)).status_code == 401
        svg = await n.http.get(url, headers=n.admin)
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.content == qr_code(f"{base}/pay/EVSE1", "svg")
        assert b"<svg" in svg.content
        png = await n.http.get(url, params={"format": "png", "scale": 4}, headers=n.admin)
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert png.content == qr_code(f"{base}/pay/EVSE1", "png", 4)
        assert (await n.http.get(f"{base}/admin/evses/NOPE/qr", headers=n.admin)).status_code == 404
        bad = await n.http.get(url, params={"format": "gif"}, headers=n.admin)
        assert bad.status_code == 422
        env = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "PUBLIC_URL": "https://hub.example.com",
            "LOG_LEVEL": "WARNING",
        }
        out = tmp_path / "evse1.png"
        result = await asyncio.to_thread(
            runner.invoke, cli, ["charger", "qr", "EVSE1", "--output", str(out)], env=env
        )
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == qr_code("https://hub.example.com/pay/EVSE1", "png")
        result = await asyncio.to_thread(runner.invoke, cli, ["charger", "qr", "EVSE1"], env=env)
        assert result.exit_code == 0 and "<svg" in result.output
        result = await asyncio.to_thread(runner.invoke, cli, ["charger", "qr", "NOPE"], env=env)
        assert result.exit_code == 1 and "No single EVSE NOPE" in result.output
        result = await asyncio.to_thread(
            runner.invoke, cli, ["charger", "qr", "EVSE1", "--format", "gif"], env=env
        )
        assert result.exit_code == 2


def test_pay_url_escapes_the_uid() -> None:
    assert pay_url("https://h/", "A B/1") == "https://h/pay/A%20B%2F1"
    assert pay_url("https://h", "E1", "NL*CPA") == "https://h/pay/E1?cpo=NL*CPA"


def test_hold_amounts_are_checked_when_the_settings_load() -> None:
    assert Settings(payment_hold="EUR=25, SEK=300").payment_hold == "EUR=25, SEK=300"
    for bad in ("EUR=abc", "EUR", "EURO=5", "EUR=-1"):
        with pytest.raises(ValueError, match="PAYMENT_HOLD"):
            Settings(payment_hold=bad)
    with pytest.raises(ValueError, match="PAYMENT_HOLD_DEFAULT"):
        Settings(payment_hold_default="x")


def test_provider_choice_and_the_live_key_rule() -> None:
    assert Settings().payment_provider_name == "local"
    assert Settings(stripe_secret_key="sk_test_x").payment_provider_name == "stripe"
    assert Settings(stripe_secret_key="sk_live_x").payment_provider_name == "stripe"
    with pytest.raises(ValueError, match="cannot run with a live Stripe key"):
        _ = Settings(payments_provider="local", stripe_secret_key="sk_live_x").payment_provider_name
    with pytest.raises(ValueError, match="cannot run with a live Stripe key"):
        _ = Settings(payments_provider="local", stripe_secret_key="rk_live_x").payment_provider_name
    with pytest.raises(ValueError, match="needs STRIPE_SECRET_KEY"):
        _ = Settings(payments_provider="stripe").payment_provider_name
    with pytest.raises(ValueError, match="auto, stripe or local"):
        _ = Settings(payments_provider="paypal").payment_provider_name


def test_serve_refuses_the_local_provider_beside_a_live_key(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "SECRET_KEY": "x",
        "PAYMENTS_PROVIDER": "local",
        "STRIPE_SECRET_KEY": "sk_live_not_a_real_key",
    }
    result = runner.invoke(cli, ["serve", "--port", str(free_port())], env=env)
    assert result.exit_code == 2
    assert "cannot run with a live Stripe key" in result.output
    assert "sk_live_not_a_real_key" not in result.output


async def test_the_app_itself_refuses_it_too(database_url: str) -> None:
    from app.hub.context import HubContext
    from app.payments.runner import Payments

    ctx = HubContext.create(
        hub_settings(database_url, 1, payments_provider="local", stripe_secret_key="sk_live_x")
    )
    try:
        with pytest.raises(ValueError, match="live Stripe key"):
            Payments(ctx)
    finally:
        await ctx.close()
