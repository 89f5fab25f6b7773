"""``voltroam demo``: the whole hub on a laptop, with partners and chargers, in one command.

Starts the hub on SQLite, a simulated CPO and eMSP (real OCPI servers on 127.0.0.1), and simulated
OCPP 1.6 chargers; registers everything; runs a roaming session (the eMSP's token at the hub's
charger) and a paid ad hoc session (the local test payment provider) end to end, printing what
happens; then leaves everything running for the user to explore.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
import uvicorn
from fastapi import FastAPI

from app.core.admin_auth import issue_admin_token
from app.core.settings import Settings
from app.demo.charger import DemoCharger, connect_charger
from app.demo.peer import DemoParty, now
from app.demo.peer211 import DemoCpo211
from app.main import create_app
from app.ocpp.settings import OcppSettings

CHARGERS = ("DEMO-CP1", "DEMO-CP2", "DEMO-CP3")
PASSWORD = "demo-charger-password"
LOCATION = "DEMO-DEPOT"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Progress:
    """Numbered steps with their duration, and indented details, as the demo goes."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total = total
        self.out = out
        self.step = 0
        self.tty = out.isatty()

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def detail(self, text: str) -> None:
        self.say(f"        {text}")

    @asynccontextmanager
    async def __call__(self, title: str) -> AsyncIterator[None]:
        self.step += 1
        started = time.monotonic()
        self.say(f"[{self.step}/{self.total}] {title}")
        yield
        self.detail(f"done in {time.monotonic() - started:.1f} s")


async def wait_until(
    check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the demo waited {timeout:.0f} s for {what}")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[None]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"could not serve on 127.0.0.1:{port}")
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 10)


@dataclass
class Demo:
    settings: Settings
    http: httpx.AsyncClient
    cpo: DemoParty
    emsp: DemoParty
    cpo211: DemoCpo211
    chargers: dict[str, DemoCharger]
    progress: Progress
    connections: list[Any]

    @property
    def base(self) -> str:
        return self.settings.base_url

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_admin_token(self.settings, 'demo')}"}

    async def admin_call(self, method: str, path: str, body: Any) -> Any:
        response = await self.http.request(
            method, f"{self.base}/admin/{path}", json=body, headers=self.admin
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{method} /admin/{path}: {response.status_code} {response.text}")
        return response.json()


def partner_site(cpo: DemoParty) -> tuple[dict[str, Any], dict[str, Any]]:
    tariff = {
        "country_code": cpo.country_code,
        "party_id": cpo.party_id,
        "id": "ADHOC-1",
        "currency": "EUR",
        "type": "AD_HOC_PAYMENT",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.45, "vat": 21, "step_size": 1}]}
        ],
        "last_updated": now(),
    }

    def evse(number: int) -> dict[str, Any]:
        return {
            "uid": f"GRID-{number}",
            "evse_id": f"{cpo.country_code}*{cpo.party_id}*EGRID{number}",
            "status": "AVAILABLE",
            "capabilities": ["REMOTE_START_STOP_CAPABLE"],
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2_COMBO",
                    "format": "CABLE",
                    "power_type": "DC",
                    "max_voltage": 920,
                    "max_amperage": 200,
                    "max_electric_power": 150000,
                    "tariff_ids": ["ADHOC-1"],
                    "last_updated": now(),
                }
            ],
            "last_updated": now(),
        }

    location = {
        "country_code": cpo.country_code,
        "party_id": cpo.party_id,
        "id": "GRID-PLAZA",
        "publish": True,
        "name": "Grid Plaza fast charging",
        "address": "Marktplein 3",
        "city": "Utrecht",
        "postal_code": "3511 LM",
        "country": "NLD",
        "coordinates": {"latitude": "52.090737", "longitude": "5.121420"},
        "time_zone": "Europe/Amsterdam",
        "evses": [evse(1), evse(2)],
        "last_updated": now(),
    }
    return location, tariff


