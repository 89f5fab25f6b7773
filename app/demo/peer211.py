"""A small OCPI 2.1.1 CPO for the demo: it registers with the hub at /ocpi/2.1.1 (one party per
credentials, no roles), publishes a Location and a Tariff in 2.1.1 form (no country_code or
party_id, prices excl. VAT, one ``tariff_id`` per Connector), and simulates a session on
START_SESSION: a 2.1.1 CommandResponse result, a Session naming the driver by ``auth_id`` with
its Location embedded, and on STOP_SESSION a CDR whose ``total_cost`` is a number.

Its Authorization header carries the token as it is ("Token <token>", 2.1.1) and it sends no
routing headers: the hub finds whom its Sessions and CDRs are for by the token.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.demo.peer import Received, Tasks, now
from app.ocpi.envelope import ocpi_response
from app.ocpi.status import OcpiStatus

VERSION = "2.1.1"
MODULES = ("credentials", "locations", "tariffs", "tokens", "sessions", "cdrs", "commands")
PRICE_PER_KWH = Decimal("0.39")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


@dataclass
class DemoCpo211:
    name: str
    country_code: str
    party_id: str
    base_url: str = ""
    hub_token: str | None = None
    hub_endpoints: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    _token_b: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    _tasks: Tasks = field(default_factory=lambda: Tasks())

    def __post_init__(self) -> None:
        self.app = self._build()

    @property
    def ref(self) -> str:
        return f"{self.country_code}*{self.party_id}"

    def location(self) -> dict[str, Any]:
        connector = {
            "id": "1",
            "standard": "IEC_62196_T2",
            "format": "SOCKET",
            "power_type": "AC_3_PHASE",
            "voltage": 230,
            "amperage": 32,
            "tariff_id": "OLD-AC",
            "last_updated": now(),
        }
        return {
            "id": "OLD-TOWN",
            "type": "ON_STREET",
            "name": "Old Town kerbside",
            "address": "Oudegracht 12",
            "city": "Utrecht",
            "postal_code": "3511 AR",
            "country": "NLD",
            "coordinates": {"latitude": "52.091200", "longitude": "5.118900"},
            "evses": [
                {
                    "uid": "OLD-1",
                    "evse_id": f"{self.country_code}-{self.party_id}-EOLD1",
                    "status": "AVAILABLE",
                    "capabilities": ["REMOTE_START_STOP_CAPABLE"],
                    "connectors": [connector],
                    "last_updated": now(),
                }
            ],
            "time_zone": "Europe/Amsterdam",
            "last_updated": now(),
        }

    def tariff(self) -> dict[str, Any]:
        return {
            "id": "OLD-AC",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [
                        {"type": "ENERGY", "price": float(PRICE_PER_KWH), "step_size": 1}
                    ]
                }
            ],
            "last_updated": now(),
        }

    # --- talking to the hub ------------------------------------------------------------------

    async def register(self, http: httpx.AsyncClient, versions_url: str, token_a: str) -> str:
        versions = (await http.get(versions_url, headers=auth(token_a))).json()["data"]
        details_url = next(v["url"] for v in versions if v["version"] == VERSION)
        details = (await http.get(details_url, headers=auth(token_a))).json()["data"]
        self.hub_endpoints = {e["identifier"]: e["url"] for e in details["endpoints"]}
        body = {
            "token": self._token_b,
            "url": f"{self.base_url}/versions",
            "business_details": {"name": self.name},
            "party_id": self.party_id,
            "country_code": self.country_code,
        }
        answer = (
            await http.post(self.hub_endpoints["credentials"], json=body, headers=auth(token_a))
        ).json()
        if answer.get("status_code") != 1000:
            raise RuntimeError(f"{self.ref} could not register: {answer.get('status_message')}")
        self.hub_token = answer["data"]["token"]
        hub = answer["data"]
        return f"{hub['country_code']}*{hub['party_id']}"

    async def send(
        self, http: httpx.AsyncClient, method: str, module: str, path: str = "", body: Any = None
    ) -> None:
        assert self.hub_token is not None
        url = self.hub_endpoints[module].rstrip("/") + (f"/{path}" if path else "")
        answer = (await http.request(method, url, json=body, headers=auth(self.hub_token))).json()
        if answer.get("status_code") != 1000:
            raise RuntimeError(f"{method} {module}/{path}: {answer.get('status_message')}")

    async def publish(self, http: httpx.AsyncClient) -> None:
        cc, pid = self.country_code, self.party_id
        await self.send(http, "PUT", "tariffs", f"{cc}/{pid}/OLD-AC", self.tariff())
        await self.send(http, "PUT", "locations", f"{cc}/{pid}/OLD-TOWN", self.location())

    # --- the simulated session ---------------------------------------------------------------

    async def _result(self, http: httpx.AsyncClient, url: str, result: str) -> None:
        assert self.hub_token is not None
        await http.post(url, json={"result": result}, headers=auth(self.hub_token))

    async def _start(self, request: dict[str, Any]) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await self._result(http, request["response_url"], "ACCEPTED")
            location = self.location()
            session = {
                "id": "OLD-" + secrets.token_hex(4).upper(),
                "start_datetime": now(),
                "kwh": 0,
                "auth_id": request["token"]["auth_id"],
                "auth_method": "AUTH_REQUEST",
                "location": location,
                "currency": "EUR",
                "total_cost": 0,
                "status": "ACTIVE",
                "last_updated": now(),
            }
            self._sessions[session["id"]] = session
            path = f"{self.country_code}/{self.party_id}/{session['id']}"
            await self.send(http, "PUT", "sessions", path, session)
            while session["status"] == "ACTIVE":
                await asyncio.sleep(2)
                if session["status"] != "ACTIVE":
                    break
                session["kwh"] = round(session["kwh"] + 0.25, 3)
                session["total_cost"] = float(Decimal(str(session["kwh"])) * PRICE_PER_KWH)
                session["last_updated"] = now()
                await self.send(http, "PUT", "sessions", path, session)

    async def _stop(self, request: dict[str, Any]) -> None:
        session = self._sessions.get(str(request["session_id"]))
        async with httpx.AsyncClient(timeout=10) as http:
            await self._result(
                http, request["response_url"], "ACCEPTED" if session is not None else "REJECTED"
            )
            if session is None:
                return
            session.update(status="COMPLETED", end_datetime=now(), last_updated=now())
            path = f"{self.country_code}/{self.party_id}/{session['id']}"
            await self.send(http, "PUT", "sessions", path, session)
            cost = Decimal(str(session["kwh"])) * PRICE_PER_KWH
            cdr = {
                "id": session["id"],
                "start_date_time": session["start_datetime"],
                "stop_date_time": session["end_datetime"],
                "auth_id": session["auth_id"],
                "auth_method": session["auth_method"],
                "location": session["location"],
                "currency": "EUR",
                "tariffs": [self.tariff()],
                "charging_periods": [
                    {
                        "start_date_time": session["start_datetime"],
                        "dimensions": [{"type": "ENERGY", "volume": session["kwh"]}],
                    }
                ],
                "total_cost": float(round(cost, 2)),
                "total_energy": session["kwh"],
                "total_time": 0.01,
                "last_updated": now(),
            }
            await self.send(http, "POST", "cdrs", body=cdr)

    async def stop(self) -> None:
        await self._tasks.cancel()

    # --- the server the hub calls ------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI(title=f"Demo 2.1.1 CPO {self.name}", docs_url=None, redoc_url=None)

        @app.middleware("http")
        async def authenticate(request: Request, call_next: Any) -> Any:
            if request.headers.get("authorization") != f"Token {self._token_b}":
                return ocpi_response(None, OcpiStatus.CLIENT_ERROR, http_status=401)
            return await call_next(request)

        @app.get("/versions")
        async def versions() -> JSONResponse:
            return ocpi_response([{"version": VERSION, "url": f"{self.base_url}/{VERSION}"}])

        @app.get(f"/{VERSION}")
        async def details() -> JSONResponse:
            endpoints = [
                {"identifier": m, "url": f"{self.base_url}/{VERSION}/{m}"} for m in MODULES
            ]
            return ocpi_response({"version": VERSION, "endpoints": endpoints})

        @app.get(f"/{VERSION}/{{module}}")
        async def get_all(module: str) -> JSONResponse:
            items = {"locations": [self.location()], "tariffs": [self.tariff()]}.get(module, [])
            response = ocpi_response(items)
            response.headers["X-Total-Count"] = str(len(items))
            return response

        @app.put(f"/{VERSION}/tokens/{{cc}}/{{pid}}/{{uid}}")
        async def put_token(cc: str, pid: str, uid: str, request: Request) -> JSONResponse:
            self.tokens[uid] = await request.json()
            return ocpi_response()

        @app.post(f"/{VERSION}/commands/{{command}}")
        async def command(command: str, request: Request) -> JSONResponse:
            body = await request.json()
            self.received.append(Received("POST", "commands", command, body))
            if command == "START_SESSION":
                self._tasks.spawn(self._start(body))
            elif command == "STOP_SESSION":
                self._tasks.spawn(self._stop(body))
            else:
                return ocpi_response({"result": "NOT_SUPPORTED"})
            # mod_commands.md (2.1.1): the CommandResponse has a result only.
            return ocpi_response({"result": "ACCEPTED"})

        return app
