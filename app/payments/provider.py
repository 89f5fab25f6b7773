"""Payment providers: Stripe (Checkout with a manual-capture PaymentIntent) and a local test one.

Both behind one small interface, so that the rest of the hub never knows which one runs. Amounts
are integers in the currency's minor units. Every call that moves money carries an idempotency
key; asked twice with the same key, a provider does the work once.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import JSONDoc, UTCDateTime, utcnow
from app.hub.context import HubContext

if TYPE_CHECKING:
    # The stripe SDK (with requests) is imported where a Stripe call is made: a hub without a
    # Stripe key never loads it (memory of the serving process).
    import stripe


class ProviderError(Exception):
    """The provider refused or could not be reached; ``retryable`` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


@dataclass(frozen=True)
class Intent:
    """A PaymentIntent as far as the hub cares.

    ``status`` uses Stripe's names: requires_payment_method, requires_confirmation,
    requires_action, processing, requires_capture, canceled, succeeded.
    """

    id: str
    status: str
    amount: int
    amount_capturable: int
    amount_received: int
    # When the hold runs out (the charge's capture_before), where the provider says.
    capture_before: datetime | None = None


@dataclass(frozen=True)
class CheckoutRequest:
    reference: str  # the payment's public id
    currency: str
    amount: int
    title: str
    description: str
    success_url: str
    cancel_url: str
    idempotency_key: str
    # Ask for an extended authorization (a hold valid up to 30 days) where the card allows it.
    extended_authorization: bool = False


class PaymentProvider(Protocol):
    name: str
    # True only for the local test provider: every page says no real money moves.
    test_mode: bool

    async def create_checkout(self, request: CheckoutRequest) -> Checkout: ...

    async def checkout_intent(self, checkout_id: str) -> str | None:
        """The PaymentIntent behind a Checkout Session (None until the driver paid)."""
        ...

    async def get_intent(self, intent_id: str) -> Intent: ...

    async def capture(self, intent_id: str, amount: int, idempotency_key: str) -> Intent: ...

    async def cancel(self, intent_id: str, idempotency_key: str) -> Intent: ...

    async def refund(self, intent_id: str, amount: int, idempotency_key: str) -> str:
        """Refund ``amount`` of what was captured; answers the refund's id."""
        ...

    async def transfer(
        self, amount: int, currency: str, destination: str, group: str, idempotency_key: str
    ) -> str:
        """Move ``amount`` to a connected account (Stripe Connect); answers the transfer's id."""
        ...

    async def find_transfer(self, group: str) -> str | None:
        """The transfer already made for ``group`` (None: there is none)."""
        ...

    async def reverse_transfer(self, transfer_id: str, amount: int, idempotency_key: str) -> str:
        """Take ``amount`` of a transfer back; answers the reversal's id."""
        ...

    async def transfer_reversed(self, transfer_id: str) -> int:
        """How much of a transfer was taken back so far (its ``amount_reversed``)."""
        ...


# --- Stripe ----------------------------------------------------------------------------------


def _plain(obj: Any) -> dict[str, Any]:
    """A StripeObject as a plain dict (the library's objects are not dicts)."""
    return dict(obj.to_dict()) if hasattr(obj, "to_dict") else dict(obj)


def _capture_before(obj: dict[str, Any]) -> datetime | None:
    """payment_method_details.card.capture_before of the intent's (expanded) latest charge."""
    charge = obj.get("latest_charge")
    if not isinstance(charge, dict):
        return None
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    value = card.get("capture_before")
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _intent(resource: Any) -> Intent:
    obj = _plain(resource)
    return Intent(
        id=str(obj["id"]),
        status=str(obj["status"]),
        amount=int(obj.get("amount") or 0),
        amount_capturable=int(obj.get("amount_capturable") or 0),
        amount_received=int(obj.get("amount_received") or 0),
        capture_before=_capture_before(obj),
    )


def _error(exc: stripe.StripeError) -> ProviderError:
    # Network trouble, rate limits, Stripe's own 5xx and idempotency races are worth a retry;
    # a 4xx about the request itself is not.
    import stripe

    status = exc.http_status or 0
    retryable = isinstance(
        exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError
    ) or (status >= 500 or status == 409)
    code = getattr(exc, "code", None)
    text = exc.user_message or str(exc) or type(exc).__name__
    return ProviderError(f"Stripe: {code or type(exc).__name__}: {text}"[:500], retryable=retryable)


@contextlib.contextmanager
def _stripe_errors() -> Iterator[None]:
    """Every Stripe call: the library's errors become ProviderErrors."""
    import stripe

    try:
        yield
    except stripe.StripeError as exc:
        raise _error(exc) from None


