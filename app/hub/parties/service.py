"""Platforms, roles and the credentials handshake in both directions (credentials.asciidoc).

Party-initiated ("the party is the Sender of the credentials module"):
    admin invites -> token A -> party GETs our versions with A -> POSTs its credentials (token B)
    -> we fetch its versions/details with B -> store -> answer with our credentials (token C).
Hub-initiated (the hub is the Sender):
    admin gives the party's versions URL and the token A it issued -> we fetch with A -> POST our
    credentials (token B) -> the party answers with its token C, which we use from then on.

No database transaction is held open while a partner is called.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.core.security import hash_token, new_token
from app.hub import clientinfo
from app.hub.context import HubContext
from app.hub.local import LocalRole
from app.hub.parties.models import (
    ConnectionStatus,
    Platform,
    PlatformParty,
    PlatformRole,
    endpoint_url,
)
from app.hub.syncs.service import queue_after_registration
from app.ocpi.client import PeerError
from app.ocpi.errors import MethodNotAllowed, OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.schemas.common import Role
from app.ocpi.schemas.credentials import BusinessDetails, Credentials, CredentialsRole
from app.ocpi.schemas.versions import Endpoint, ModuleID, Version, VersionDetails
from app.ocpi.status import OcpiStatus
from app.ocpi.translate import VERSIONS, from_canonical, to_canonical
from app.ocpi.translation import Kind, NotRepresentable, PartyIds, TranslationContext

log = logging.getLogger("voltroam.parties")

SUPPORTED_VERSION = "2.2.1"
# Every version the hub speaks, oldest first (app/ocpi/translate.py); 2.2.1 is the canonical one.
SUPPORTED_VERSIONS = VERSIONS
TOKEN_A = "A"  # an invitation: versions and credentials only, single use, expiring
TOKEN_REGISTERED = "R"  # the token of a registered platform (C, or B when the hub initiated)

# How often the last_seen_at column is written for a busy platform.
_SEEN_RESOLUTION = timedelta(seconds=30)


@dataclass
class PlatformView:
    platform: Platform
    roles: list[PlatformRole]


# --- the hub's own credentials ----------------------------------------------------------------


def hub_role(ctx: HubContext) -> CredentialsRole:
    settings = ctx.settings
    return CredentialsRole(
        role=Role.HUB,
        country_code=settings.hub_country_code,
        party_id=settings.hub_party_id,
        business_details=BusinessDetails(
            name=settings.hub_name, website=settings.hub_website or None
        ),
    )


def hub_credentials(ctx: HubContext, token: str) -> Credentials:
    """ "A Hub SHALL only report itself as role: Hub" (credentials.asciidoc)."""
    return Credentials(token=token, url=ctx.settings.versions_url, roles=[hub_role(ctx)])


def _declared_roles(role: str | None) -> tuple[Role, ...]:
    return (Role(role),) if role in set(Role) else ()


async def reachable_roles(
    session: AsyncSession, exclude_platform_id: int | None
) -> tuple[dict[str, object], ...]:
    """The roles of the parties reachable through the hub (every registered platform but the
    one asking), as 2.2.1 CredentialsRoles: a 2.3.0 hub lists them in its credentials."""
    rows = (
        await session.exec(
            select(PlatformRole)
            .join(Platform, col(Platform.id) == col(PlatformRole.platform_id))
            .where(col(Platform.registered).is_(True), Platform.id != (exclude_platform_id or -1))
            .order_by(col(PlatformRole.id))
        )
    ).all()
    return tuple(
        {
            "role": r.role,
            "business_details": r.business_details or {"name": f"{r.country_code}*{r.party_id}"},
            "party_id": r.party_id,
            "country_code": r.country_code,
        }
        for r in rows
    )


async def credentials_in_version(
    session: AsyncSession,
    ctx: HubContext,
    creds: Credentials,
    version: str,
    platform_id: int | None,
) -> dict[str, object]:
    """The hub's credentials as a party of ``version`` reads them (2.1.1: one party, the hub's;
    2.3.0: hub_party_id and the parties reachable through the hub as roles)."""
    data = creds.to_json()
    if version == SUPPORTED_VERSION:
        return data
    tctx = TranslationContext(
        hub=PartyIds(ctx.settings.hub_country_code, ctx.settings.hub_party_id),
        reachable=await reachable_roles(session, platform_id),
    )
    result: dict[str, object] = from_canonical(version, Kind.CREDENTIALS, data, None, tctx)
    return result


# --- authentication ---------------------------------------------------------------------------


async def authenticate(session: AsyncSession, candidates: Sequence[str]) -> Platform | None:
    """The platform whose inbound token is one of ``candidates`` (an expired token A is none)."""
    if not candidates:
        return None
    hashes = [hash_token(c) for c in candidates]
    result = await session.exec(
        select(Platform)
        .where(col(Platform.inbound_token_hash).in_(hashes))
        # As stored now, not as an earlier unit of work of this session read it (the cache of
        # app/hub/directory keeps what this returns).
        .execution_options(populate_existing=True)
    )
    platform = result.first()
    if platform is None or not await seen(session, platform):
        return None
    return platform


async def seen(session: AsyncSession, platform: Platform) -> bool:
    """Whether the platform's token is still valid (an expired token A is not); notes that the
    platform was seen (``last_seen_at``, at most every 30 s, committed)."""
    now = utcnow()
    if platform.inbound_token_expires_at is not None and platform.inbound_token_expires_at <= now:
        return False
    if platform.last_seen_at is None or now - platform.last_seen_at > _SEEN_RESOLUTION:
        await session.exec(
            update(Platform).where(col(Platform.id) == platform.id).values(last_seen_at=now)
        )
        await session.commit()
        platform.last_seen_at = now
    return True


# --- invitations and listing ------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """What a 2.1.1 partner does not say and the admin declares (migration 0014)."""

    role: str | None = None
    time_zone: str | None = None
    vat: str | None = None


async def create_invitation(
    session: AsyncSession,
    ctx: HubContext,
    name: str,
    ttl_hours: int | None = None,
    declared: Declared = Declared(),
) -> tuple[Platform, str]:
    """A new PLANNED platform and its single-use CREDENTIALS_TOKEN_A (shown once, kept hashed)."""
    token_a = new_token()
    hours = ttl_hours if ttl_hours is not None else ctx.settings.invitation_ttl_hours
    platform = Platform(
        name=name,
        status=ConnectionStatus.PLANNED,
        initiated_by="party",
        inbound_token_hash=hash_token(token_a),
        inbound_token_kind=TOKEN_A,
        inbound_token_expires_at=datetime.now(UTC) + timedelta(hours=hours),
        declared_role=declared.role,
        time_zone=declared.time_zone,
        vat=declared.vat,
    )
    session.add(platform)
    await session.commit()
    await session.refresh(platform)
    log.info("invitation created for platform %s (%s)", platform.id, name)
    return platform, token_a


async def list_platforms(session: AsyncSession) -> list[PlatformView]:
    platforms = (await session.exec(select(Platform).order_by(col(Platform.id)))).all()
    roles = (await session.exec(select(PlatformRole).order_by(col(PlatformRole.id)))).all()
    by_platform: dict[int, list[PlatformRole]] = {}
    for role in roles:
        by_platform.setdefault(role.platform_id, []).append(role)
    return [PlatformView(p, by_platform.get(p.id or 0, [])) for p in platforms]


async def get_platform(session: AsyncSession, platform_id: int) -> PlatformView | None:
    platform = await session.get(Platform, platform_id, populate_existing=True)
    if platform is None:
        return None
    roles = (
        await session.exec(
            select(PlatformRole)
            .where(PlatformRole.platform_id == platform_id)
            .execution_options(populate_existing=True)
        )
    ).all()
    return PlatformView(platform, list(roles))


async def set_status(
    session: AsyncSession, ctx: HubContext, platform_id: int, status: str
) -> PlatformView | None:
    """Change a platform's connection status and announce it (suspend, resume, still-alive)."""
    platform = await session.get(Platform, platform_id)
    if platform is None:
        return None
    previous = platform.status
    if previous != status:
        platform.status = status
        platform.updated_at = utcnow()
        session.add(platform)
        if platform.registered:
            await clientinfo.status_changed(session, ctx, platform, previous)
        await session.commit()
        ctx.notify_outbox()
    return await get_platform(session, platform_id)


