"""A hub serving OCPP, one eMSP peer, and simulated chargers built on the ``ocpp`` package's
client ChargePoints over real WebSockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from app.core.admin_auth import issue_admin_token
from app.main import create_app
from app.ocpp.settings import OcppSettings
from tests.conftest import RunningServer, free_port, hub_settings, running_party, serve
from tests.hub.network import EMSP_ENDPOINTS, FAST, register
from tests.peers import FakeParty

PASSWORD = "charger-password-0001"
BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (BASE + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@asynccontextmanager
async def ocpp_hub(
    database_url: str, ocpp: dict[str, Any] | None = None, **overrides: Any
) -> AsyncIterator[RunningServer]:
    port = free_port()
    settings = hub_settings(database_url, port, **{**FAST, **overrides})
    app = create_app(settings)
    values: dict[str, Any] = {
        "ocpp_watchdog_seconds": 0.2,
        "ocpp_session_update_seconds": 60,
        "ocpp_command_timeout_seconds": 5,
        "ocpp_response_timeout_seconds": 5,
    }
    values.update(ocpp or {})
    app.state.ocpp_settings = OcppSettings(**values)
    async with serve(app, port):
        yield RunningServer(app=app, base_url=settings.base_url, settings=settings)


@dataclass
class World:
    hub: RunningServer
    emsp: FakeParty
    http: httpx.AsyncClient

    @property
    def admin(self) -> dict[str, str]:
        assert self.hub.settings is not None
        return {"Authorization": f"Bearer {issue_admin_token(self.hub.settings)}"}

    @property
    def ws_url(self) -> str:
        return self.hub.base_url.replace("http://", "ws://") + "/ocpp/"

    @property
    def csms(self) -> Any:
        return self.hub.app.state.csms

    def ocpi(self, path: str) -> str:
        return f"{self.hub.base_url}/ocpi/2.2.1/{path}"

    def emsp_auth(self) -> dict[str, str]:
        assert self.emsp.hub_token
        return {"Authorization": "Token " + base64.b64encode(self.emsp.hub_token.encode()).decode()}

    async def admin_put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.http.put(f"{self.hub.base_url}/admin/{path}", json=body, headers=self.admin)
        assert r.status_code in (200, 201), r.text
        return dict(r.json())

    async def admin_post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post(
            f"{self.hub.base_url}/admin/{path}", json=body, headers=self.admin
        )

    async def setup_site(
        self, chargers: list[str], *, whitelist: str = "ALLOWED", password: str | None = PASSWORD
    ) -> None:
        """A tariff (0.30/kWh + 1.00 flat, EUR), a Location with the chargers, a token TOK1."""
        await self.admin_put(
            "own-cpo/tariffs/T1",
            {
                "currency": "EUR",
                "elements": [
                    {
                        "price_components": [
                            {"type": "ENERGY", "price": 0.30, "step_size": 1},
                            {"type": "FLAT", "price": 1.00, "step_size": 1},
                        ]
                    }
                ],
            },
        )
        await self.admin_put(
            "own-cpo/locations/LOC1",
            {
                "name": "Depot",
                "address": "Stationsplein 1",
                "city": "Amsterdam",
                "country": "NLD",
                "coordinates": {"latitude": "52.378900", "longitude": "4.900000"},
                "time_zone": "Europe/Amsterdam",
                "tariff_ids": ["T1"],
            },
        )
        for cp in chargers:
            r = await self.admin_post(
                "chargers", {"charge_point_id": cp, "password": password, "location_id": "LOC1"}
            )
            assert r.status_code == 201, r.text
        await self.push_token("TOK1", whitelist)

    async def push_token(self, uid: str, whitelist: str = "ALLOWED", valid: bool = True) -> None:
        token = {
            "country_code": "NL",
            "party_id": "EM1",
            "uid": uid,
            "type": "RFID",
            "contract_id": f"NL-EM1-C{uid}",
            "issuer": "Example eMSP",
            "valid": valid,
            "whitelist": whitelist,
            "last_updated": "2026-01-01T00:00:00Z",
        }
        r = await self.http.put(
            self.ocpi(f"receiver/tokens/NL/EM1/{uid}"), json=token, headers=self.emsp_auth()
        )
        assert r.json()["status_code"] == 1000, r.text

    def pushes(self, module: str, method: str | None = None) -> list[Any]:
        return self.emsp.pushes(module, method)


@asynccontextmanager
async def world(
    database_url: str, ocpp: dict[str, Any] | None = None, **overrides: Any
) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=15))
        hub = await stack.enter_async_context(ocpp_hub(database_url, ocpp, **overrides))
        emsp = await stack.enter_async_context(
            running_party(
                FakeParty(
                    roles=[("EMSP", "NL", "EM1")],
                    endpoints=[*EMSP_ENDPOINTS, ("tokens", "SENDER"), ("commands", "SENDER")],
                )
            )
        )
        await register(http, hub, emsp)
        yield World(hub, emsp, http)


async def open_ws(
    w: World, cp: str, protocol: str, password: str | None = PASSWORD
) -> ClientConnection:
    headers = {}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{cp}:{password}".encode()).decode()
    return await connect(
        w.ws_url + cp,
        subprotocols=[Subprotocol(protocol)],
        additional_headers=headers,
        proxy=None,
        open_timeout=5,
    )


# --- simulated chargers ---------------------------------------------------------------------


class Sim16(Cp16):
    """A 1.6 charger that starts and stops transactions when asked remotely."""

    def __init__(self, cp_id: str, conn: Any) -> None:
        super().__init__(cp_id, conn, response_timeout=10)
        self.meter = 1000
        self.tx_id: int | None = None
        self.remote_started = asyncio.Event()
        self.calls_seen: list[str] = []
        self.accept_remote = True
        self.tasks: set[asyncio.Task[Any]] = set()

    def _later(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def boot(self) -> None:
        await self.call(call16.BootNotification(charge_point_model="Sim", charge_point_vendor="VR"))
        await self.status(1, "Available")

    async def status(self, connector: int, status: str) -> None:
        await self.call(
            call16.StatusNotification(connector_id=connector, error_code="NoError", status=status)
        )

    async def start(self) -> None:  # type: ignore[override]
        with contextlib.suppress(websockets.ConnectionClosed):
            await super().start()

    async def start_tx(self, id_tag: str, when: str) -> Any:
        await self.status(1, "Preparing")
        answer = await self.call(
            call16.StartTransaction(
                connector_id=1, id_tag=id_tag, meter_start=self.meter, timestamp=when
            )
        )
        self.tx_id = answer.transaction_id
        await self.status(1, "Charging")
        return answer

    async def meter_values(self, wh: int, when: str) -> None:
        self.meter = wh
        await self.call(
            call16.MeterValues(
                connector_id=1,
                transaction_id=self.tx_id,
                meter_value=[
                    {
                        "timestamp": when,
                        "sampledValue": [
                            {
                                "value": str(wh),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            }
                        ],
                    }
                ],
            )
        )

    async def stop_tx(self, wh: int, when: str) -> Any:
        self.meter = wh
        answer = await self.call(
            call16.StopTransaction(meter_stop=wh, timestamp=when, transaction_id=self.tx_id or 0)
        )
        await self.status(1, "Available")
        return answer

    @on("RemoteStartTransaction")
    async def on_remote_start(self, id_tag: str, **kw: Any) -> Any:
        self.calls_seen.append("RemoteStartTransaction")
        if not self.accept_remote:
            return result16.RemoteStartTransaction(status="Rejected")
        self.pending_tag = id_tag
        self._later(self._remote_start(id_tag))
        return result16.RemoteStartTransaction(status="Accepted")

    async def _remote_start(self, id_tag: str) -> None:
        await asyncio.sleep(0.05)
        await self.start_tx(id_tag, at(0))
        self.remote_started.set()

    @on("RemoteStopTransaction")
    async def on_remote_stop(self, transaction_id: int, **kw: Any) -> Any:
        self.calls_seen.append("RemoteStopTransaction")
        self.remote_stop_for = transaction_id
        return result16.RemoteStopTransaction(status="Accepted")

    @on("UnlockConnector")
    async def on_unlock(self, connector_id: int, **kw: Any) -> Any:
        self.calls_seen.append("UnlockConnector")
        return result16.UnlockConnector(status="Unlocked")

    @on("ReserveNow")
    async def on_reserve(self, **kw: Any) -> Any:
        self.calls_seen.append("ReserveNow")
        return result16.ReserveNow(status="Accepted")

    @on("CancelReservation")
    async def on_cancel(self, **kw: Any) -> Any:
        self.calls_seen.append("CancelReservation")
        return result16.CancelReservation(status="Accepted")

    @on("SetChargingProfile")
    async def on_profile(self, **kw: Any) -> Any:
        self.calls_seen.append("SetChargingProfile")
        return result16.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    async def on_clear_profile(self, **kw: Any) -> Any:
        self.calls_seen.append("ClearChargingProfile")
        return result16.ClearChargingProfile(status="Accepted")

    @on("GetCompositeSchedule")
    async def on_composite(self, connector_id: int, duration: int, **kw: Any) -> Any:
        self.calls_seen.append("GetCompositeSchedule")
        return result16.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=at(0),
            charging_schedule={
                "chargingRateUnit": "W",
                "duration": duration,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}],
            },
        )

    @on("GetConfiguration")
    async def on_get_config(self, **kw: Any) -> Any:
        return result16.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        )


class Sim201(Cp201):
    """A 2.0.1 charging station with one EVSE."""

    def __init__(self, cp_id: str, conn: Any) -> None:
        super().__init__(cp_id, conn, response_timeout=10)
        self.seq = 0
        self.tx_id = "TX-201-A"
        self.remote_started = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.calls_seen: list[str] = []

    def _later(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def start(self) -> None:  # type: ignore[override]
        with contextlib.suppress(websockets.ConnectionClosed):
            await super().start()

    async def boot(self) -> None:
        await self.call(
            call201.BootNotification(
                charging_station={"model": "Sim201", "vendor_name": "VR"}, reason="PowerUp"
            )
        )
        await self.status("Available")

    async def status(self, status: str) -> None:
        await self.call(
            call201.StatusNotification(
                timestamp=at(0), connector_status=status, evse_id=1, connector_id=1
            )
        )

    def _meter(self, wh: int, when: str) -> list[dict[str, Any]]:
        return [
            {
                "timestamp": when,
                "sampledValue": [
                    {
                        "value": wh,
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "Wh"},
                    }
                ],
            }
        ]

    async def event(
        self,
        kind: str,
        wh: int,
        when: str,
        *,
        trigger: str = "MeterValuePeriodic",
        id_tag: str | None = None,
        offline: bool | None = None,
        seq: int | None = None,
        stopped_reason: str | None = None,
        remote_start_id: int | None = None,
        with_meter: bool = True,
    ) -> Any:
        info: dict[str, Any] = {"transactionId": self.tx_id}
        if stopped_reason:
            info["stoppedReason"] = stopped_reason
        if remote_start_id is not None:
            info["remoteStartId"] = remote_start_id
        if seq is None:
            seq = self.seq
            self.seq += 1
        return await self.call(
            call201.TransactionEvent(
                event_type=kind,
                timestamp=when,
                trigger_reason=trigger,
                seq_no=seq,
                transaction_info=info,
                meter_value=self._meter(wh, when) if with_meter else None,
                offline=offline,
                evse={"id": 1, "connectorId": 1} if kind == "Started" else None,
                id_token={"idToken": id_tag, "type": "ISO14443"} if id_tag else None,
            )
        )

    @on("RequestStartTransaction")
    async def on_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, **kw: Any
    ) -> Any:
        self.calls_seen.append("RequestStartTransaction")
        self._later(self._remote_start(id_token["id_token"], remote_start_id))
        return result201.RequestStartTransaction(status="Accepted")

    async def _remote_start(self, id_tag: str, remote_start_id: int) -> None:
        await asyncio.sleep(0.05)
        await self.event(
            "Started",
            0,
            at(0),
            trigger="RemoteStart",
            id_tag=id_tag,
            remote_start_id=remote_start_id,
        )
        await self.status("Occupied")
        self.remote_started.set()

    @on("RequestStopTransaction")
    async def on_request_stop(self, transaction_id: str, **kw: Any) -> Any:
        self.calls_seen.append("RequestStopTransaction")
        return result201.RequestStopTransaction(status="Accepted")

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        return result201.GetVariables(
            get_variable_result=[
                {
                    "attributeStatus": "Accepted",
                    "attributeValue": "300",
                    "component": d["component"],
                    "variable": d["variable"],
                }
                for d in get_variable_data
            ]
        )


@asynccontextmanager
async def charger(w: World, cp: str, protocol: str = "ocpp1.6", **kw: Any) -> AsyncIterator[Any]:
    ws = await open_ws(w, cp, protocol, **kw)
    sim: Any = Sim16(cp, ws) if protocol == "ocpp1.6" else Sim201(cp, ws)
    task = asyncio.create_task(sim.start())
    try:
        yield sim
    finally:
        await ws.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def send_command(w: World, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """An OCPI command from the eMSP to the own CPO, through the hub's OCPI endpoint."""
    r = await w.http.post(w.ocpi(f"receiver/commands/{name}"), json=body, headers=w.emsp_auth())
    assert r.status_code == 200, r.text
    return dict(r.json())


async def send_profile(
    w: World, method: str, session_id: str, body: dict[str, Any] | None, duration: int = 0
) -> dict[str, Any]:
    """An OCPI ChargingProfiles request from the eMSP for a Session of the own CPO."""
    url = f"{w.emsp.base_url}/2.2.1/profileresult/{method.lower()}"
    headers = w.emsp_auth()
    target = w.ocpi(f"receiver/chargingprofiles/{session_id}")
    if method == "PUT":
        r = await w.http.put(target, json={**(body or {}), "response_url": url}, headers=headers)
    elif method == "DELETE":
        r = await w.http.delete(target, params={"response_url": url}, headers=headers)
    else:
        r = await w.http.get(
            target, params={"response_url": url, "duration": duration}, headers=headers
        )
    return dict(r.json())