class StripeProvider:
    """Stripe through the official library: StripeClient, its httpx client, async methods."""

    name = "stripe"
    test_mode = False

    def __init__(self, api_key: str, api_base: str, timeout: float = 20.0) -> None:
        import stripe

        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=stripe.HTTPXClient(timeout=timeout),
            max_network_retries=2,
        )

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        params: dict[str, Any] = {
            "mode": "payment",
            "client_reference_id": request.reference,
            "metadata": {"voltroam_payment": request.reference},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount,
                        "product_data": {
                            "name": request.title,
                            "description": request.description,
                        },
                    },
                }
            ],
            # A hold: the card is authorized for the amount, captured later for the price.
            "payment_intent_data": {
                "capture_method": "manual",
                "metadata": {"voltroam_payment": request.reference},
                "description": request.title,
            },
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
        }
        if request.extended_authorization:
            params["payment_method_options"] = {
                "card": {"request_extended_authorization": "if_available"}
            }
        with _stripe_errors():
            session = await self.client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            )
        obj = _plain(session)
        return Checkout(id=str(obj["id"]), url=str(obj["url"]))

    async def checkout_intent(self, checkout_id: str) -> str | None:
        with _stripe_errors():
            session = await self.client.v1.checkout.sessions.retrieve_async(checkout_id)
        intent = _plain(session).get("payment_intent")
        if isinstance(intent, dict):
            intent = intent.get("id")
        return str(intent) if intent else None

    async def get_intent(self, intent_id: str) -> Intent:
        with _stripe_errors():
            return _intent(
                await self.client.v1.payment_intents.retrieve_async(
                    intent_id, {"expand": ["latest_charge"]}
                )
            )

    async def capture(self, intent_id: str, amount: int, idempotency_key: str) -> Intent:
        with _stripe_errors():
            obj = await self.client.v1.payment_intents.capture_async(
                intent_id,
                {"amount_to_capture": amount},
                {"idempotency_key": idempotency_key},
            )
        return _intent(obj)

    async def cancel(self, intent_id: str, idempotency_key: str) -> Intent:
        with _stripe_errors():
            obj = await self.client.v1.payment_intents.cancel_async(
                intent_id, None, {"idempotency_key": idempotency_key}
            )
        return _intent(obj)

    async def refund(self, intent_id: str, amount: int, idempotency_key: str) -> str:
        with _stripe_errors():
            obj = await self.client.v1.refunds.create_async(
                {"payment_intent": intent_id, "amount": amount},
                {"idempotency_key": idempotency_key},
            )
        return str(_plain(obj)["id"])

    async def transfer(
        self, amount: int, currency: str, destination: str, group: str, idempotency_key: str
    ) -> str:
        with _stripe_errors():
            obj = await self.client.v1.transfers.create_async(
                {
                    "amount": amount,
                    "currency": currency.lower(),
                    "destination": destination,
                    "transfer_group": group,
                    "metadata": {"voltroam_transfer_group": group},
                },
                {"idempotency_key": idempotency_key},
            )
        return str(_plain(obj)["id"])

    async def find_transfer(self, group: str) -> str | None:
        with _stripe_errors():
            page = await self.client.v1.transfers.list_async({"transfer_group": group, "limit": 1})
        found = _plain(page).get("data") or []
        return str(_plain(found[0])["id"]) if found else None

    async def reverse_transfer(self, transfer_id: str, amount: int, idempotency_key: str) -> str:
        with _stripe_errors():
            obj = await self.client.v1.transfers.reversals.create_async(
                transfer_id, {"amount": amount}, {"idempotency_key": idempotency_key}
            )
        return str(_plain(obj)["id"])

    async def transfer_reversed(self, transfer_id: str) -> int:
        with _stripe_errors():
            obj = await self.client.v1.transfers.retrieve_async(transfer_id)
        return int(_plain(obj).get("amount_reversed") or 0)


# --- Local test provider ---------------------------------------------------------------------


class LocalIntent(SQLModel, table=True):
    """The local test provider's PaymentIntents (nothing leaves the machine, no money moves)."""

    __tablename__ = "local_payment_intent"

    id: str = Field(primary_key=True, max_length=64)
    checkout_id: str = Field(max_length=64, unique=True, index=True)
    reference: str = Field(max_length=48)
    currency: str = Field(max_length=3)
    amount: int
    status: str = Field(default="requires_payment_method", max_length=32)
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    # Idempotency keys already answered, with the answer (as Stripe remembers them).
    keys: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONDoc, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


async def _by_checkout(session: AsyncSession, checkout_id: str) -> LocalIntent | None:
    stmt = select(LocalIntent).where(LocalIntent.checkout_id == checkout_id)
    return (await session.exec(stmt)).first()


def _local_intent(row: LocalIntent) -> Intent:
    return Intent(
        id=row.id,
        status=row.status,
        amount=row.amount,
        amount_capturable=row.amount_capturable,
        amount_received=row.amount_received,
    )