async def setup(demo: Demo) -> None:
    p, http = demo.progress, demo.http
    async with p(
        "Registering the simulated CPOs and eMSP with the hub (OCPI credentials handshake)"
    ):
        for party in (demo.cpo, demo.emsp):
            invitation = await demo.admin_call("POST", "invitations", {"name": party.name})
            roles = await party.register(http, invitation["versions_url"], invitation["token_a"])
            p.detail(f"{party.name} ({party.role} {party.ref}) registered; the hub is {roles}")
        await wait_until(lambda: bool(demo.emsp.of("hubclientinfo")), "HubClientInfo")
        p.detail("both were told who else is connected (HubClientInfo)")
        old = demo.cpo211
        # OCPI 2.1.1 credentials do not say the party's role: the invitation does.
        invitation = await demo.admin_call("POST", "invitations", {"name": old.name, "role": "CPO"})
        hub_party = await old.register(http, invitation["versions_url"], invitation["token_a"])
        p.detail(f"{old.name} (CPO {old.ref}) registered in OCPI 2.1.1; the hub is {hub_party}")

    async with p("Setting up the hub's own CPO: a tariff, a location and three OCPP chargers"):
        await demo.admin_call(
            "PUT",
            "own-cpo/tariffs/DEMO-AC",
            {
                "currency": "EUR",
                "type": "AD_HOC_PAYMENT",
                "elements": [
                    {
                        "price_components": [
                            {"type": "ENERGY", "price": 0.30, "vat": 21, "step_size": 1},
                            {"type": "FLAT", "price": 0.50, "vat": 21, "step_size": 1},
                        ]
                    }
                ],
            },
        )
        await demo.admin_call(
            "PUT",
            f"own-cpo/locations/{LOCATION}",
            {
                "name": "Voltroam demo depot",
                "address": "Stationsplein 1",
                "city": "Amsterdam",
                "postal_code": "1012 AB",
                "country": "NLD",
                "coordinates": {"latitude": "52.378900", "longitude": "4.900000"},
                "time_zone": "Europe/Amsterdam",
                "tariff_ids": ["DEMO-AC"],
            },
        )
        for cp in CHARGERS:
            await demo.admin_call(
                "POST",
                "chargers",
                {"charge_point_id": cp, "password": PASSWORD, "location_id": LOCATION},
            )
        p.detail("tariff DEMO-AC: €0.363 per kWh + €0.605 per session (incl. 21% VAT)")

    async with p("Connecting three simulated OCPP 1.6J chargers over WebSocket"):
        ws_base = demo.base.replace("http://", "ws://").replace("https://", "wss://") + "/ocpp"
        for cp in CHARGERS:
            charger, task, connection = await connect_charger(ws_base, cp, PASSWORD)
            demo.chargers[cp] = charger
            demo.connections.append((connection, task))
            p.detail(f"{cp}: BootNotification accepted, connector Available")

        def emsp_sees(uid: str) -> bool:
            return any(uid in str(r.body) for r in demo.emsp.of("locations"))

        await wait_until(
            lambda: all(emsp_sees(f"{cp}-1") for cp in CHARGERS), "the eMSP's Location"
        )
        p.detail("the eMSP received the location with its three EVSEs (broadcast push)")

    async with p("The CPO publishes its fast chargers and ad hoc tariff"):
        location, tariff = partner_site(demo.cpo)
        demo.cpo.objects = {"locations": [location], "tariffs": [tariff]}
        await demo.cpo.send(http, "PUT", "receiver/tariffs/NL/DCP/ADHOC-1", tariff)
        await demo.cpo.send(http, "PUT", "receiver/locations/NL/DCP/GRID-PLAZA", location)
        await wait_until(
            lambda: any("GRID-PLAZA" in str(r.body) for r in demo.emsp.of("locations")),
            "the partner location at the eMSP",
        )
        p.detail("Grid Plaza (2 DC EVSEs) reached the eMSP through the hub")
        await demo.cpo211.publish(http)
        await wait_until(
            lambda: any("OLD-TOWN" in str(r.body) for r in demo.emsp.of("locations")),
            "the 2.1.1 CPO's location at the eMSP",
        )
        p.detail("Old Town (OCPI 2.1.1) reached the eMSP as a 2.2.1 Location")


