"""The ``voltroam`` command."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar
from urllib.parse import urlsplit

import typer

from app.core.settings import Settings

if TYPE_CHECKING:
    from app.hub.sync import PullProgress

T = TypeVar("T")

cli = typer.Typer(
    help="Voltroam: an open OCPI 2.2.1 roaming hub with payments.",
    no_args_is_help=True,
    add_completion=False,
)
party_cli = typer.Typer(
    help="Partner platforms: invite, connect, list, sync.", no_args_is_help=True
)
cli.add_typer(party_cli, name="party")

try:  # the tariff engine's command group (app/tariffs/cli.py)
    from app.tariffs.cli import tariff_app

    cli.add_typer(tariff_app, name="tariff", help="Price CDRs with the OCPI tariff engine.")
except ImportError:  # pragma: no cover - only while the engine is not installed
    pass

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def _run(factory: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """Run one async unit of CLI work against the configured database."""
    settings = Settings()
    return asyncio.run(factory(settings))


async def _with_context(
    settings: Settings, work: Callable[..., Awaitable[T]], *, hands_out_urls: bool = False
) -> T:
    """Migrate, check the secret key against the database, then run ``work(ctx, session)``.

    ``hands_out_urls``: the command gives partners or chargers URLs of the hub, so it needs
    the URL the hub is reached at (``_public_settings``).
    """
    from app.core.migrate import upgrade_to_head_async
    from app.hub.context import HubContext
    from app.ocpp.identity import reserve
    from app.ocpp.settings import OcppSettings

    await upgrade_to_head_async(settings)
    await _check_secret_key(settings)
    if hands_out_urls:
        settings = await _public_settings(settings)
    ctx = HubContext.create(settings)
    reserve(ctx, OcppSettings())
    try:
        async with ctx.sessions() as session:
            return await work(ctx, session)
    finally:
        await ctx.close()


async def _check_secret_key(settings: Settings) -> None:
    """The database's key or exit 2 (never a second key: its tokens would be useless)."""
    from app.hub.secret_key import SecretKeyError, establish_secret_key

    try:
        await establish_secret_key(settings)
    except SecretKeyError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(2) from None


PUBLIC_URL_WARNING = """\
WARNING: PUBLIC_URL is not set, and no `voltroam serve` has recorded its URL in this database.
  Partners and chargers will be given {url} (http://HOST:PORT), which works only if that
  is where they reach this hub. Set PUBLIC_URL to the address partners use, for example
  PUBLIC_URL=https://hub.example.com, or start `voltroam serve` on this database first."""

UNSPECIFIED_HOST_WARNING = """\
WARNING: PUBLIC_URL is not set, and the running `voltroam serve` listens on all interfaces.
  Partners and chargers will be given {url}, which they cannot reach. Set PUBLIC_URL to
  the address partners use, for example PUBLIC_URL=https://hub.example.com."""


