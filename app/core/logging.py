"""Structured logs: one JSON object a line, carrying the request and correlation ids.

Secrets never reach a log line: the request logger records method, path, status and timing, never
headers or bodies.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.ids import correlation_id_var, request_id_var
from app.core.metrics import HubMetrics, module_of_path, ocpi_status_var


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        correlation_id = correlation_id_var.get()
        if correlation_id:
            entry["correlation_id"] = correlation_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_voltroam", False) for h in root.handlers):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._voltroam = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's access log would repeat our request line without the ids; httpx's own line per
    # outbound request repeats what the delivery log says.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)


access_log = logging.getLogger("voltroam.access")


# Paths whose next segment is a bearer secret: a driver's payment id (the only key to its
# status page and receipt), a test checkout, and the hub's unguessable response_url ids.
_SECRET_SEGMENTS = re.compile(
    r"(/pay/sessions/|/pay/test-checkout/|/sender/commands/|/sender/chargingprofiles/results/)"
    r"[^/]+"
)


def redact_path(path: str) -> str:
    """The path as logged: secret segments shown as ``***``."""
    return _SECRET_SEGMENTS.sub(r"\1***", path)


class AccessLogMiddleware:
    """One line per request, with its ids (set by RequestIdMiddleware, which wraps this one), and
    the inbound OCPI request counter."""

    def __init__(self, app: ASGIApp, metrics: HubMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        ocpi_token = ocpi_status_var.set(None)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            ocpi_status = ocpi_status_var.get()
            ocpi_status_var.reset(ocpi_token)
            path: str = scope["path"]
            if self.metrics is not None and path.startswith("/ocpi"):
                self.metrics.count_ocpi_request(
                    module_of_path(path), "inbound", str(status), str(ocpi_status or "")
                )
            # The line's fields are built only when it is written (LOG_LEVEL at INFO or below).
            if access_log.isEnabledFor(logging.INFO):
                shown = redact_path(path)
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    shown,
                    status,
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "path": shown,
                            "status": status,
                            **({"ocpi_status": ocpi_status} if ocpi_status else {}),
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                        }
                    },
                )