# --- talking to the partner -------------------------------------------------------------------


async def fetch_endpoints(
    ctx: HubContext,
    versions_url: str,
    token: str,
    *,
    wanted: str | None = None,
    declared_role: str | None = None,
    avoid: frozenset[str] = frozenset(),
) -> tuple[str, list[Endpoint]]:
    """Fetch the partner's versions and the details of ``wanted`` (the version it registered
    in), or else of the highest version both speak; the details in the canonical (2.2.1) form.

    3001 when the partner cannot be used, 3002 when there is no common version (or a 2.1.1
    partner whose role nobody declared: 2.1.1 says it nowhere), 3003 when it offers no
    credentials endpoint.
    """
    try:
        first = "2.1.1" if wanted == "2.1.1" else None
        reply = await ctx.ocpi.request("GET", versions_url, token, module="versions", version=first)
        if reply.http_status == 401 and first is None:
            # The version is not known before this answer: a 2.1.1 party may want its token
            # as it is, not Base64 encoded (a GET, safe to ask again).
            reply = await ctx.ocpi.request(
                "GET", versions_url, token, module="versions", version="2.1.1"
            )
        if not reply.ok:
            raise OcpiError(
                OcpiStatus.UNABLE_TO_USE_CLIENT_API,
                f"GET {versions_url} answered HTTP {reply.http_status}, OCPI {reply.status_code}",
            )
        versions = [Version.model_validate(v) for v in reply.many() if isinstance(v, dict)]
        offered = {v.version.strip(): v for v in versions}
        choices = (
            [wanted]
            if wanted is not None
            else [v for v in reversed(SUPPORTED_VERSIONS) if v not in avoid]
        )
        match = next((offered[v] for v in choices if v in offered), None)
        if match is None:
            raise OcpiError(
                OcpiStatus.UNSUPPORTED_VERSION,
                f"No common OCPI version: the hub speaks {', '.join(choices)}, the party offers"
                f" {', '.join(offered) or 'none'}",
            )
        version = match.version.strip()
        if version == "2.1.1" and declared_role is None:
            raise OcpiError(
                OcpiStatus.UNSUPPORTED_VERSION,
                "OCPI 2.1.1 credentials do not say the party's role: invite or connect it with"
                " its role (CPO or EMSP) to use 2.1.1",
            )
        reply = await ctx.ocpi.request("GET", match.url, token, module="versions", version=version)
        if not reply.ok:
            raise OcpiError(
                OcpiStatus.UNABLE_TO_USE_CLIENT_API,
                f"GET {match.url} answered HTTP {reply.http_status}, OCPI {reply.status_code}",
            )
        roles = (Role(declared_role),) if declared_role in set(Role) else ()
        canonical, _ = to_canonical(
            version, Kind.VERSION_DETAILS, reply.one(), TranslationContext(roles=roles)
        )
        details = VersionDetails.model_validate(canonical)
    except PeerError as exc:
        raise OcpiError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, exc.message) from None
    except NotRepresentable as exc:
        raise OcpiError(
            OcpiStatus.UNABLE_TO_USE_CLIENT_API,
            f"The party's version information cannot be used: {exc.message}",
        ) from None
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise OcpiError(
            OcpiStatus.UNABLE_TO_USE_CLIENT_API,
            f"The party's version information is not valid OCPI: {_first_error(exc)}",
        ) from None
    if not any(e.identifier == ModuleID.CREDENTIALS for e in details.endpoints):
        raise OcpiError(
            OcpiStatus.NO_MATCHING_ENDPOINTS,
            f"The party's {version} endpoints do not include the credentials module",
        )
    return version, details.endpoints


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return f"{loc}: {first.get('msg')}"
    return str(exc)


