"""create_app(): the FastAPI application of the hub."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.admin.agreements import router as agreements_admin_router
from app.admin.chargers import router as chargers_admin_router
from app.admin.overview import router as overview_admin_router
from app.admin.router import router as admin_router
from app.core.logging import AccessLogMiddleware, configure_logging
from app.core.metrics import HubMetrics
from app.core.migrate import current_revision, head_revision, upgrade_to_head_async
from app.core.settings import Settings
from app.hub.background import Background
from app.hub.cluster import service as cluster
from app.hub.context import HubContext
from app.hub.gauges import refresh_gauges
from app.hub.secret_key import establish_secret_key
from app.modules.cdrs import router as cdrs
from app.modules.chargingprofiles import router as chargingprofiles
from app.modules.commands import router as commands
from app.modules.credentials.router import router as credentials_router
from app.modules.hubclientinfo.router import router as hubclientinfo_router
from app.modules.locations import router as locations
from app.modules.sessions import router as sessions
from app.modules.tariffs import router as tariffs
from app.modules.tokens import router as tokens
from app.modules.versions.edge import VersionEdgeMiddleware
from app.modules.versions.router import router as versions_router
from app.ocpi.envelope import ocpi_response
from app.ocpi.errors import OcpiError
from app.ocpi.headers import RequestIdMiddleware
from app.ocpi.middleware import OcpiPathMiddleware, RequestSizeLimitMiddleware
from app.ocpi.status import OcpiStatus
from app.ocpp.csms import Csms
from app.ocpp.gauges import refresh_charger_gauges
from app.ocpp.router import ChargerSockets
from app.ocpp.router import router as ocpp_router
from app.payments.admin import router as payments_admin_router
from app.payments.pages import router as pay_pages_router
from app.payments.runner import Payments
from app.payments.webhook import router as stripe_webhook_router
from app.web.docs import install_docs
from app.web.openapi import install_openapi

log = logging.getLogger("voltroam.app")

DESCRIPTION = """
Voltroam is an open OCPI 2.2.1 roaming hub. Partner CPOs and eMSPs register through the OCPI
credentials handshake and exchange their data through the hub.

* **OCPI** endpoints live under `/ocpi`; they are authenticated by OCPI credentials tokens
  (`Authorization: Token <base64>`) and answer with the OCPI envelope. Partners on OCPI 2.1.1
  and 2.3.0 call the same endpoints under `/ocpi/2.1.1/{module}/...` and
  `/ocpi/2.3.0/{sender|receiver}/{module}/...` in their version's shapes (listed by
  `/ocpi/versions` and each version's details); the hub translates them at the edge.
