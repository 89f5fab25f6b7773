"""All configuration in one place (DESIGN.md: "Settings in one pydantic-settings class").

Every value has a default that works on a laptop and an environment variable to change it; the
variable is the field name in upper case (``DATABASE_URL``, ``PUBLIC_URL``, ...).
"""

from __future__ import annotations

import os
import secrets
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SecretKeyMissing(ValueError):
    """The secret key is neither set (SECRET_KEY) nor in its file."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # Storage. A SQLite file in the working directory unless told otherwise; plain
    # ``postgresql://`` and ``sqlite:///`` URLs are accepted and given their async driver.
    database_url: str = "sqlite:///./voltroam.db"
    # Upgrade the schema to the newest migration when the app starts.
    migrate_on_start: bool = True
    # PostgreSQL pool: test each connection before use (a round trip per checkout), or not and
    # recycle them after this many seconds (a connection the server dropped fails one request,
    # and the whole pool is then replaced).
    database_pre_ping: bool = False
    # FastAPI's own OpenTelemetry spans/metrics/logs (for an operator who configures OpenTelemetry
    # providers); off by default: the hub's metrics are Prometheus's (/metrics).
    fastapi_telemetry: bool = False
    database_pool_recycle_seconds: float = 1800.0

    # Network.
    host: str = "127.0.0.1"
    port: int = 8080
    # How partners reach this hub; the base of every URL the hub hands out (versions, Link, ...).
    # Empty: http://{host}:{port}.
    public_url: str = ""

    # The hub's own identity on OCPI ("A Hub SHALL only report itself as role: Hub").
    hub_country_code: str = "NL"
    hub_party_id: str = "VRH"
    hub_name: str = "Voltroam Hub"
    hub_website: str = ""

    # Secrets. SECRET_KEY encrypts the tokens the hub sends to partners. When unset, the key is
    # read from SECRET_KEY_FILE; when that is unset too, from the file beside a SQLite database
    # (voltroam.db -> voltroam.key), so that every command run on one database finds one key
    # whatever its working directory. Only for a SQLite database without any partner token yet
    # is that file generated; a PostgreSQL database (shared by instances and commands on other
    # machines) needs SECRET_KEY or SECRET_KEY_FILE. The key stays outside the database, so a
    # copy of the database alone lets nobody call a partner; the database keeps a fingerprint
    # of it, and a command with another key refuses to run (app/hub/secret_key.py).
    secret_key: str = ""
    secret_key_file: str = ""
    # Admin JWTs (HS256). Empty: derived from the secret key.
    admin_jwt_secret: str = ""
    admin_jwt_ttl_seconds: int = 12 * 3600

    # Registration.
    invitation_ttl_hours: int = 72

    # Outbound OCPI calls.
    ocpi_timeout_seconds: float = 10.0
    # Largest page the hub serves on a GET-all, whatever `limit` the client asks for.
    ocpi_max_page_size: int = 100
    # Largest request body the hub reads, on every path (HTTP 413 beyond it, before parsing).
    # The largest legitimate object, a Location with many EVSEs, is a few hundred kB.
    max_request_bytes: int = Field(default=1_000_000, ge=1)

    # Delivery of pushes (the outbox).
    delivery_enabled: bool = True
    delivery_max_attempts: int = 12
    delivery_backoff_base_seconds: float = 1.0
    delivery_backoff_cap_seconds: float = 300.0
    delivery_lease_seconds: float = 60.0
    delivery_batch: int = 100
    delivery_concurrency: int = 32
    delivery_poll_seconds: float = 1.0

    # Still-alive check: after this much silence from a platform, the hub GETs its versions.
    alive_check_after_seconds: float = 300.0
    alive_check_interval_seconds: float = 30.0
    # How often the hub looks for commands whose result is overdue (answered TIMEOUT).
    command_timeout_check_seconds: float = 1.0
    # Pull Locations and Tariffs from a CPO right after it registers (a sync job, queued with
    # the registration and run by a serving instance).
    sync_after_registration: bool = True
    # Roaming agreements (app/hub/agreements.py): a CPO/eMSP pair without one is "open" (active
    # for every module: everyone exchanges with everyone) or "closed" (nothing flows until an
    # admin opens the pair).
    agreements_default: Literal["open", "closed"] = "open"
    # How often a serving instance looks for queued sync jobs.
    sync_poll_seconds: float = 1.0
    # A sync job whose instance stopped renewing its lease this long ago is taken again.
    sync_lease_seconds: float = 60.0

    # Several instances: messages between them (calls to chargers held by another instance) go
    # through Redis pub/sub. Empty: in-process only (one instance).
    redis_url: str = ""
    # Each instance renews a lease on its row this often; a charger held by an instance whose
    # lease ran out (a dead instance) counts as held by nobody.
    instance_heartbeat_seconds: float = 5.0
    instance_lease_seconds: float = 20.0

    # Payments (drivers pay ad hoc through Stripe Checkout; app/payments).
    # "auto": Stripe when STRIPE_SECRET_KEY is set, else the local test provider (no money moves,
    # every page says so); "stripe" or "local" to choose. The local provider refuses to run with
    # a live key (sk_live_/rk_live_) set.
    payments_provider: str = "auto"
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    # Where the Stripe API is (tests and proxies point it elsewhere).
    stripe_api_base: str = "https://api.stripe.com"
    # Seconds a webhook's Stripe-Signature timestamp may be off.
    stripe_webhook_tolerance_seconds: int = 300
    # The amount held on the driver's card fits the EVSE and its tariff: the price of charging
    # at the connector's max power for PAYMENT_HOLD_HOURS, then parking PAYMENT_HOLD_PARKING_HOURS
    # (where the tariff prices parking); or the tariff's own preauthorize_amount (OCPI 2.3.0).
    # Either is bounded per currency by PAYMENT_HOLD_MIN and PAYMENT_HOLD (the most), in major
    # units ("EUR=50,GBP=45"); a currency not listed uses PAYMENT_HOLD_MIN_DEFAULT and
    # PAYMENT_HOLD_DEFAULT. A connector whose power is unknown holds the most.
    payment_hold: str = "EUR=50,GBP=45,CHF=50,USD=50,SEK=500,NOK=500,DKK=375,PLN=200"
    payment_hold_default: str = "50"
    payment_hold_min: str = "EUR=5,GBP=5,CHF=5,USD=5,SEK=50,NOK=50,DKK=40,PLN=20"
    payment_hold_min_default: str = "5"
    payment_hold_hours: float = Field(default=8.0, gt=0, le=24 * 7)
    payment_hold_parking_hours: float = Field(default=1.0, ge=0, le=24 * 7)
    # Card holds expire (about 7 days for online card payments; Stripe tells each charge's
    # capture_before, which the hub uses when it is there). Before that, a session still going
    # on is stopped (PAYMENT_HOLD_STOP_HOURS before) and what is due so far is captured
    # (PAYMENT_HOLD_CAPTURE_HOURS before) if the CDR has not come by then; a CDR that comes later
    # settles the difference (a refund of what was taken too much). PAYMENT_HOLD_EXTEND asks
    # Stripe for an extended authorization (up to 30 days) where the card allows it.
    payment_hold_valid_hours: float = Field(default=7 * 24, gt=0)
    payment_hold_stop_hours: float = Field(default=12.0, ge=0)
    payment_hold_capture_hours: float = Field(default=2.0, gt=0)
    payment_hold_extend: bool = False
    # The seller on the invoices and credit notes of ad hoc payments (the hub's operator), and
    # the prefix of their numbers ("VR-000001"): one gapless sequence per prefix.
    invoice_seller_name: str = ""  # empty: HUB_NAME
    invoice_seller_address: str = ""
    invoice_seller_vat_id: str = ""
    invoice_number_prefix: str = Field(default="VR", pattern=r"^[A-Za-z0-9-]{1,16}$")
    # The hub's own eMSP role: it issues the single-use AD_HOC_USER tokens of paid sessions.
    payments_emsp_country_code: str = "NL"
    payments_emsp_party_id: str = "VRP"
    payments_emsp_name: str = "Voltroam Pay"
    # Durable payment jobs (capture, cancel, refund, start, stop): poll and retry.
    payment_jobs_poll_seconds: float = 1.0
    payment_jobs_max_attempts: int = 10
    payment_jobs_backoff_cap_seconds: float = 300.0
    # A job taken by an instance that died is taken again after this long.
    payment_jobs_lease_seconds: float = 60.0
    # What the hub keeps of a captured payment at a partner CPO's charger (the rest is owed to
    # that CPO): a percentage of the amount captured and/or a fixed fee per session per currency
    # ("EUR=0.30,GBP=0.25", major units). An admin may set other terms for one CPO.
    payout_fee_percent: str = "0"
    payout_fee_fixed: str = ""

    log_level: str = "INFO"

    @field_validator("payment_hold")
    @classmethod
    def _holds_parse(cls, value: str) -> str:
        parse_holds(value)
        return value

    @field_validator("payment_hold_min")
    @classmethod
    def _min_holds_parse(cls, value: str) -> str:
        parse_holds(value, "PAYMENT_HOLD_MIN")
        return value

    @field_validator("payment_hold_min_default")
    @classmethod
    def _min_default_parses(cls, value: str) -> str:
        if not _positive(value):
            raise ValueError(f"PAYMENT_HOLD_MIN_DEFAULT: {value!r} is not a positive amount")
        return value

    @cached_property
    def payment_holds_min(self) -> dict[str, Decimal]:
        """PAYMENT_HOLD_MIN by currency code (major units)."""
        return parse_holds(self.payment_hold_min, "PAYMENT_HOLD_MIN")

    @field_validator("payment_hold_default")
    @classmethod
    def _default_hold_parses(cls, value: str) -> str:
        if not _positive(value):
            raise ValueError(f"PAYMENT_HOLD_DEFAULT: {value!r} is not a positive amount")
        return value

    @field_validator("payout_fee_percent")
    @classmethod
    def _fee_percent_parses(cls, value: str) -> str:
        parse_percent(value, "PAYOUT_FEE_PERCENT")
        return value

    @field_validator("payout_fee_fixed")
    @classmethod
    def _fee_fixed_parses(cls, value: str) -> str:
        parse_amounts(value, "PAYOUT_FEE_FIXED")
        return value

    @cached_property
    def payout_fees_fixed(self) -> dict[str, Decimal]:
        """PAYOUT_FEE_FIXED by currency code (major units)."""
        return parse_amounts(self.payout_fee_fixed, "PAYOUT_FEE_FIXED")

    @cached_property
    def payment_holds(self) -> dict[str, Decimal]:
        """PAYMENT_HOLD by currency code (major units)."""
        return parse_holds(self.payment_hold)

    @property
    def payment_provider_name(self) -> str:
        """ "stripe" or "local", from PAYMENTS_PROVIDER and whether a Stripe key is set."""
        choice = self.payments_provider.strip().lower()
        if choice == "auto":
            choice = "stripe" if self.stripe_secret_key else "local"
        if choice not in ("stripe", "local"):
            raise ValueError(f"PAYMENTS_PROVIDER must be auto, stripe or local, not {choice!r}")
        if choice == "local" and self.stripe_secret_key.startswith(("sk_live_", "rk_live_")):
            raise ValueError(
                "The local test payment provider cannot run with a live Stripe key set"
                " (STRIPE_SECRET_KEY starts with sk_live_/rk_live_)"
            )
        if choice == "stripe" and not self.stripe_secret_key:
            raise ValueError("PAYMENTS_PROVIDER=stripe needs STRIPE_SECRET_KEY")
        return choice

    @property
    def base_url(self) -> str:
        url = self.public_url or f"http://{self.host}:{self.port}"
        return url.rstrip("/")

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)

    @property
    def sqlite_path(self) -> Path | None:
        """The file of a SQLite database (None: PostgreSQL, or SQLite in memory)."""
        url = self.database_url
        for prefix in ("sqlite:///", "sqlite+aiosqlite:///"):
            if url.startswith(prefix):
                path = url[len(prefix) :].split("?", 1)[0]
                if path and path != ":memory:":
                    return Path(path)
        return None

    @property
    def secret_key_path(self) -> Path | None:
        """Where the key file is: SECRET_KEY_FILE, else beside the SQLite database, else none."""
        if self.secret_key_file:
            return Path(self.secret_key_file)
        database = self.sqlite_path
        if database is None:
            return None
        if database.suffix == ".key":  # never the database file itself
            return database.with_name(database.name + ".key")
        return database.with_suffix(".key")

    @cached_property
    def resolved_secret_key(self) -> str:
        """SECRET_KEY, else the key file's content; SecretKeyMissing when there is neither.

        Never creates a key: that is ``create_secret_key_file``'s, which is called only for a
        database that holds no partner token yet.
        """
        if self.secret_key:
            return self.secret_key
        path = self.secret_key_path
        if path is None:
            raise SecretKeyMissing(
                "No secret key: with a PostgreSQL database set SECRET_KEY or SECRET_KEY_FILE,"
                " the same for every instance and command"
            )
        try:
            key = path.read_text().strip()
        except FileNotFoundError:
            raise SecretKeyMissing(
                f"No secret key: {path} does not exist (set SECRET_KEY or SECRET_KEY_FILE)"
            ) from None
        except OSError as exc:
            raise SecretKeyMissing(
                f"The secret key file {path} cannot be read ({exc.strerror});"
                " set SECRET_KEY or SECRET_KEY_FILE"
            ) from None
        if not key:
            raise SecretKeyMissing(f"The secret key file {path} is empty")
        return key

    def create_secret_key_file(self) -> str:
        """Generate the key into ``secret_key_path`` (mode 0600) and return it; when another
        process made it first, theirs is returned. SecretKeyMissing where no file is kept."""
        path = self.secret_key_path
        if path is None or self.secret_key:
            return self.resolved_secret_key
        key = secrets.token_urlsafe(32)
        try:
            # Created readable by the owner only, and only if it is not there yet.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.resolved_secret_key
        except OSError as exc:
            raise SecretKeyMissing(
                f"The secret key file {path} cannot be created ({exc.strerror});"
                " set SECRET_KEY or SECRET_KEY_FILE"
            ) from None
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key

    @property
    def resolved_admin_jwt_secret(self) -> str:
        return self.admin_jwt_secret or "admin-jwt:" + self.resolved_secret_key


def parse_holds(text: str, name: str = "PAYMENT_HOLD") -> dict[str, Decimal]:
    """ "EUR=50,GBP=45" -> {"EUR": 50, "GBP": 45}; ValueError naming ``name`` otherwise."""
    holds = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        code, _, amount = part.partition("=")
        if len(code.strip()) != 3 or not _positive(amount):
            raise ValueError(f"{name}: {part!r} is not CUR=amount (EUR=50)")
        holds[code.strip().upper()] = Decimal(amount.strip())
    return holds


def parse_amounts(text: str, name: str) -> dict[str, Decimal]:
    """ "EUR=0.30,GBP=0" -> {"EUR": 0.30, "GBP": 0} (zero allowed); ValueError naming ``name``."""
    amounts = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        code, _, amount = part.partition("=")
        value = _decimal(amount)
        if len(code.strip()) != 3 or value is None or value < 0:
            raise ValueError(f"{name}: {part!r} is not CUR=amount (EUR=0.30)")
        amounts[code.strip().upper()] = value
    return amounts


def parse_percent(text: str, name: str) -> Decimal:
    """A percentage from 0 to 100 ("2.5"); ValueError naming ``name``."""
    value = _decimal(text)
    if value is None or not 0 <= value <= 100:
        raise ValueError(f"{name}: {text!r} is not a percentage from 0 to 100")
    return value


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _positive(text: str) -> bool:
    try:
        return Decimal(text.strip()) > 0
    except InvalidOperation:
        return False


def to_async_url(url: str) -> str:
    """Give a database URL its async driver (aiosqlite, asyncpg)."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("postgresql+psycopg2://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def get_settings() -> Settings:
    return Settings()


__all__ = ["SecretKeyMissing", "Settings", "get_settings", "to_async_url"]
