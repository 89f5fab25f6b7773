"""What a running hub holds: settings, database, the outbound HTTP client, the token cipher, and
the registry of the parties it plays itself.

One instance per app, built in ``create_app`` and kept on ``app.state.hub``; the CLI builds its own.
Nothing in it is global, so two hubs can run in one process (tests do).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import make_engine, make_sessionmaker
from app.core.metrics import HubMetrics
from app.core.security import TokenCipher
from app.core.settings import Settings
from app.hub.broker import Broker, make_broker, new_instance_id
from app.hub.local import LocalParties
from app.hub.relay.cache import OpenCallbacks
from app.ocpi.client import OcpiClient
from app.ocpi.wire import WireClient


class CachedTokenCipher(TokenCipher):
    """The token cipher, remembering what it decrypted: every outbound call decrypts the
    partner's stored token (Fernet: an HMAC check and AES), and the same few ciphertexts come
    back on every push. The plaintext stays in this process's memory only, as it does anyway
    while calls are made; a rotated token is a new ciphertext, so nothing is served stale."""

    MAX_ENTRIES = 4096

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self._plain: dict[str, str] = {}

    def decrypt(self, stored: str) -> str:
        plain = self._plain.get(stored)
        if plain is None:
            plain = super().decrypt(stored)  # UndecryptableToken is never cached
            if len(self._plain) >= self.MAX_ENTRIES:
                self._plain.clear()
            self._plain[stored] = plain
        return plain


@dataclass
class HubContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: WireClient
    cipher: TokenCipher
    metrics: HubMetrics = field(default_factory=HubMetrics)
    ocpi: OcpiClient = field(init=False)
    # Called after a commit that queued deliveries (the worker wakes up at once).
    notify_outbox: Callable[[], None] = field(default=lambda: None)
    # Called after a commit that queued a sync job (a serving instance looks at once; the job
    # itself is in the database, where any instance finds it by polling).
    notify_syncs: Callable[[], None] = field(default=lambda: None)
    # Set while this instance's delivery worker runs: hands it a row this instance took itself
    # in the transaction that queued it (a result relayed at once, app/hub/relay), to send now.
    # (With ``committed``: sent before the row's transaction commits; the outcome is recorded
    # once it resolves True, and never when False: that row does not exist.)
    deliver_claimed: Callable[..., None] | None = None
    # Callbacks this instance opened (app/hub/relay/cache.py): an optimisation, never the truth.
    callbacks: OpenCallbacks = field(default_factory=OpenCallbacks)
    # This running instance (several may share the database) and its line to the others.
    instance_id: str = field(default_factory=new_instance_id)
    broker: Broker = field(init=False)
    # The hub's own parties, which no partner may register under any role:
    # (country_code, party_id), upper-case -> what it is (said in the refusal).
    reserved_parties: dict[tuple[str, str], str] = field(init=False, default_factory=dict)
    # The parties the hub plays itself (own CPO, payments eMSP), registered at start-up by the
    # packages that implement them: the receivers that are reached by a call, not over HTTP.
    local_parties: LocalParties = field(init=False, default_factory=LocalParties)

    def __post_init__(self) -> None:
        settings = self.settings
        self.reserve_party(
            settings.hub_country_code,
            settings.hub_party_id,
            "the hub's own party (HUB_COUNTRY_CODE/HUB_PARTY_ID)",
        )
        self.reserve_party(
            settings.payments_emsp_country_code,
            settings.payments_emsp_party_id,
            "the hub's own payments eMSP (PAYMENTS_EMSP_COUNTRY_CODE/PAYMENTS_EMSP_PARTY_ID)",
        )
        self.broker = make_broker(self.settings.redis_url, self.instance_id)
        self.ocpi = OcpiClient(
            self.http, timeout=self.settings.ocpi_timeout_seconds, metrics=self.metrics
        )

    def reserve_party(self, country_code: str, party_id: str, what: str) -> None:
        """Keep a party id of the hub's own from partners (the own CPO adds its own at start)."""
        self.reserved_parties[(country_code.upper(), party_id.upper())] = what

    @classmethod
    def create(cls, settings: Settings, metrics: HubMetrics | None = None) -> HubContext:
        engine = make_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            http=WireClient(
                timeout=settings.ocpi_timeout_seconds,
                max_connections=200,
                max_keepalive=50,
                headers={"User-Agent": "Voltroam/0.1"},
            ),
            cipher=CachedTokenCipher(settings.resolved_secret_key),
            metrics=metrics or HubMetrics(),
        )

    async def close(self) -> None:
        await self.broker.stop()
        await self.http.aclose()
        await self.engine.dispose()