# --- roles ------------------------------------------------------------------------------------
#
# "The combination of country_code and party_id should always be unique" (credentials.asciidoc,
# Credentials object): a party id belongs to one platform, whatever the role it plays there, or
# the hub could not tell whose a Session, a CDR or a command is. PlatformParty holds it in the
# database; the checks below only give the clear answer first.

_ONE_PLATFORM = "a country_code/party_id belongs to one platform, whatever the role"


def _key(role: CredentialsRole) -> tuple[str, str]:
    return role.country_code.upper(), role.party_id.upper()


async def _other_holder(
    session: AsyncSession, platform_id: int | None, key: tuple[str, str]
) -> tuple[PlatformParty, Platform] | None:
    cc, pid = key
    return (
        await session.exec(
            select(PlatformParty, Platform)
            .join(Platform, col(Platform.id) == col(PlatformParty.platform_id))
            .where(
                PlatformParty.country_code == cc,
                PlatformParty.party_id == pid,
                PlatformParty.platform_id != (platform_id or -1),
            )
        )
    ).first()


def _taken(key: tuple[str, str]) -> OcpiError:
    return OcpiError(
        OcpiStatus.INVALID_PARAMETERS,
        f"{key[0]}*{key[1]} is already registered by another platform: {_ONE_PLATFORM}",
    )