async def _public_settings(settings: Settings) -> Settings:
    """Where partners reach the hub: PUBLIC_URL; else the URL the running `voltroam serve`
    recorded in the database when it started; else http://HOST:PORT, with a loud warning."""
    from app.core.db import make_engine, make_sessionmaker
    from app.hub.cluster.service import SERVING_URL, get_fact

    if settings.public_url:
        return settings
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            serving = await get_fact(session, SERVING_URL)
    finally:
        await engine.dispose()
    if serving:
        settings = settings.model_copy(update={"public_url": serving})
        if urlsplit(serving).hostname not in ("0.0.0.0", "::"):  # noqa: S104 - a check, no bind
            return settings
        # `serve` listens on every interface: its URL names none partners could use.
        typer.echo(UNSPECIFIED_HOST_WARNING.format(url=serving), err=True)
        return settings
    typer.echo(PUBLIC_URL_WARNING.format(url=settings.base_url), err=True)
    return settings


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (PORT)")] = None,
) -> None:
    """Run the hub (migrates the database to the newest schema first)."""
    import uvicorn

    from app.main import create_app

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        provider = settings.payment_provider_name
    except ValueError as exc:
        typer.echo(f"Refusing to start: {exc}", err=True)
        raise typer.Exit(2) from None
    _migrate_in_child(settings)
    asyncio.run(_prepare_serve(settings))
    # The schema is at head (the child upgraded it): the app need not upgrade it again, and this
    # process never loads Alembic.
    app = create_app(settings.model_copy(update={"migrate_on_start": False}))
    typer.echo(f"Voltroam listening on http://{settings.host}:{settings.port}")
    typer.echo(f"  OCPI versions: {settings.versions_url}")
    if not settings.public_url:
        typer.echo(
            f"  PUBLIC_URL is not set: partners are given {settings.base_url}; set PUBLIC_URL"
            " when they reach the hub at another address",
            err=True,
        )
    typer.echo(f"  Database:      {settings.database_url}")
    if provider == "local":
        typer.echo("  Payments:      LOCAL TEST PROVIDER (no Stripe key set, no real money moves)")
    else:
        typer.echo("  Payments:      Stripe")
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


def _migrate_in_child(settings: Settings) -> None:
    """Before listening, the schema: `voltroam migrate` in a child process (else exit 2).

    Same environment and working directory, so the same database. In a child rather than here
    so that the serving process never loads Alembic and the migration scripts (about 6 MiB it
    would keep resident for its whole life)."""
    import subprocess

    if not settings.migrate_on_start:
        return
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], stdout=subprocess.DEVNULL, check=False
    )
    if done.returncode != 0:
        typer.echo("Refusing to start: the schema upgrade failed.", err=True)
        raise typer.Exit(2)


