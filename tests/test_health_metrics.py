"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import httpx
import pytest

from app.core.settings import Settings
from app.main import create_app
from tests.hub.network import location, network, session


async def test_healthz_and_readyz(database_url: str) -> None:
    async with network(database_url) as net:
        assert (await net.http.get(f"{net.hub.base_url}/healthz")).json() == {"status": "ok"}
        ready = await net.http.get(f"{net.hub.base_url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ok" and ready.json()["revision"] == ready.json()["head"]


async def test_metrics_count_requests_deliveries_and_sessions(database_url: str) -> None:
    async with network(database_url) as net:
        await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
        )
        await net.http.put(
            net.url("receiver/sessions/NL/CPA/S1"), json=session(), headers=net.auth(net.cpo)
        )
        await net.http.get(net.url("sender/locations"), headers={"Authorization": "Token nope"})
        from tests.hub.network import wait_for

        await wait_for(lambda: len(net.emsp2.pushes("locations")) == 1)
        await wait_for(lambda: len(net.emsp1.pushes("sessions")) == 1)
        text = (await net.http.get(f"{net.hub.base_url}/metrics")).text
        assert (
            'voltroam_ocpi_requests_total{direction="inbound",http_status="201",'
            'module="locations",ocpi_status="1000"} 1.0' in text
        )
        assert 'module="locations",ocpi_status="2000"} 1.0' in text  # the 401
        assert 'direction="outbound"' in text and 'module="locations"' in text
        assert (
            'voltroam_delivery_attempts_total{module="locations",outcome="delivered"} 2.0' in text
        )
        assert "voltroam_delivery_latency_seconds_bucket" in text
        assert "voltroam_active_sessions 1.0" in text
        assert 'voltroam_platforms{status="CONNECTED"} 3.0' in text
        assert 'voltroam_delivery_queue{status="failed"} 0.0' in text


async def test_readyz_reports_an_unreachable_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import running_hub

    async with running_hub(f"sqlite:///{tmp_path / 'db.sqlite'}") as hub:
        await hub.app.state.hub.engine.dispose()
        (tmp_path / "db.sqlite").unlink()
        (tmp_path / "db.sqlite").mkdir()  # now a directory: opening it fails
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{hub.base_url}/readyz")
        assert response.status_code == 503


def test_fastapi_telemetry_is_off_unless_asked_for(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The hub's metrics are Prometheus's; FastAPI's OpenTelemetry instrumentation only when an
    # operator asks for it (FASTAPI_TELEMETRY), so that requests do not look for providers.
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    quiet = create_app(Settings(database_url=url, secret_key="k"))
    asked = create_app(Settings(database_url=url, secret_key="k", fastapi_telemetry=True))
    telemetry = getattr(quiet, "_telemetry", None)
    if telemetry is None:
        pytest.skip("a FastAPI release without native telemetry: nothing to turn off")
    assert (telemetry["tracing"], telemetry["metrics"], telemetry["logs"]) == (False,) * 3
    assert asked._telemetry["tracing"] is True