class LocalProvider:
    """A test provider with Stripe's PaymentIntent rules, kept in the hub's database.

    Its checkout page is the hub's own ``/pay/test-checkout/{id}``: the driver presses
    "Authorize" and the payment goes on exactly as after a Stripe webhook.
    """

    name = "local"
    test_mode = True

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx

    async def _get(self, session: AsyncSession, intent_id: str) -> LocalIntent:
        row = await session.get(LocalIntent, intent_id)
        if row is None:
            raise ProviderError(f"local: no PaymentIntent {intent_id}", retryable=False)
        return row

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        async with self.ctx.sessions() as session:
            existing = (
                await session.exec(
                    select(LocalIntent).where(LocalIntent.reference == request.reference)
                )
            ).first()
            if existing is None:
                existing = LocalIntent(
                    id="lpi_" + secrets.token_hex(12),
                    checkout_id="lcs_" + secrets.token_hex(12),
                    reference=request.reference,
                    currency=request.currency,
                    amount=request.amount,
                )
                session.add(existing)
                await session.commit()
            checkout_id = existing.checkout_id
        return Checkout(
            checkout_id, f"{self.ctx.settings.base_url}/pay/test-checkout/{checkout_id}"
        )

    async def find_checkout(self, checkout_id: str) -> LocalIntent | None:
        async with self.ctx.sessions() as session:
            return await _by_checkout(session, checkout_id)

    async def checkout_intent(self, checkout_id: str) -> str | None:
        row = await self.find_checkout(checkout_id)
        if row is None or row.status == "requires_payment_method":
            return None
        return row.id

    async def authorize(self, checkout_id: str) -> LocalIntent | None:
        """The driver pressed "Authorize" on the test checkout page: the hold is in place."""
        async with self.ctx.sessions() as session:
            row = await _by_checkout(session, checkout_id)
            if row is None:
                return None
            if row.status == "requires_payment_method":
                row.status = "requires_capture"
                row.amount_capturable = row.amount
                session.add(row)
                await session.commit()
                await session.refresh(row)
            return row

    async def get_intent(self, intent_id: str) -> Intent:
        async with self.ctx.sessions() as session:
            return _local_intent(await self._get(session, intent_id))

    async def _once(self, intent_id: str, key: str, change: Any) -> tuple[Intent, dict[str, Any]]:
        async with self.ctx.sessions() as session:
            row = await self._get(session, intent_id)
            if key in row.keys:
                return _local_intent(row), dict(row.keys[key])
            answer = change(row)
            row.keys = {**row.keys, key: answer}
            session.add(row)
            await session.commit()
            await session.refresh(row)
            return _local_intent(row), answer

    async def capture(self, intent_id: str, amount: int, idempotency_key: str) -> Intent:
        def change(row: LocalIntent) -> dict[str, Any]:
            if row.status != "requires_capture":
                raise ProviderError(
                    f"local: cannot capture a PaymentIntent in status {row.status}",
                    retryable=False,
                )
            if amount > row.amount_capturable or amount <= 0:
                raise ProviderError(
                    f"local: amount_to_capture {amount} not within 1..{row.amount_capturable}",
                    retryable=False,
                )
            row.status = "succeeded"
            row.amount_received = amount
            row.amount_capturable = 0
            return {"captured": amount}

        intent, _ = await self._once(intent_id, idempotency_key, change)
        return intent

    async def cancel(self, intent_id: str, idempotency_key: str) -> Intent:
        def change(row: LocalIntent) -> dict[str, Any]:
            if row.status in ("succeeded", "canceled"):
                raise ProviderError(
                    f"local: cannot cancel a PaymentIntent in status {row.status}",
                    retryable=False,
                )
            row.status = "canceled"
            row.amount_capturable = 0
            return {"canceled": True}

        intent, _ = await self._once(intent_id, idempotency_key, change)
        return intent

    async def refund(self, intent_id: str, amount: int, idempotency_key: str) -> str:
        def change(row: LocalIntent) -> dict[str, Any]:
            left = row.amount_received - row.amount_refunded
            if row.status != "succeeded" or amount <= 0 or amount > left:
                raise ProviderError(
                    f"local: cannot refund {amount} (captured {row.amount_received},"
                    f" refunded {row.amount_refunded})",
                    retryable=False,
                )
            row.amount_refunded += amount
            return {"refund": "lre_" + secrets.token_hex(12)}

        _intent_now, answer = await self._once(intent_id, idempotency_key, change)
        return str(answer["refund"])

    # No money moves with the local provider: a transfer is an id derived from its key (the
    # same key, the same transfer), and the ledger books it like a real one.
    async def transfer(
        self, amount: int, currency: str, destination: str, group: str, idempotency_key: str
    ) -> str:
        return "ltr_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]

    async def find_transfer(self, group: str) -> str | None:
        return None

    async def reverse_transfer(self, transfer_id: str, amount: int, idempotency_key: str) -> str:
        return "ltrr_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]

    async def transfer_reversed(self, transfer_id: str) -> int:
        return 0


def make_provider(ctx: HubContext) -> PaymentProvider:
    settings = ctx.settings
    if settings.payment_provider_name == "stripe":
        return StripeProvider(settings.stripe_secret_key, settings.stripe_api_base)
    return LocalProvider(ctx)