async def _prepare_serve(settings: Settings) -> None:
    """Before listening: the secret key of this database (else exit 2)."""
    try:
        await _check_secret_key(settings)
    except typer.Exit:
        typer.echo("Refusing to start.", err=True)
        raise


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the newest migration, then exit."""
    from app.core.migrate import upgrade_to_head

    settings = Settings()
    upgrade_to_head(settings)
    typer.echo(f"Database at head: {settings.database_url}")


@cli.command("make-migration")
def make_migration(message: Annotated[str, typer.Argument(help="What the migration does")]) -> None:
    """(Development) Write a new Alembic migration from the difference models/database."""
    from alembic import command

    from app.core.migrate import alembic_config, upgrade_to_head

    settings = Settings()
    upgrade_to_head(settings)
    command.revision(alembic_config(settings), message=message, autogenerate=True)


@cli.command("admin-token")
def admin_token(
    subject: Annotated[str, typer.Option(help="Who the token is for")] = "admin",
    ttl: Annotated[int | None, typer.Option(help="Lifetime in seconds")] = None,
) -> None:
    """Print an admin JWT for the admin API (Authorization: Bearer ...)."""
    from app.core.admin_auth import issue_admin_token

    settings = Settings()
    # The JWT is signed with a secret derived from the key: it must be the hub's.
    asyncio.run(_check_secret_key(settings))
    typer.echo(issue_admin_token(settings, subject, ttl))


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document")] = OPENAPI_PATH,
) -> None:
    """Write the OpenAPI document of the hub (openapi/openapi.json)."""
    from app.main import create_app

    document = create_app(Settings()).openapi()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    typer.echo(f"Wrote {output}")


_ROLE_HELP = "The party's role, CPO or EMSP: needed for OCPI 2.1.1 (its credentials do not say)"
_TIME_ZONE_HELP = "IANA time zone of a 2.1.1 CPO's Locations that send none (e.g. Europe/Amsterdam)"
_VAT_HELP = "VAT percentage of a 2.1.1 CPO's tariff prices (2.1.1 prices state none), e.g. 21"


def _declared(role: str | None, time_zone: str | None, vat: str | None) -> Any:
    """What a 2.1.1 party does not say (app/hub/parties/service.py, Declared), checked."""
    from decimal import Decimal, InvalidOperation
    from zoneinfo import ZoneInfo

    from app.hub.parties.service import Declared

    if role is not None and role.upper() not in ("CPO", "EMSP"):
        raise typer.BadParameter("--role must be CPO or EMSP")
    if time_zone is not None:
        try:
            ZoneInfo(time_zone)
        except (ValueError, KeyError):
            raise typer.BadParameter(
                f"--time-zone {time_zone!r} is not an IANA time zone"
            ) from None
    if vat is not None:
        try:
            if not 0 <= Decimal(vat) <= 100:
                raise InvalidOperation
        except InvalidOperation:
            raise typer.BadParameter("--vat must be a percentage, 0 to 100") from None
    return Declared(role.upper() if role else None, time_zone, vat)


@party_cli.command("invite")
def party_invite(
    name: Annotated[str, typer.Argument(help="Name of the partner platform")],
    ttl_hours: Annotated[int | None, typer.Option(help="Validity of token A in hours")] = None,
    role: Annotated[str | None, typer.Option(help=_ROLE_HELP)] = None,
    time_zone: Annotated[str | None, typer.Option(help=_TIME_ZONE_HELP)] = None,
    vat: Annotated[str | None, typer.Option(help=_VAT_HELP)] = None,
) -> None:
    """Create an invitation: prints the token A and the hub's versions URL for the party."""
    from app.hub.parties import service

    declared = _declared(role, time_zone, vat)

    async def work(settings: Settings) -> None:
        async def inner(ctx: Any, session: Any) -> None:
            platform, token_a = await service.create_invitation(
                session, ctx, name, ttl_hours, declared
            )
            typer.echo(f"Platform id:   {platform.id}")
            typer.echo(f"Versions URL:  {ctx.settings.versions_url}")
            typer.echo(f"Token A:       {token_a}")
            typer.echo(f"Expires at:    {platform.inbound_token_expires_at}")
            typer.echo("Hand both to the party over a secure channel; token A works once.")

        await _with_context(settings, inner, hands_out_urls=True)

    _run(work)


@party_cli.command("connect")
def party_connect(
    versions_url: Annotated[str, typer.Argument(help="The party's OCPI versions URL")],
    token_a: Annotated[str, typer.Option("--token-a", help="The token A the party issued")],
    name: Annotated[str | None, typer.Option(help="A name for the platform")] = None,
    role: Annotated[str | None, typer.Option(help=_ROLE_HELP)] = None,
    time_zone: Annotated[str | None, typer.Option(help=_TIME_ZONE_HELP)] = None,
    vat: Annotated[str | None, typer.Option(help=_VAT_HELP)] = None,
) -> None:
    """Connect to a party: the hub performs the credentials handshake as Sender, in the highest
    OCPI version both speak (2.3.0, 2.2.1, 2.1.1)."""
    from app.hub.parties import service
    from app.ocpi.errors import OcpiError

    declared = _declared(role, time_zone, vat)

    async def work(settings: Settings) -> None:
        async def inner(ctx: Any, session: Any) -> None:
            try:
                view = await service.connect_to_party(
                    session, ctx, versions_url, token_a, name, declared
                )
            except OcpiError as exc:
                typer.echo(f"Handshake failed (OCPI {exc.status_code}): {exc.message}", err=True)
                raise typer.Exit(1) from None
            roles = ", ".join(f"{r.role} {r.country_code}*{r.party_id}" for r in view.roles)
            typer.echo(f"Connected: platform {view.platform.id} ({roles})")
            if any(r.role == "CPO" for r in view.roles) and ctx.settings.sync_after_registration:
                typer.echo(
                    "The running hub pulls its Locations and Tariffs"
                    f" (voltroam party sync {view.platform.id} does it now)"
                )

        await _with_context(settings, inner, hands_out_urls=True)

    _run(work)


