"""Stripe's API as a small state machine behind respx, and correctly signed webhooks.

Checkout Sessions (mode payment, manual capture), PaymentIntents (requires_payment_method ->
requires_capture -> succeeded | canceled), capture with amount_to_capture, cancel, refunds, and
Stripe's idempotency: a request repeated with the same Idempotency-Key gets the first answer.
Faults can be forced per endpoint (HTTP status, or the answer lost after the work was done).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx

API = "https://stripe.test"
WEBHOOK_SECRET = "whsec_test_voltroam"


def _form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"type": "invalid_request_error", "code": code, "message": message}},
    )


@dataclass
class FakeStripe:
    checkouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Connected accounts that exist (a transfer to another one is refused).
    accounts: set[str] = field(default_factory=lambda: {"acct_cpa"})
    # Every state-changing call that did its work: ("capture", pi, amount), ...
    effects: list[tuple[str, str, int]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    idempotency: dict[str, httpx.Response] = field(default_factory=dict)
    # Forced faults: operation -> list of "500" (refuse before work) or "lost" (work done, then
    # the answer is lost, as when the hub crashes or the network drops after Stripe acted), or
    # "lost-forgotten" (lost, and the idempotency key forgotten, as after a day).
    faults: dict[str, list[str]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    # --- the state machine ---------------------------------------------------------------

    def install(self, router: respx.MockRouter) -> None:
        router.post(f"{API}/v1/checkout/sessions").mock(
            side_effect=self._wrap("checkout", self._create_checkout)
        )
        router.get(url__regex=rf"{API}/v1/checkout/sessions/(?P<cs>[^/?]+)").mock(
            side_effect=lambda request, cs: self._json(self.checkouts.get(cs))
        )
        router.get(url__regex=rf"{API}/v1/payment_intents/(?P<pi>[^/?]+)(\?.*)?$").mock(
            side_effect=self._wrap("retrieve", lambda request, pi: self._json(self.intents.get(pi)))
        )
        router.post(url__regex=rf"{API}/v1/payment_intents/(?P<pi>[^/]+)/capture").mock(
            side_effect=self._wrap("capture", self._capture)
        )
        router.post(url__regex=rf"{API}/v1/payment_intents/(?P<pi>[^/]+)/cancel").mock(
            side_effect=self._wrap("cancel", self._cancel)
        )
        router.post(f"{API}/v1/refunds").mock(side_effect=self._wrap("refund", self._refund))
        router.post(f"{API}/v1/transfers").mock(side_effect=self._wrap("transfer", self._transfer))
        router.get(f"{API}/v1/transfers").mock(
            side_effect=self._wrap("list_transfers", self._list_transfers)
        )
        router.get(url__regex=rf"{API}/v1/transfers/(?P<tr>[^/?]+)(\?.*)?$").mock(
            side_effect=self._wrap(
                "retrieve_transfer", lambda request, tr: self._json(self.transfers.get(tr))
            )
        )
        router.post(url__regex=rf"{API}/v1/transfers/(?P<tr>[^/]+)/reversals").mock(
            side_effect=self._wrap("reversal", self._reversal)
        )

    def forget_keys(self) -> None:
        """Stripe forgets idempotency keys after 24 hours: a replay is a new request then."""
        self.idempotency.clear()

    def _json(self, obj: dict[str, Any] | None) -> httpx.Response:
        if obj is None:
            return _error(404, "resource_missing", "No such object")
        return httpx.Response(200, json=obj)

    def _wrap(self, operation: str, handler: Any) -> Any:
        def respond(request: httpx.Request, **kw: Any) -> httpx.Response:
            self.requests.append(request)
            key = request.headers.get("Idempotency-Key")
            fault = self.faults.get(operation, [])
            if fault and fault[0] == "500":
                fault.pop(0)
                return _error(500, "api_error", "Stripe is having a moment")
            if key and key in self.idempotency:
                response = self.idempotency[key]
            else:
                response = handler(request, **kw)
            if key and response.status_code < 500:
                self.idempotency[key] = response
            if fault and fault[0] in ("lost", "lost-forgotten"):
                if fault.pop(0) == "lost-forgotten":
                    # ... and by the time the hub asks again, Stripe has forgotten the key.
                    self.forget_keys()
                raise httpx.ConnectError("connection reset after the work was done")
            return response

        return respond

    def _create_checkout(self, request: httpx.Request) -> httpx.Response:
        form = _form(request)
        cs = self._id("cs")
        self.checkouts[cs] = {
            "id": cs,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "url": f"https://checkout.stripe.test/c/pay/{cs}",
            "status": "open",
            "payment_status": "unpaid",
            "payment_intent": None,
            "client_reference_id": form.get("client_reference_id"),
            "metadata": {"voltroam_payment": form.get("metadata[voltroam_payment]")},
            "currency": form.get("line_items[0][price_data][currency]"),
            "amount_total": int(form.get("line_items[0][price_data][unit_amount]", "0")),
            "capture_method": form.get("payment_intent_data[capture_method]"),
            "extended_authorization": form.get(
                "payment_method_options[card][request_extended_authorization]"
            ),
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "idempotency_key": request.headers.get("Idempotency-Key"),
        }
        return httpx.Response(200, json=self.checkouts[cs])

    def pay(self, cs: str) -> dict[str, Any]:
        """The driver completes the Checkout: a PaymentIntent in requires_capture."""
        checkout = self.checkouts[cs]
        pi = self._id("pi")
        amount = int(checkout["amount_total"])
        self.intents[pi] = {
            "id": pi,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": amount,
            "amount_received": 0,
            "currency": checkout["currency"],
            "capture_method": checkout["capture_method"],
            "status": "requires_capture",
            "metadata": dict(checkout["metadata"]),
            # The charge (as with expand[]=latest_charge): a card hold is good for 7 days, an
            # extended authorization (where the card allows it) for 30.
            "latest_charge": {
                "id": self._id("ch"),
                "object": "charge",
                "payment_method_details": {
                    "card": {
                        "capture_before": int(time.time())
                        + (30 if checkout["extended_authorization"] == "if_available" else 7)
                        * 86400,
                        "extended_authorization": {
                            "status": "enabled"
                            if checkout["extended_authorization"] == "if_available"
                            else "disabled"
                        },
                    }
                },
            },
        }
        checkout.update(status="complete", payment_intent=pi)
        return checkout

    def _capture(self, request: httpx.Request, pi: str) -> httpx.Response:
        intent = self.intents.get(pi)
        if intent is None:
            return _error(404, "resource_missing", "No such payment_intent")
        amount = int(_form(request).get("amount_to_capture", intent["amount_capturable"]))
        if intent["status"] != "requires_capture":
            return _error(
                400,
                "payment_intent_unexpected_state",
                f"This PaymentIntent could not be captured because it has a status of {intent['status']}.",
            )
        if amount > intent["amount_capturable"]:
            return _error(400, "amount_too_large", "amount_to_capture is too large")
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self.effects.append(("capture", pi, amount))
        return httpx.Response(200, json=intent)

    def _cancel(self, request: httpx.Request, pi: str) -> httpx.Response:
        intent = self.intents.get(pi)
        if intent is None:
            return _error(404, "resource_missing", "No such payment_intent")
        if intent["status"] in ("succeeded", "canceled"):
            return _error(400, "payment_intent_unexpected_state", f"status is {intent['status']}")
        intent.update(status="canceled", amount_capturable=0)
        self.effects.append(("cancel", pi, 0))
        return httpx.Response(200, json=intent)

    def _refund(self, request: httpx.Request) -> httpx.Response:
        form = _form(request)
        pi = form.get("payment_intent", "")
        intent = self.intents.get(pi)
        if intent is None:
            return _error(404, "resource_missing", "No such payment_intent")
        amount = int(form.get("amount", intent["amount_received"]))
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == pi)
        if intent["status"] != "succeeded" or amount > intent["amount_received"] - refunded:
            return _error(400, "charge_already_refunded", "Refund amount exceeds the charge")
        re_id = self._id("re")
        self.refunds[re_id] = {
            "id": re_id,
            "object": "refund",
            "amount": amount,
            "payment_intent": pi,
            "status": "succeeded",
        }
        self.effects.append(("refund", pi, amount))
        return httpx.Response(200, json=self.refunds[re_id])

    def _transfer(self, request: httpx.Request) -> httpx.Response:
        form = _form(request)
        destination = form.get("destination", "")
        if destination not in self.accounts:
            return _error(400, "resource_missing", f"No such destination: '{destination}'")
        group = form.get("transfer_group")
        if group and any(t["transfer_group"] == group for t in self.transfers.values()):
            # (Stripe itself would make a second one: the state machine says so loudly.)
            self.effects.append(("DUPLICATE transfer", group, int(form["amount"])))
        tr = self._id("tr")
        self.transfers[tr] = {
            "id": tr,
            "object": "transfer",
            "amount": int(form["amount"]),
            "amount_reversed": 0,
            "currency": form.get("currency"),
            "destination": destination,
            "transfer_group": group,
            "reversed": False,
        }
        self.effects.append(("transfer", destination, int(form["amount"])))
        return httpx.Response(200, json=self.transfers[tr])

    def _list_transfers(self, request: httpx.Request) -> httpx.Response:
        group = request.url.params.get("transfer_group")
        data = [t for t in self.transfers.values() if group in (None, t["transfer_group"])]
        return httpx.Response(200, json={"object": "list", "data": data, "has_more": False})

    def _reversal(self, request: httpx.Request, tr: str) -> httpx.Response:
        transfer = self.transfers.get(tr)
        if transfer is None:
            return _error(404, "resource_missing", "No such transfer")
        amount = int(_form(request).get("amount", transfer["amount"] - transfer["amount_reversed"]))
        if amount > transfer["amount"] - transfer["amount_reversed"]:
            return _error(400, "amount_too_large", "Reversal amount exceeds the transfer")
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        rev = self._id("trr")
        self.effects.append(("reversal", tr, amount))
        return httpx.Response(
            200, json={"id": rev, "object": "transfer_reversal", "amount": amount, "transfer": tr}
        )

    def of(self, kind: str) -> list[tuple[str, str, int]]:
        return [e for e in self.effects if e[0] == kind]

    def captures(self) -> list[tuple[str, str, int]]:
        return [e for e in self.effects if e[0] == "capture"]


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> str:
    return json.dumps(
        {
            "id": event_id
            or f"evt_{hashlib.sha1(json.dumps(obj, sort_keys=True).encode() + kind.encode()).hexdigest()[:20]}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    )


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header: t=<unix time>,v1=<HMAC-SHA256 of "t.payload">."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def stripe_settings() -> dict[str, Any]:
    return {
        "stripe_secret_key": "sk_test_voltroam",
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": API,
        "payment_jobs_poll_seconds": 0.05,
        "payment_jobs_backoff_cap_seconds": 0.5,
        "payment_jobs_lease_seconds": 1.0,
    }
