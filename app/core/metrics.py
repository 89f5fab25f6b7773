"""Prometheus metrics (prometheus-client), one registry per app so that hubs in one process (the
tests run several) do not mix their figures."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# The OCPI status code of the response being sent, set by ocpi_response() for the access log and
# the request counter.
ocpi_status_var: ContextVar[int | None] = ContextVar("ocpi_status", default=None)

OCPI_MODULES = (
    "versions",
    "credentials",
    "locations",
    "tariffs",
    "tokens",
    "sessions",
    "cdrs",
    "commands",
    "chargingprofiles",
    "hubclientinfo",
)


def module_of_path(path: str) -> str:
    """The OCPI module a hub URL belongs to (``/ocpi/2.2.1/receiver/locations/...``)."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] != ["ocpi"]:
        return "other"
    for part in parts[1:4]:
        if part in OCPI_MODULES:
            return part
    return "versions"


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ocpi_requests = Counter(
            "voltroam_ocpi_requests",
            "OCPI requests by module, direction (inbound to the hub, outbound from it) and status",
            ["module", "direction", "http_status", "ocpi_status"],
            registry=self.registry,
        )
        # Children of ocpi_requests by labels: ``labels()`` takes a lock and checks its labels on
        # every call, on every OCPI request in and out; the set of label values is small.
        self._ocpi_request_children: dict[tuple[str, str, str, str], Any] = {}
        self.delivery_queue = Gauge(
            "voltroam_delivery_queue",
            "Outbound pushes by state (pending, sending, failed, ...)",
            ["status"],
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "voltroam_delivery_latency_seconds",
            "From queueing a push to its receiver's acknowledgement",
            ["module"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.delivery_outcomes = Counter(
            "voltroam_delivery_attempts",
            "Delivery attempts by module and outcome (delivered, pending = will retry, failed, ...)",
            ["module", "outcome"],
            registry=self.registry,
        )
        self.active_sessions = Gauge(
            "voltroam_active_sessions",
            "OCPI Sessions the hub holds with status ACTIVE",
            registry=self.registry,
        )
        self.platforms = Gauge(
            "voltroam_platforms",
            "Registered platforms by connection status",
            ["status"],
            registry=self.registry,
        )
        self.ocpp_messages = Counter(
            "voltroam_ocpp_messages",
            "OCPP calls by version, action, direction (inbound = charger to hub, outbound = hub to "
            "charger) and outcome (ok, or error: a CALLERROR sent or received, or no answer)",
            ["version", "action", "direction", "outcome"],
            registry=self.registry,
        )
        self.chargers_connected = Gauge(
            "voltroam_chargers_connected",
            "Chargers whose WebSocket this hub instance holds",
            registry=self.registry,
        )
        self.chargers_online = Gauge(
            "voltroam_chargers_online",
            "Chargers connected to any live instance of the hub (cluster-wide)",
            registry=self.registry,
        )

        self.payments = Counter(
            "voltroam_payments",
            "Payment outcomes (captured, canceled, refunded, shortfall, capture_failed, ...)",
            ["outcome"],
            registry=self.registry,
        )
        self.transfers = Counter(
            "voltroam_payout_transfers",
            "Transfers of partner CPOs' shares to their Stripe Connect accounts, by outcome"
            " (transferred, reversed, transfer_failed, reverse_transfer_failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.payment_amount = Counter(
            "voltroam_payment_captured_minor_units",
            "Money captured from drivers, in the currency's minor units",
            ["currency"],
            registry=self.registry,
        )

    def count_ocpi_request(
        self, module: str, direction: str, http_status: str, ocpi_status: str
    ) -> None:
        """``ocpi_requests.labels(...).inc()``, the child looked up in a dict once known."""
        key = (module, direction, http_status, ocpi_status)
        child = self._ocpi_request_children.get(key)
        if child is None:
            child = self._ocpi_request_children[key] = self.ocpi_requests.labels(*key)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