@party_cli.command("list")
def party_list() -> None:
    """List platforms with their roles and connection status."""
    from app.hub.parties import service

    async def work(settings: Settings) -> None:
        async def inner(ctx: Any, session: Any) -> None:
            views = await service.list_platforms(session)
            if not views:
                typer.echo("No platforms yet. Invite one with: voltroam party invite NAME")
            for view in views:
                p = view.platform
                roles = ", ".join(f"{r.role} {r.country_code}*{r.party_id}" for r in view.roles)
                version = f"OCPI {p.version}" if p.version else "no version yet"
                typer.echo(
                    f"{p.id:>4}  {p.status:<10} {p.name}  [{roles or 'no roles yet'}]  {version}"
                )

        await _with_context(settings, inner)

    _run(work)


@party_cli.command("sync")
def party_sync(
    platform_id: Annotated[int, typer.Argument(help="The platform's id (voltroam party list)")],
) -> None:
    """Pull a CPO platform's Locations and Tariffs now, showing progress as pages arrive.

    Runs a sync job in this process (listed with the others in GET /admin/syncs); the running
    hub delivers what changed. Killed, the job is finished by a running hub once its lease
    (SYNC_LEASE_SECONDS) runs out.
    """
    from app.hub.parties import service
    from app.hub.sync import PULLED
    from app.hub.syncs import service as syncs
    from app.hub.syncs.models import SyncReason

    async def work(settings: Settings) -> None:
        async def inner(ctx: Any, session: Any) -> None:
            view = await service.get_platform(session, platform_id)
            if view is None:
                typer.echo(f"Unknown platform {platform_id} (see: voltroam party list)", err=True)
                raise typer.Exit(1)
            platform = view.platform
            if not platform.registered:
                typer.echo(
                    f"Platform {platform_id} ({platform.name}) has not registered yet", err=True
                )
                raise typer.Exit(1)
            if not any(r.role == "CPO" for r in view.roles):
                typer.echo(
                    f"Platform {platform_id} ({platform.name}) has no CPO role: nothing to pull",
                    err=True,
                )
                raise typer.Exit(1)
            job = await syncs.start(session, ctx, platform_id, SyncReason.CLI)
            assert job.id is not None
            await session.close()  # the pull uses sessions of its own
            typer.echo(
                f"Pulling Locations and Tariffs from platform {platform_id} ({platform.name}),"
                f" sync job {job.id}"
            )
            ended = await syncs.run(ctx, job.id, SyncProgress())
            if ended is None:
                typer.echo(
                    f"Sync job {job.id} was taken over by a running hub (GET /admin/syncs/{job.id})",
                    err=True,
                )
                raise typer.Exit(1)
            modules = {m: ended.modules[m] for m in PULLED if m in ended.modules}
            if not modules and not ended.error:
                typer.echo("Nothing to pull: the platform has no Locations or Tariffs Sender")
                return
            if modules:
                counts = "; ".join(
                    f"{module} {m['stored']} stored, {m['ignored']} ignored"
                    for module, m in modules.items()
                )
                typer.echo(f"Pulled from platform {platform_id}: {counts}")
            if ended.error:
                typer.echo(
                    f"The pull from platform {platform_id} failed (is the partner reachable?):",
                    err=True,
                )
                errors = [f"{module}: {m['error']}" for module, m in modules.items() if m["error"]]
                for error in errors or [ended.error]:
                    typer.echo(f"  {error}", err=True)
                raise typer.Exit(1)

        await _with_context(settings, inner)

    _run(work)


