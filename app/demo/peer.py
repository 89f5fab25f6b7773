"""A small OCPI 2.2.1 platform for the demo: a CPO or an eMSP that registers with the hub.

It serves versions, version details, the Receiver endpoints the hub pushes to (recording what
arrives), the Sender endpoints the hub pulls from, and, as a CPO, a commands Receiver that
simulates a session on its EVSEs (START_SESSION -> Session PUT and PATCHes; STOP_SESSION -> the
Session COMPLETED and a CDR priced by the hub's own tariff engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.ocpi.auth import encode_token, token_candidates
from app.ocpi.envelope import ocpi_response
from app.ocpi.schemas.cdrs import CDR
from app.ocpi.schemas.common import format_datetime
from app.ocpi.status import OcpiStatus
from app.tariffs import apply_to_cdr, price_session

VERSION = "2.2.1"


def now() -> str:
    return format_datetime(datetime.now(UTC))


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": encode_token(token)}


@dataclass
class Received:
    method: str
    module: str
    path: str
    body: Any


class Tasks:
    """What a demo party does beside answering (a simulated charger's start and stop), cancelled
    when the demo stops."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def cancel(self) -> None:
        for task in list(self._running):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@dataclass
class DemoParty:
    name: str
    role: str  # "CPO" | "EMSP"
    country_code: str
    party_id: str
    base_url: str = ""
    hub_url: str = ""  # the hub's OCPI base, e.g. http://127.0.0.1:8080/ocpi/2.2.1
    hub_token: str | None = None
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _token_b: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _tasks: Tasks = field(default_factory=lambda: Tasks())
    _sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = self._build()

    @property
    def ref(self) -> str:
        return f"{self.country_code}*{self.party_id}"

    def endpoints(self) -> list[tuple[str, str]]:
        if self.role == "CPO":
            return [
                ("locations", "SENDER"),
                ("tariffs", "SENDER"),
                ("tokens", "RECEIVER"),
                ("commands", "RECEIVER"),
                ("hubclientinfo", "RECEIVER"),
            ]
        return [
            ("locations", "RECEIVER"),
            ("tariffs", "RECEIVER"),
            ("sessions", "RECEIVER"),
            ("cdrs", "RECEIVER"),
            ("tokens", "SENDER"),
            ("commands", "SENDER"),
            ("hubclientinfo", "RECEIVER"),
        ]

    def of(self, module: str, method: str | None = None) -> list[Received]:
        return [r for r in self.received if r.module == module and method in (None, r.method)]

    # --- talking to the hub ------------------------------------------------------------------

    async def register(self, http: httpx.AsyncClient, versions_url: str, token_a: str) -> str:
        """The credentials handshake with the hub as Sender; answers the hub's roles."""
        auth = token_header(token_a)
        versions = (await http.get(versions_url, headers=auth)).json()["data"]
        details_url = next(v["url"] for v in versions if v["version"] == VERSION)
        details = (await http.get(details_url, headers=auth)).json()["data"]
        credentials = next(
            e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
        )
        self.hub_url = details_url.rstrip("/")
        body = {
            "token": self._token_b,
            "url": f"{self.base_url}/versions",
            "roles": [
                {
                    "role": self.role,
                    "country_code": self.country_code,
                    "party_id": self.party_id,
                    "business_details": {"name": self.name},
                }
            ],
        }
        answer = (await http.post(credentials, json=body, headers=auth)).json()
        if answer.get("status_code") != 1000:
            raise RuntimeError(f"{self.ref} could not register: {answer.get('status_message')}")
        self.hub_token = answer["data"]["token"]
        roles = answer["data"]["roles"]
        return ", ".join(f"{r['role']} {r['country_code']}*{r['party_id']}" for r in roles)

    def headers(self, to: tuple[str, str] | None = None) -> dict[str, str]:
        assert self.hub_token is not None
        headers = {
            **token_header(self.hub_token),
            "X-Request-ID": secrets.token_hex(8),
            "X-Correlation-ID": secrets.token_hex(8),
            "OCPI-from-country-code": self.country_code,
            "OCPI-from-party-id": self.party_id,
        }
        if to is not None:
            headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = to
        return headers

    async def send(
        self, http: httpx.AsyncClient, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        response = await http.request(
            method, f"{self.hub_url}/{path}", json=body, headers=self.headers()
        )
        answer: dict[str, Any] = response.json()
        if answer.get("status_code") != 1000:
            raise RuntimeError(f"{method} {path}: {answer.get('status_message')}")
        return answer

    # --- the simulated CPO side of a session on its own EVSEs ---------------------------------

    async def _simulate_start(self, request: dict[str, Any]) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await http.post(
                request["response_url"], json={"result": "ACCEPTED"}, headers=self.headers()
            )
            token = request["token"]
            session_id = "DEMO-" + secrets.token_hex(4).upper()
            tariff = self.objects["tariffs"][0]
            document = {
                "country_code": self.country_code,
                "party_id": self.party_id,
                "id": session_id,
                "start_date_time": now(),
                "kwh": 0,
                "cdr_token": {
                    k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
                },
                "auth_method": "COMMAND",
                "location_id": request["location_id"],
                "evse_uid": request.get("evse_uid") or "",
                "connector_id": request.get("connector_id") or "1",
                "currency": tariff["currency"],
                "status": "ACTIVE",
                "last_updated": now(),
            }
            if request.get("authorization_reference"):
                document["authorization_reference"] = request["authorization_reference"]
            self._sessions[session_id] = document
            path = f"sessions/{self.country_code}/{self.party_id}/{session_id}"
            await self.send(http, "PUT", f"receiver/{path}", document)
            price = Decimal(str(tariff["elements"][0]["price_components"][0]["price"]))
            vat = Decimal(str(tariff["elements"][0]["price_components"][0].get("vat") or 0))
            while document["status"] == "ACTIVE":
                await asyncio.sleep(2)
                if document["status"] != "ACTIVE":
                    break
                document["kwh"] = round(document["kwh"] + 0.2, 3)
                cost = Decimal(str(document["kwh"])) * price
                patch = {
                    "kwh": document["kwh"],
                    "total_cost": {
                        "excl_vat": float(round(cost, 4)),
                        "incl_vat": float(round(cost * (1 + vat / 100), 4)),
                    },
                    "last_updated": now(),
                }
                document.update(patch)
                await self.send(http, "PATCH", f"receiver/{path}", patch)

    async def _simulate_stop(self, request: dict[str, Any]) -> None:
        document = self._sessions.get(str(request["session_id"]))
        async with httpx.AsyncClient(timeout=10) as http:
            result = "ACCEPTED" if document is not None else "REJECTED"
            await http.post(
                request["response_url"], json={"result": result}, headers=self.headers()
            )
            if document is None:
                return
            document.update(status="COMPLETED", end_date_time=now(), last_updated=now())
            path = f"sessions/{self.country_code}/{self.party_id}/{document['id']}"
            await self.send(http, "PUT", f"receiver/{path}", document)
            await self.send(http, "POST", "receiver/cdrs", self._cdr(document))

    def _cdr(self, session: dict[str, Any]) -> dict[str, Any]:
        location = next(
            loc for loc in self.objects["locations"] if loc["id"] == session["location_id"]
        )
        evse = next(e for e in location["evses"] if e["uid"] == session["evse_uid"])
        connector = evse["connectors"][0]
        tariff = self.objects["tariffs"][0]
        cdr = CDR.model_validate(
            {
                "country_code": self.country_code,
                "party_id": self.party_id,
                "id": session["id"],
                "start_date_time": session["start_date_time"],
                "end_date_time": session["end_date_time"],
                "session_id": session["id"],
                "cdr_token": session["cdr_token"],
                "auth_method": session["auth_method"],
                "cdr_location": {
                    "id": location["id"],
                    "name": location["name"],
                    "address": location["address"],
                    "city": location["city"],
                    "postal_code": location.get("postal_code"),
                    "country": location["country"],
                    "coordinates": location["coordinates"],
                    "evse_uid": evse["uid"],
                    "evse_id": evse["evse_id"],
                    "connector_id": connector["id"],
                    "connector_standard": connector["standard"],
                    "connector_format": connector["format"],
                    "connector_power_type": connector["power_type"],
                },
                "currency": tariff["currency"],
                "tariffs": [tariff],
                "charging_periods": [
                    {
                        "start_date_time": session["start_date_time"],
                        "dimensions": [{"type": "ENERGY", "volume": session["kwh"]}],
                    }
                ],
                "total_cost": {"excl_vat": 0},
                "total_energy": session["kwh"],
                "total_time": 0,
                "last_updated": now(),
            }
        )
        priced = price_session(
            cdr.tariffs[0], cdr.charging_periods, cdr.start_date_time, cdr.end_date_time, "UTC"
        )
        return apply_to_cdr(cdr, priced).to_json()

    async def stop(self) -> None:
        await self._tasks.cancel()

    # --- the server the hub calls ------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI(title=f"Demo {self.role} {self.name}", docs_url=None, redoc_url=None)

        @app.middleware("http")
        async def authenticate(request: Request, call_next: Any) -> Any:
            if self._token_b not in token_candidates(request.headers.get("authorization")):
                return ocpi_response(None, OcpiStatus.CLIENT_ERROR, http_status=401)
            return await call_next(request)

        @app.get("/versions")
        async def versions() -> JSONResponse:
            return ocpi_response([{"version": VERSION, "url": f"{self.base_url}/{VERSION}"}])

        @app.get(f"/{VERSION}")
        async def details() -> JSONResponse:
            endpoints = [
                {"identifier": name, "role": role, "url": f"{self.base_url}/{VERSION}/{name}"}
                for name, role in [*self.endpoints(), ("credentials", "SENDER")]
            ]
            return ocpi_response({"version": VERSION, "endpoints": endpoints})

        @app.get(f"/{VERSION}/{{module}}")
        async def get_all(module: str, offset: int = 0, limit: int = 50) -> JSONResponse:
            items = self.objects.get(module, [])
            response = ocpi_response(items[offset : offset + limit])
            response.headers["X-Total-Count"] = str(len(items))
            response.headers["X-Limit"] = str(limit)
            return response

        @app.post(f"/{VERSION}/tokens/{{uid}}/authorize")
        async def authorize(uid: str) -> JSONResponse:
            token = next((t for t in self.objects.get("tokens", []) if t["uid"] == uid), None)
            if token is None:
                return ocpi_response(None, OcpiStatus.UNKNOWN_TOKEN)
            return ocpi_response({"allowed": "ALLOWED", "token": token})

        @app.post(f"/{VERSION}/commands/{{command}}")
        async def command(command: str, request: Request) -> JSONResponse:
            body = await request.json()
            self.received.append(Received("POST", "commands", command, body))
            self.changed.set()
            if self.role != "CPO":
                return ocpi_response()  # a CommandResult at the eMSP's response_url
            if command == "START_SESSION":
                self._tasks.spawn(self._simulate_start(body))
            elif command == "STOP_SESSION":
                self._tasks.spawn(self._simulate_stop(body))
            else:
                return ocpi_response({"result": "NOT_SUPPORTED", "timeout": 0})
            return ocpi_response({"result": "ACCEPTED", "timeout": 30})

        @app.api_route(f"/{VERSION}/{{module}}/{{rest:path}}", methods=["PUT", "PATCH", "POST"])
        @app.api_route(f"/{VERSION}/{{module}}", methods=["POST"])
        async def receive(module: str, request: Request, rest: str = "") -> JSONResponse:
            raw = await request.body()
            body = await request.json() if raw else None
            self.received.append(Received(request.method, module, rest, body))
            self.changed.set()
            return ocpi_response()

        return app