* **Admin** endpoints live under `/admin`; they need a JWT (`voltroam admin-token`).
"""


def _is_ocpi(request: Request) -> bool:
    return request.url.path.startswith("/ocpi")


def _validation_message(exc: RequestValidationError) -> tuple[str, bool]:
    """A readable summary of what was wrong, and whether the body was not JSON at all."""
    parts = []
    unparsable = False
    for error in exc.errors()[:5]:
        if error.get("type") == "json_invalid":
            unparsable = True
        loc = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {error.get('msg')}")
    return "; ".join(parts), unparsable


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OcpiError)
    async def _ocpi_error(request: Request, exc: OcpiError) -> JSONResponse:
        return ocpi_response(
            exc.data,
            exc.status_code,
            exc.message,
            http_status=exc.http_status,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        message, unparsable = _validation_message(exc)
        if not _is_ocpi(request):
            status = 400 if unparsable else 422
            return JSONResponse({"detail": message}, status_code=status)
        if unparsable:
            # "When a message does not contain a valid JSON string, the HTTP error
            # 400 - Bad request MUST be returned." (status_codes.asciidoc)
            return ocpi_response(
                None, OcpiStatus.CLIENT_ERROR, f"Invalid JSON: {message}", http_status=400
            )
        return ocpi_response(None, OcpiStatus.INVALID_PARAMETERS, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_ocpi(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return ocpi_response(
            None, OcpiStatus.CLIENT_ERROR, str(exc.detail), http_status=exc.status_code
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Never a stack trace to the outside; the log has it.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _is_ocpi(request):
            return ocpi_response(None, OcpiStatus.SERVER_ERROR, "Internal error", http_status=500)
        return JSONResponse({"detail": "Internal error"}, status_code=500)


def _telemetry(settings: Settings) -> dict[str, Any]:
    """FastAPI's own OpenTelemetry instrumentation, off unless FASTAPI_TELEMETRY is set.

    The hub reports through Prometheus (/metrics). Left on, FastAPI asks OpenTelemetry for its
    global providers on every request and WebSocket (an environment lookup each time: about a
    tenth of the CSMS's CPU while chargers connect, in a profile) only to find none configured.
    (Releases of FastAPI without native telemetry take no such argument.)"""
    if settings.fastapi_telemetry or "telemetry" not in inspect.signature(FastAPI).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await upgrade_to_head_async(settings)
        # The key the database's partner tokens were stored with, or no start at all.
        await establish_secret_key(settings)
        ctx = HubContext.create(settings, metrics)
        app.state.hub = ctx
        await ctx.broker.start()
        await cluster.announce(ctx)
        await cluster.record_serving_url(ctx)
        payments = Payments(ctx, getattr(app.state, "payment_provider", None))
        app.state.payments = payments
        background = Background(ctx)
        app.state.background = background
        background.start()
        payments.start()
        csms = Csms(ctx, getattr(app.state, "ocpp_settings", None))
        app.state.csms = csms
        if csms.settings.ocpp_enabled:
            await csms.start()
        log.info("hub ready at %s", settings.base_url)
        try:
            yield
        finally:
            await csms.stop()
            await payments.stop()
            await background.stop()
            await cluster.retire(ctx)
            await ctx.close()

    app = FastAPI(
        **_telemetry(settings),
        title="Voltroam",
        version="0.1.0",
        summary="Open OCPI 2.2.1 roaming hub with payments",
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs and /redoc come from install_docs(): assets served by the hub, not a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "OCPI versions", "description": "Versions module (no routing headers)."},
            {"name": "OCPI credentials", "description": "Credentials module: registration."},
            {"name": "OCPI locations", "description": "Locations: CPOs push, eMSPs pull."},
            {"name": "OCPI tariffs", "description": "Tariffs: CPOs push, eMSPs pull."},
            {"name": "OCPI tokens", "description": "Tokens: eMSPs push, CPOs pull."},
            {"name": "OCPI sessions", "description": "Sessions: routed to the token owner."},
            {"name": "OCPI cdrs", "description": "CDRs: routed to the token owner."},
            {"name": "OCPI hubclientinfo", "description": "Who is connected to the hub."},
            {"name": "OCPI commands", "description": "Commands: eMSP -> CPO, results back."},
            {
                "name": "OCPI chargingprofiles",
                "description": "ChargingProfiles: SCSP/eMSP -> CPO, results and updates back.",
            },
            {"name": "admin", "description": "Hub administration (JWT bearer)."},
            {
                "name": "driver pages",
                "description": "Ad hoc payment: pay page of an EVSE, live session, receipt (HTML).",
            },
            {"name": "payments", "description": "Payment provider webhooks (Stripe)."},
            {"name": "health", "description": "Liveness."},
        ],
    )
    metrics = HubMetrics()
    install_error_handlers(app)
    install_docs(app)
    app.include_router(versions_router)
    app.include_router(credentials_router)
    for module in (locations, tariffs, tokens, sessions, cdrs, commands, chargingprofiles):
        app.include_router(module.receiver)
        app.include_router(module.sender)
    app.include_router(hubclientinfo_router)
    app.include_router(admin_router)
    app.include_router(chargers_admin_router)
    app.include_router(agreements_admin_router)
    app.include_router(overview_admin_router)
    app.include_router(payments_admin_router)
    app.include_router(ocpp_router)
    app.include_router(pay_pages_router)
    app.include_router(stripe_webhook_router)

    @app.get("/healthz", tags=["health"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="The database is reachable and its schema is at the newest migration",
        responses={503: {"description": "Not ready"}},
    )
    async def readyz() -> JSONResponse:
        ctx: HubContext = app.state.hub
        try:
            current = await current_revision(ctx.engine)
        except (OSError, SQLAlchemyError) as exc:
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        head = head_revision(settings)
        ready = current == head
        return JSONResponse(
            {"status": "ok" if ready else "migrating", "revision": current, "head": head},
            status_code=200 if ready else 503,
        )

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def prometheus_metrics() -> Response:
        await refresh_gauges(app.state.hub)
        await refresh_charger_gauges(app.state.hub)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # Error answers of every route (also those included later) as the handlers give them.
    install_openapi(app)
    # Innermost: a body over MAX_REQUEST_BYTES is refused before routing (logged, with ids).
    app.add_middleware(RequestSizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    # OCPI 2.1.1 and 2.3.0, translated to and from the 2.2.1 routes (inside the access log).
    app.add_middleware(VersionEdgeMiddleware)
    # Outermost first: ids are set before the access log line is written.
    app.add_middleware(AccessLogMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
    # Outermost: every layer inside (log lines, routing, Link headers) sees the canonical path.
    app.add_middleware(OcpiPathMiddleware)
    # Around all of them: chargers' WebSockets (which they hand on untouched) skip them, and with
    # them a coroutine frame per layer for as long as a charger is connected.
    app.add_middleware(ChargerSockets)
    return app