class SyncProgress:
    """Shows the progress of a pull (app.hub.sync.pull_cpo's callback): a line per page, or on a
    terminal one line rewritten in place, then a line per module when it is done."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.tty = self.out.isatty()
        self.width = 0

    def __call__(self, progress: PullProgress) -> None:
        objects = f"{progress.objects}" + (
            f"/{progress.total}" if progress.total is not None else ""
        )
        if not progress.done:
            self._show(f"{progress.module}: page {progress.pages}, {objects} objects", final=False)
            return
        outcome = "failed" if progress.error else "done"
        pages = f"{progress.pages} page{'' if progress.pages == 1 else 's'}"
        self._show(
            f"{progress.module}: {outcome}, {pages}, {objects} objects"
            f" ({progress.stored} stored, {progress.ignored} ignored)",
            final=True,
        )

    def _show(self, line: str, final: bool) -> None:
        if not self.tty:
            self.out.write(line + "\n")
        else:
            # Rewrite the line in place; pad over what a longer previous line left.
            self.out.write("\r" + line.ljust(self.width) + ("\n" if final else ""))
            self.width = 0 if final else len(line)
        self.out.flush()


charger_cli = typer.Typer(
    help="The hub's own OCPP chargers: add, list, QR codes of pay pages.", no_args_is_help=True
)
cli.add_typer(charger_cli, name="charger")


@charger_cli.command("add")
def charger_add(
    charge_point_id: Annotated[str, typer.Argument(help="The charger's OCPP identity")],
    password: Annotated[
        str | None,
        typer.Option(help="HTTP Basic password (16-40 characters); omit for none"),
    ] = None,
    location: Annotated[
        str | None, typer.Option(help="Location of the own CPO to attach it to")
    ] = None,
    evses: Annotated[int, typer.Option(help="Number of EVSEs (1.6: connectors)")] = 1,
) -> None:
    """Register a charger: it may then connect to ws://HOST/ocpp/CHARGE_POINT_ID."""
    from app.ocpp import service
    from app.ocpp.settings import OcppSettings

    if password is not None and not 16 <= len(password) <= 40:
        typer.echo("The password must have 16 to 40 characters", err=True)
        raise typer.Exit(1)

    async def work(settings: Settings) -> None:
        async def inner(ctx: Any, session: Any) -> None:
            try:
                charger = await service.add_charger(
                    session,
                    ctx,
                    OcppSettings(),
                    charge_point_id=charge_point_id,
                    password=password,
                    location_id=location,
                    evse_count=evses,
                )
            except service.ChargerError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(1) from None
            url = ctx.settings.base_url.replace("http", "ws", 1)
            typer.echo(f"Charger {charger.charge_point_id} registered")
            typer.echo(f"  Endpoint:  {url}/ocpp/{charger.charge_point_id}")
            typer.echo(f"  Password:  {'set (stored hashed)' if password else 'none'}")
            typer.echo(f"  Location:  {charger.location_id or '-'}")

        await _with_context(settings, inner, hands_out_urls=True)

    _run(work)


@charger_cli.command("list")
def charger_list() -> None:
    """List registered chargers with their connection state."""
    from app.ocpp import service

    async def work(settings: Settings) -> None:
        async def inner(ctx: Any, session: Any) -> None:
            chargers = await service.list_chargers(session)
            if not chargers:
                typer.echo("No chargers yet. Add one with: voltroam charger add ID --password ...")
            for c in chargers:
                state = "connected" if c.connected else "offline"
                typer.echo(
                    f"{c.charge_point_id:<32} {state:<10} OCPP {c.ocpp_version or '-':<6}"
                    f" location {c.location_id or '-'}"
                )

        await _with_context(settings, inner)

    _run(work)