async def _check_roles(
    session: AsyncSession, ctx: HubContext, platform_id: int | None, roles: list[CredentialsRole]
) -> None:
    """Refuse party ids of the hub itself or of another registered platform, in any role.

    Party ids left behind by a platform that unregistered are released to the newcomer (when its
    roles are stored).
    """
    for key in dict.fromkeys(_key(role) for role in roles):
        reserved = ctx.reserved_parties.get(key)
        if reserved is not None:
            raise OcpiError(
                OcpiStatus.INVALID_PARAMETERS,
                f"{key[0]}*{key[1]} is {reserved}: {_ONE_PLATFORM}",
            )
        held = await _other_holder(session, platform_id, key)
        if held is not None and held[1].registered:
            raise _taken(key)


async def _replace_roles(
    session: AsyncSession, platform_id: int, roles: Sequence[CredentialsRole]
) -> None:
    """Store the platform's roles and the party ids they need (flushed, not committed).

    The party ids are claimed in the database first: when another registration took one since
    the checks, its unique key refuses this one (2001), and the transaction is rolled back.
    """
    wanted = list(dict.fromkeys(_key(role) for role in roles))
    await session.exec(delete(PlatformRole).where(col(PlatformRole.platform_id) == platform_id))
    held = (
        await session.exec(select(PlatformParty).where(PlatformParty.platform_id == platform_id))
    ).all()
    for row in held:
        if (row.country_code, row.party_id) not in wanted:
            await session.delete(row)
    for key in wanted:
        if any((row.country_code, row.party_id) == key for row in held):
            continue
        other = await _other_holder(session, platform_id, key)
        if other is not None:
            if other[1].registered:
                await session.rollback()
                raise _taken(key)
            # Left behind by a platform that unregistered: released to this one.
            await session.exec(
                delete(PlatformRole).where(
                    col(PlatformRole.platform_id) == other[0].platform_id,
                    col(PlatformRole.country_code) == key[0],
                    col(PlatformRole.party_id) == key[1],
                )
            )
            await session.delete(other[0])
            await session.flush()
        session.add(PlatformParty(platform_id=platform_id, country_code=key[0], party_id=key[1]))
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise OcpiError(
            OcpiStatus.INVALID_PARAMETERS,
            f"{_roles_text(roles)}: a party id was registered by another platform meanwhile;"
            f" {_ONE_PLATFORM}",
        ) from None
    for role in roles:
        session.add(
            PlatformRole(
                platform_id=platform_id,
                role=role.role.value,
                country_code=role.country_code.upper(),
                party_id=role.party_id.upper(),
                business_details=role.business_details.to_json(),
            )
        )
    await session.flush()