async def roaming_session(demo: Demo) -> None:
    p, http, emsp = demo.progress, demo.http, demo.emsp
    async with p("Roaming session: the eMSP's driver starts DEMO-CP1 by app (START_SESSION)"):
        token = {
            "country_code": emsp.country_code,
            "party_id": emsp.party_id,
            "uid": "DEMO-TOKEN-1",
            "type": "APP_USER",
            "contract_id": "NL-DEM-C00000001",
            "issuer": emsp.name,
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": now(),
        }
        emsp.objects["tokens"] = [token]
        await emsp.send(http, "PUT", "receiver/tokens/NL/DEM/DEMO-TOKEN-1?type=APP_USER", token)
        answer = await emsp.send(
            http,
            "POST",
            "receiver/commands/START_SESSION",
            {
                "response_url": f"{emsp.base_url}/2.2.1/commands/result-start-1",
                "token": token,
                "location_id": LOCATION,
                "evse_uid": "DEMO-CP1-1",
                "connector_id": "1",
            },
        )
        p.detail(f"hub answered {answer['data']['result']}; the CSMS sent RemoteStartTransaction")
        charger = demo.chargers["DEMO-CP1"]
        await wait_until(lambda: charger.charging.is_set(), "the charger to start")
        await wait_until(lambda: bool(emsp.of("sessions")), "the Session at the eMSP")
        p.detail("charging; the eMSP received the Session (ACTIVE)")
        await asyncio.sleep(5)
        session_id = next(r.body for r in emsp.of("sessions", "PUT"))["id"]
        await emsp.send(
            http,
            "POST",
            "receiver/commands/STOP_SESSION",
            {
                "response_url": f"{emsp.base_url}/2.2.1/commands/result-stop-1",
                "session_id": session_id,
            },
        )
        await wait_until(lambda: bool(emsp.of("cdrs")), "the CDR at the eMSP")
        cdr = emsp.of("cdrs")[0].body
        p.detail(
            f"stopped; CDR {cdr['id']} at the eMSP: {cdr['total_energy']} kWh,"
            f" €{cdr['total_cost'].get('incl_vat', cdr['total_cost']['excl_vat']):.2f} incl. VAT"
        )


async def roaming_211(demo: Demo) -> None:
    p, http, emsp = demo.progress, demo.http, demo.emsp
    async with p("Roaming with a 2.1.1 CPO: the eMSP's driver starts OLD-1 (translated both ways)"):
        token = next(t for t in emsp.objects["tokens"])
        answer = await emsp.send(
            http,
            "POST",
            "receiver/commands/START_SESSION",
            {
                "response_url": f"{emsp.base_url}/2.2.1/commands/result-start-2",
                "token": token,
                "location_id": "OLD-TOWN",
                "evse_uid": "OLD-1",
                "connector_id": "1",
            },
        )
        data = answer["data"]
        p.detail(
            f"hub answered {data['result']} (timeout {data['timeout']} s, stated by the hub:"
            " 2.1.1 has none)"
        )
        await wait_until(
            lambda: any("OLD-TOWN" in str(r.body) for r in emsp.of("sessions")),
            "the 2.1.1 CPO's Session at the eMSP",
        )
        session = next(r.body for r in emsp.of("sessions") if "OLD-TOWN" in str(r.body))
        p.detail(
            f"Session {session['id']} at the eMSP, found by the driver's auth_id"
            f" ({session['cdr_token']['contract_id']})"
        )
        await asyncio.sleep(4)
        await emsp.send(
            http,
            "POST",
            "receiver/commands/STOP_SESSION",
            {
                "response_url": f"{emsp.base_url}/2.2.1/commands/result-stop-2",
                "session_id": session["id"],
            },
        )
        await wait_until(
            lambda: any(r.body["id"] == session["id"] for r in emsp.of("cdrs")),
            "the 2.1.1 CPO's CDR at the eMSP",
        )
        cdr = next(r.body for r in emsp.of("cdrs") if r.body["id"] == session["id"])
        p.detail(
            f"stopped; CDR {cdr['id']} at the eMSP: {cdr['total_energy']} kWh,"
            f" €{cdr['total_cost']['excl_vat']:.2f} excl. VAT (2.1.1 total_cost)"
        )