@charger_cli.command("qr")
def charger_qr(
    evse_uid: Annotated[str, typer.Argument(help="The EVSE.uid (own chargers: CHARGER-1, ...)")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (.svg or .png)")
    ] = None,
    format: Annotated[
        str | None, typer.Option(help="svg or png (default: from the file name, else svg)")
    ] = None,
    cpo: Annotated[
        str | None, typer.Option(help="The CPO as CC*PID when several share the uid")
    ] = None,
    scale: Annotated[int, typer.Option(min=1, max=40, help="Pixels per module")] = 8,
) -> None:
    """The QR code of an EVSE's pay page (PUBLIC_URL/pay/EVSE_UID), to print on the charger."""
    from app.ocpi.headers import PartyRef
    from app.payments.evse import find_evses
    from app.payments.qr import pay_url, qr_code

    kind = (format or (output.suffix.lstrip(".") if output else "svg")).lower()
    if kind not in ("svg", "png"):
        typer.echo(f"Unknown format {kind!r}: use svg or png", err=True)
        raise typer.Exit(2)
    ref = None
    if cpo:
        if "*" not in cpo:
            typer.echo("--cpo must look like NL*ABC", err=True)
            raise typer.Exit(2)
        ref = PartyRef.of(*cpo.split("*", 1))

    async def work(settings: Settings) -> str | None:
        async def inner(ctx: Any, session: Any) -> str | None:
            found = await find_evses(session, evse_uid, ref, ctx=ctx)
            if len(found) != 1:
                return None
            return pay_url(ctx.settings.base_url, found[0].uid, cpo)

        return await _with_context(settings, inner, hands_out_urls=True)

    url = _run(work)
    if url is None:
        typer.echo(f"No single EVSE {evse_uid} is known (see --cpo)", err=True)
        raise typer.Exit(1)
    data = qr_code(url, kind, scale)
    if output is None:
        if kind == "png":
            typer.echo("A PNG needs --output FILE", err=True)
            raise typer.Exit(2)
        sys.stdout.write(data.decode())
        return
    output.write_bytes(data)
    typer.echo(f"{output}: QR code of {url}")


settlement_cli = typer.Typer(
    help="Settlement with partner CPOs: what the hub owes them.", no_args_is_help=True
)
cli.add_typer(settlement_cli, name="settlement")


@settlement_cli.command("statement")
def settlement_statement(
    cpo: Annotated[str, typer.Argument(help="The CPO as CC*PID (NL*CPA)")],
    month: Annotated[str, typer.Option(help="The month, YYYY-MM (UTC)")],
    format: Annotated[str, typer.Option(help="csv or json")] = "csv",
) -> None:
    """A CPO's settlement statement for one month: captures, refunds, fees, its share, transfers."""
    from fastapi.encoders import jsonable_encoder

    from app.ocpi.headers import PartyRef
    from app.payments import settlement

    if format not in ("csv", "json"):
        typer.echo(f"Unknown format {format!r}: use csv or json", err=True)
        raise typer.Exit(2)
    country, _, party = cpo.partition("*")
    if len(country) != 2 or not 1 <= len(party) <= 3:
        typer.echo("CPO must look like NL*ABC", err=True)
        raise typer.Exit(2)
    try:
        settlement.month_bounds(month)
    except settlement.BadPeriod as exc:
        typer.echo(f"--month: {exc}", err=True)
        raise typer.Exit(2) from None

    async def work(settings: Settings) -> settlement.Statement:
        async def inner(ctx: Any, session: Any) -> settlement.Statement:
            return await settlement.statement(session, PartyRef.of(country, party), month)

        return await _with_context(settings, inner)

    found = _run(work)
    if format == "csv":
        sys.stdout.write(settlement.as_csv(found))
    else:
        typer.echo(json.dumps(jsonable_encoder(found.as_json()), indent=2))


@cli.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the hub")] = 8080,
    database: Annotated[
        str, typer.Option(help="Database of the demo (recreated on every run)")
    ] = "sqlite:///./voltroam-demo.db",
    exit_when_done: Annotated[
        bool, typer.Option("--exit-when-done", help="Stop after the scripted sessions")
    ] = False,
) -> None:
    """Run the hub with a simulated CPO, eMSP and chargers; a roaming and a paid session."""
    from app.demo.run import run_demo

    try:
        code = asyncio.run(
            run_demo(port=port, database_url=database, exit_when_done=exit_when_done)
        )
    except KeyboardInterrupt:
        code = 0
    except (OSError, RuntimeError, TimeoutError) as exc:
        typer.echo(f"The demo stopped: {exc}", err=True)
        code = 1
    raise typer.Exit(code)