async def store_roles(
    session: AsyncSession, platform_id: int, roles: Sequence[CredentialsRole]
) -> None:
    """Set the roles of one of the hub's own platforms (its own CPO); the caller commits."""
    await _replace_roles(session, platform_id, roles)


# --- party-initiated: the hub is the Receiver of the credentials module -----------------------


async def register_party(
    session: AsyncSession,
    ctx: HubContext,
    platform: Platform,
    creds: Credentials,
    version: str = SUPPORTED_VERSION,
) -> Credentials:
    """POST credentials: the party registers with the token A it was given, in ``version`` (the
    version whose credentials endpoint it called: the one it chose)."""
    if platform.registered or platform.inbound_token_kind != TOKEN_A:
        # "This method MUST return a HTTP status code 405 if the client has already been
        # registered before."
        raise MethodNotAllowed("Already registered: use PUT to update the credentials")
    return await _store_party_credentials(session, ctx, platform, creds, version)


async def update_party(
    session: AsyncSession,
    ctx: HubContext,
    platform: Platform,
    creds: Credentials,
    version: str = SUPPORTED_VERSION,
) -> Credentials:
    """PUT credentials: re-fetch the endpoints, switch version (a PUT to another version's
    credentials endpoint upgrades the party to it), and rotate token C."""
    if not platform.registered:
        raise MethodNotAllowed("Not registered: use POST to register first")
    return await _store_party_credentials(session, ctx, platform, creds, version)


async def _store_party_credentials(
    session: AsyncSession,
    ctx: HubContext,
    platform: Platform,
    creds: Credentials,
    wanted: str,
) -> Credentials:
    platform_id = platform.id
    assert platform_id is not None
    old_hash = platform.inbound_token_hash
    declared_role = platform.declared_role
    previous = platform.status if platform.registered else None
    # Roles are checked before the party is called back, and again when writing below.
    await _check_roles(session, ctx, platform_id, creds.roles)
    await session.rollback()

    version, endpoints = await fetch_endpoints(
        ctx, creds.url, creds.token, wanted=wanted, declared_role=declared_role
    )

    token_c = new_token()
    await _check_roles(session, ctx, platform_id, creds.roles)
    # Guarded on the token the request came with: of two concurrent POSTs with one token A,
    # only one can win ("The CREDENTIALS_TOKEN_A can then be thrown away").
    result = await session.exec(
        update(Platform)
        .where(col(Platform.id) == platform_id, col(Platform.inbound_token_hash) == old_hash)
        .values(
            registered=True,
            status=ConnectionStatus.CONNECTED,
            versions_url=creds.url,
            version=version,
            endpoints=[e.to_json() for e in endpoints],
            outbound_token=ctx.cipher.encrypt(creds.token),
            inbound_token_hash=hash_token(token_c),
            inbound_token_kind=TOKEN_REGISTERED,
            inbound_token_expires_at=None,
            updated_at=utcnow(),
        )
    )
    if result.rowcount != 1:
        await session.rollback()
        raise MethodNotAllowed("The credentials token was used concurrently; registration refused")
    await _replace_roles(session, platform_id, creds.roles)
    fresh = await session.get(Platform, platform_id, populate_existing=True)
    assert fresh is not None
    await clientinfo.status_changed(session, ctx, fresh, previous)
    # The pull of a CPO's Locations and Tariffs commits with the registration (a PUT too).
    queued = await queue_after_registration(
        session, ctx, platform_id, (r.role.value for r in creds.roles)
    )
    await session.commit()
    ctx.notify_outbox()
    if queued is not None:
        ctx.notify_syncs()
    log.info("platform %s registered (%s)", platform_id, _roles_text(creds.roles))
    return hub_credentials(ctx, token_c)