async def paid_session(demo: Demo) -> str:
    p, http, base = demo.progress, demo.http, demo.base
    async with p(
        "Ad hoc session: a driver scans DEMO-CP2's QR code and pays (local test provider)"
    ):
        started = await http.post(f"{base}/pay/DEMO-CP2-1/start", data={"connector_id": "1"})
        checkout = started.headers["location"]
        p.detail(f"pay page -> checkout with a €50.00 hold: {checkout}")
        authorized = await http.post(checkout, data={"action": "authorize"})
        status_url = base + authorized.headers["location"]
        p.detail("payment authorized; the hub's eMSP sends START_SESSION with a single-use token")

        async def state() -> dict[str, Any]:
            return dict((await http.get(status_url + "/status.json")).json())

        async def charging() -> bool:
            return (await state())["status"] == "charging"

        await wait_until(charging, "the paid session to start")
        p.detail("charging; the driver watches energy and cost on the status page")
        await asyncio.sleep(5)
        await http.post(status_url + "/stop")

        async def paid() -> bool:
            return (await state())["status"] in ("captured", "canceled", "failed")

        await wait_until(paid, "the capture")
        final = await state()
        p.detail(
            f"stopped by the driver; {final['energy_kwh']} kWh, price {final['price']},"
            f" captured {final['captured']} ({final['status']})"
        )
        p.detail(f"receipt: {status_url}/receipt")
        return status_url


def _remove_sqlite(path: Path) -> None:
    """The demo starts from an empty database every time."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def run_demo(
    *,
    port: int,
    database_url: str,
    exit_when_done: bool,
    out: TextIO = sys.stdout,
    fresh: bool = True,
) -> int:
    progress = Progress(total=8, out=out)
    if fresh and database_url.startswith("sqlite:///"):
        await asyncio.to_thread(_remove_sqlite, Path(database_url.removeprefix("sqlite:///")))
    settings = Settings(
        database_url=database_url,
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        log_level="WARNING",
        payments_provider="local",
        stripe_secret_key="",
        delivery_poll_seconds=0.2,
        payment_jobs_poll_seconds=0.2,
        alive_check_interval_seconds=0,
    )
    app = create_app(settings)
    app.state.ocpp_settings = OcppSettings(
        ocpp_session_update_seconds=2, ocpp_command_timeout_seconds=30
    )
    cpo = DemoParty("Grid Plaza Charging", "CPO", "NL", "DCP")
    emsp = DemoParty("Demo Mobility", "EMSP", "NL", "DEM")
    cpo211 = DemoCpo211("Old Town Charging", "NL", "OTC")
    progress.say(
        "Voltroam demo: an OCPI hub (2.1.1, 2.2.1, 2.3.0) with CPOs, an eMSP, chargers and payments"
    )
    progress.say("")
    async with contextlib.AsyncExitStack() as stack:
        async with progress(f"Starting the hub on {settings.base_url} ({database_url})"):
            await stack.enter_async_context(serving(app, port))
            for party in (cpo, emsp):
                party_port = free_port()
                party.base_url = f"http://127.0.0.1:{party_port}"
                await stack.enter_async_context(serving(party.app, party_port))
                progress.detail(f"simulated {party.role} {party.ref} at {party.base_url}")
            party_port = free_port()
            cpo211.base_url = f"http://127.0.0.1:{party_port}"
            await stack.enter_async_context(serving(cpo211.app, party_port))
            progress.detail(f"simulated OCPI 2.1.1 CPO {cpo211.ref} at {cpo211.base_url}")
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
        demo = Demo(settings, http, cpo, emsp, cpo211, {}, progress, [])
        try:
            await setup(demo)
            await roaming_session(demo)
            await roaming_211(demo)
            await paid_session(demo)
            token = issue_admin_token(settings, "demo")
            progress.say("")
            progress.say("Everything is running. Open:")
            progress.say(f"  API docs        {settings.base_url}/docs")
            progress.say(f"  Admin overview  {settings.base_url}/admin#token={token}")
            progress.say(f"  Pay page        {settings.base_url}/pay/DEMO-CP3-1   (own charger)")
            progress.say(f"  Pay page        {settings.base_url}/pay/GRID-1       (partner CPO)")
            if exit_when_done:
                return 0
            progress.say("Press Ctrl-C to stop.")
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
            return 0
        finally:
            for charger in demo.chargers.values():
                await charger.close()
            for connection, task in demo.connections:
                with contextlib.suppress(Exception):
                    await connection.close()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await cpo.stop()
            await emsp.stop()
            await cpo211.stop()


__all__ = ["run_demo"]