# --- roaming agreements (app/hub/agreements.py) ------------------------------------------------

agreement_cli = typer.Typer(
    help="Roaming agreements between CPO and eMSP roles: list, open, suspend, end.",
    no_args_is_help=True,
)
cli.add_typer(agreement_cli, name="agreement")

CpoArg = Annotated[
    str, typer.Argument(help="CPO role CC*PID, or platform:ID for all its CPO roles")
]
EmspArg = Annotated[
    str, typer.Argument(help="eMSP-like role CC*PID, or platform:ID for all its eMSP-like roles")
]


@agreement_cli.command("list")
def agreement_list() -> None:
    """Every CPO/eMSP pair, its state (the default where no agreement exists) and sync."""
    from app.hub import agreements_service as service

    async def work(settings: Settings) -> None:
        async def inner(ctx: Any, session: Any) -> None:
            views = await service.pairs(session, ctx)
            typer.echo(f"Default for pairs without an agreement: {settings.agreements_default}")
            if not views:
                typer.echo("No CPO/eMSP pairs yet.")
            for v in views:
                modules = ",".join(v.modules) if v.modules is not None else "all modules"
                origin = f"by {v.row.changed_by or '?'}" if v.row else "(default)"
                line = f"{v.cpo!s:<7} {v.emsp!s:<7} {v.state:<10} {modules}  {origin}"
                if v.sync is not None:
                    line += (
                        f"  sync: {v.sync.delivered}/{v.sync.queued} delivered,"
                        f" {v.sync.pending} pending, {v.sync.failed} failed"
                    )
                typer.echo(line)

        await _with_context(settings, inner)

    _run(work)


def _agreement_change(cpo: str, emsp: str, state: str, modules: str | None) -> None:
    import getpass

    from app.hub import agreements_service as service

    async def work(settings: Settings) -> None:
        async def inner(ctx: Any, session: Any) -> None:
            try:
                views = await service.change(
                    session,
                    ctx,
                    cpo=cpo,
                    emsp=emsp,
                    state=state,
                    modules=[m.strip() for m in modules.split(",")] if modules else None,
                    by=f"cli:{getpass.getuser()}",
                )
            except service.AgreementError as exc:
                typer.echo(f"Error: {exc}", err=True)
                raise typer.Exit(2) from None
            for v in views:
                queued = f"; {v.sync.queued} objects queued" if v.sync and state == "active" else ""
                typer.echo(f"{v.cpo} / {v.emsp}: {v.state}{queued}")

        await _with_context(settings, inner)

    _run(work)


@agreement_cli.command("open")
def agreement_open(
    cpo: CpoArg,
    emsp: EmspArg,
    modules: Annotated[
        str | None,
        typer.Option(help="Comma-separated modules to cover (default: unchanged, or all)"),
    ] = None,
) -> None:
    """Activate the agreement: the eMSP is sent the CPO's Locations and Tariffs, the CPO the
    eMSP's Tokens (through the running hub's outbox)."""
    _agreement_change(cpo, emsp, "active", modules)


@agreement_cli.command("suspend")
def agreement_suspend(cpo: CpoArg, emsp: EmspArg) -> None:
    """Stop the flow between the two for now (running Sessions finish)."""
    _agreement_change(cpo, emsp, "suspended", None)


@agreement_cli.command("end")
def agreement_end(cpo: CpoArg, emsp: EmspArg) -> None:
    """End the agreement: nothing more flows or is queued (running Sessions finish)."""
    _agreement_change(cpo, emsp, "ended", None)


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":
    main()