async def unregister_party(session: AsyncSession, ctx: HubContext, platform: Platform) -> None:
    """DELETE credentials: "Both parties must end any automated communication"."""
    if not platform.registered:
        raise MethodNotAllowed("Not registered")
    platform.registered = False
    platform.status = ConnectionStatus.SUSPENDED
    platform.inbound_token_hash = None
    platform.inbound_token_kind = None
    platform.outbound_token = None
    platform.updated_at = utcnow()
    session.add(platform)
    await clientinfo.status_changed(session, ctx, platform, ConnectionStatus.CONNECTED)
    await session.commit()
    ctx.notify_outbox()
    log.info("platform %s unregistered", platform.id)


def _roles_text(roles: Sequence[CredentialsRole]) -> str:
    return ", ".join(f"{r.role.value} {r.country_code.upper()}*{r.party_id.upper()}" for r in roles)


# --- hub-initiated: the hub is the Sender of the credentials module ---------------------------


async def connect_to_party(
    session: AsyncSession,
    ctx: HubContext,
    versions_url: str,
    token_a: str,
    name: str | None,
    declared: Declared = Declared(),
) -> PlatformView:
    """Register with a party that gave us its versions URL and a token A, in the highest
    version both speak."""
    # 2.3.0 credentials list the parties reachable through the hub ("roles" has at least one
    # entry, and 2.3.0 has no HUB role): a hub with none yet connects in an older version.
    avoid = frozenset() if await reachable_roles(session, None) else frozenset({"2.3.0"})
    await session.rollback()
    version, endpoints = await fetch_endpoints(
        ctx, versions_url, token_a, declared_role=declared.role, avoid=avoid
    )
    platform_tmp = Platform(name=name or versions_url, endpoints=[e.to_json() for e in endpoints])
    credentials_url = endpoint_url(platform_tmp, ModuleID.CREDENTIALS)
    assert credentials_url is not None  # fetch_endpoints made sure of it

    # Token B must be known before the POST: the party fetches our versions with it meanwhile.
    token_b = new_token()
    platform = Platform(
        name=name or versions_url,
        status=ConnectionStatus.PLANNED,
        initiated_by="hub",
        versions_url=versions_url,
        version=version,
        endpoints=platform_tmp.endpoints,
        inbound_token_hash=hash_token(token_b),
        inbound_token_kind=TOKEN_REGISTERED,
        declared_role=declared.role,
        time_zone=declared.time_zone,
        vat=declared.vat,
    )
    session.add(platform)
    await session.commit()
    await session.refresh(platform)
    platform_id = platform.id
    assert platform_id is not None

    try:
        ours = await credentials_in_version(
            session, ctx, hub_credentials(ctx, token_b), version, platform_id
        )
        try:
            reply = await ctx.ocpi.request(
                "POST",
                credentials_url,
                token_a,
                json=ours,
                module="credentials",
                version=version,
            )
        except PeerError as exc:
            raise OcpiError(OcpiStatus.UNABLE_TO_USE_CLIENT_API, exc.message) from None
        if not reply.ok:
            raise OcpiError(
                reply.status_code if reply.status_code >= 2000 else OcpiStatus.SERVER_ERROR,
                f"The party refused our credentials: HTTP {reply.http_status}, OCPI"
                f" {reply.status_code} {reply.status_message or ''}".strip(),
            )
        try:
            theirs = Credentials.model_validate(
                to_canonical(
                    version,
                    Kind.CREDENTIALS,
                    reply.one(),
                    TranslationContext(roles=_declared_roles(declared.role)),
                )[0]
            )
        except NotRepresentable as exc:
            raise OcpiError(
                OcpiStatus.UNABLE_TO_USE_CLIENT_API,
                f"The party answered with credentials the hub cannot use: {exc.message}",
            ) from None
        except ValueError as exc:
            raise OcpiError(
                OcpiStatus.UNABLE_TO_USE_CLIENT_API,
                f"The party answered with invalid credentials: {_first_error(exc)}",
            ) from None
        try:
            await _check_roles(session, ctx, platform_id, theirs.roles)
            await _replace_roles(session, platform_id, theirs.roles)
        except OcpiError:
            # Registered on their side but unacceptable on ours: undo it there.
            await _safe_delete(ctx, credentials_url, theirs.token, version)
            raise
    except BaseException:
        await session.rollback()
        await session.exec(delete(Platform).where(col(Platform.id) == platform_id))
        await session.commit()
        raise

    platform.outbound_token = ctx.cipher.encrypt(theirs.token)
    platform.registered = True
    platform.status = ConnectionStatus.CONNECTED
    platform.updated_at = utcnow()
    session.add(platform)
    await clientinfo.status_changed(session, ctx, platform, None)
    queued = await queue_after_registration(
        session, ctx, platform_id, (r.role.value for r in theirs.roles)
    )
    await session.commit()
    ctx.notify_outbox()
    if queued is not None:
        ctx.notify_syncs()
    log.info("connected to platform %s (%s)", platform_id, _roles_text(theirs.roles))
    view = await get_platform(session, platform_id)
    assert view is not None
    return view


async def _safe_delete(ctx: HubContext, credentials_url: str, token: str, version: str) -> None:
    try:
        await ctx.ocpi.request(
            "DELETE", credentials_url, token, module="credentials", version=version
        )
    except PeerError:
        log.warning("could not unregister from %s after a refused connection", credentials_url)


# --- platforms the hub plays itself (app/hub/local.py) -----------------------------------------


async def local_platform(session: AsyncSession, key: str) -> Platform | None:
    return (
        await session.exec(select(Platform).where(Platform.local == key).order_by(col(Platform.id)))
    ).first()


async def ensure_local_platform(
    session: AsyncSession, key: str, name: str, local_roles: Sequence[LocalRole]
) -> int:
    """Create (or repair) the platform row of a local party: registered, CONNECTED, no tokens,
    its roles, and its party ids held in ``platform_party`` like any platform's. Returns its
    platform id; the caller commits. Raises ValueError when a partner holds one of its party ids
    (registered before the hub reserved them)."""
    platform = await local_platform(session, key)
    if platform is None:
        platform = Platform(name=name, initiated_by="own", local=key)
    # (Platform.local is unique: of two instances creating it at the same moment, one fails.)
    if not platform.registered or platform.status != ConnectionStatus.CONNECTED:
        platform.registered = True
        platform.status = ConnectionStatus.CONNECTED
    platform.last_seen_at = utcnow()
    platform.updated_at = utcnow()
    session.add(platform)
    await session.flush()
    assert platform.id is not None
    stored = (
        await session.exec(select(PlatformRole).where(PlatformRole.platform_id == platform.id))
    ).all()
    have = {(r.role, PartyRef(r.country_code, r.party_id)) for r in stored}
    if any((r.role.value, r.party) not in have for r in local_roles):
        roles = [
            CredentialsRole(
                role=r.role,
                country_code=r.party.country_code,
                party_id=r.party.party_id,
                business_details=BusinessDetails(name=name),
            )
            for r in local_roles
        ]
        try:
            await store_roles(session, platform.id, roles)
        except OcpiError as exc:
            raise ValueError(exc.message) from None
    return platform.id


async def touch_local(session: AsyncSession, key: str) -> None:
    """Keep a local platform CONNECTED and its ``last_seen_at`` fresh (the caller commits)."""
    platform = await local_platform(session, key)
    if platform is not None:
        platform.last_seen_at = utcnow()
        if platform.status != ConnectionStatus.CONNECTED:
            platform.status = ConnectionStatus.CONNECTED
        session.add(platform)
