"""The hub's own CPO: the OCPI party its OCPP chargers appear as.

It is a Platform row like any partner's (registered, CONNECTED, no tokens, ``initiated_by="own"``)
with one CPO role, so everything it writes goes through the same store-and-announce path as an
external CPO's pushes, and eMSPs cannot tell the difference.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.parties import service as parties
from app.hub.parties.models import ConnectionStatus, Platform, PlatformRole
from app.hub.relay.models import Callback
from app.hub.routing import Party, hub_ref
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef, RoutingHeaders
from app.ocpi.schemas.commands import CommandResponse
from app.ocpi.schemas.common import Role
from app.ocpi.schemas.credentials import BusinessDetails, CredentialsRole
from app.ocpp.settings import OcppSettings

OWN = "own"


def own_ref(settings: OcppSettings) -> PartyRef:
    return PartyRef.of(settings.own_cpo_country_code, settings.own_cpo_party_id)


def reserve(ctx: HubContext, settings: OcppSettings) -> None:
    """No partner may register the own CPO's party id, in any role, even before it exists."""
    ref = own_ref(settings)
    ctx.reserve_party(
        ref.country_code,
        ref.party_id,
        "the hub's own CPO (OWN_CPO_COUNTRY_CODE/OWN_CPO_PARTY_ID)",
    )


async def ensure_own_cpo(ctx: HubContext, settings: OcppSettings) -> int:
    """Create (or repair) the own CPO platform; returns its platform id."""
    ref = own_ref(settings)
    if ref == hub_ref(ctx.settings):
        raise ValueError(
            f"OWN_CPO_COUNTRY_CODE/OWN_CPO_PARTY_ID ({ref}) must differ from the hub's own party"
        )
    async with ctx.sessions() as session:
        platform = (
            await session.exec(select(Platform).where(Platform.initiated_by == OWN))
        ).first()
        if platform is None:
            platform = Platform(name=settings.own_cpo_name, initiated_by=OWN)
        platform.registered = True
        platform.status = ConnectionStatus.CONNECTED
        platform.last_seen_at = utcnow()
        platform.updated_at = utcnow()
        session.add(platform)
        await session.flush()
        assert platform.id is not None
        roles = (
            await session.exec(select(PlatformRole).where(PlatformRole.platform_id == platform.id))
        ).all()
        if not any(r.role == "CPO" and PartyRef(r.country_code, r.party_id) == ref for r in roles):
            role = CredentialsRole(
                role=Role.CPO,
                country_code=ref.country_code,
                party_id=ref.party_id,
                business_details=BusinessDetails(name=settings.own_cpo_name),
            )
            try:
                await parties.store_roles(session, platform.id, [role])
            except OcpiError as exc:
                # A partner registered this party id before the hub reserved it.
                raise ValueError(
                    f"OWN_CPO_COUNTRY_CODE/OWN_CPO_PARTY_ID ({ref}): {exc.message}"
                ) from None
        platform_id = platform.id
        await session.commit()
        return platform_id


async def own_platform(session: AsyncSession) -> Platform | None:
    return (
        await session.exec(
            select(Platform).where(Platform.initiated_by == OWN).order_by(col(Platform.id))
        )
    ).first()


async def own_caller(session: AsyncSession, settings: OcppSettings) -> Caller:
    """The Caller the bridge writes as: the own CPO platform with its CPO role."""
    platform = await own_platform(session)
    if platform is None:
        raise RuntimeError("the own CPO platform does not exist (the CSMS did not start)")
    roles = list(
        (
            await session.exec(select(PlatformRole).where(PlatformRole.platform_id == platform.id))
        ).all()
    )
    return Caller(platform, "", RoutingHeaders(), roles)


def is_own(party: Party) -> bool:
    """Whether a resolved receiver is the hub's own CPO (commands go to OCPP, not HTTP)."""
    return party.platform.initiated_by == OWN


async def touch(ctx: HubContext) -> None:
    """Keep the own platform fresh so the still-alive check never finds it silent."""
    async with ctx.sessions() as session:
        platform = await own_platform(session)
        if platform is not None:
            platform.last_seen_at = utcnow()
            if platform.status != ConnectionStatus.CONNECTED:
                platform.status = ConnectionStatus.CONNECTED
            session.add(platform)
            await session.commit()


# The CSMS of each running app, by HubContext (several hubs may run in one process in tests).
_CSMS: dict[int, Any] = {}


def register(ctx: HubContext, csms: Any) -> None:
    _CSMS[id(ctx)] = csms


def unregister(ctx: HubContext) -> None:
    _CSMS.pop(id(ctx), None)


def csms_for(ctx: HubContext) -> Any:
    return _CSMS.get(id(ctx))


async def command(
    ctx: HubContext,
    session: AsyncSession,
    command: str,
    request: dict[str, Any],
    callback: Callback,
) -> CommandResponse:
    """The hook of the commands module for a command addressed to the own CPO.

    ``request`` is the parsed command with the hub's own response_url; ``callback`` the relay
    record opened for it. Answers the CommandResponse and arms the callback like
    ``relay.after_response`` does for an HTTP CPO; the CommandResult follows through the callback.
    """
    from app.hub.relay import service as relay
    from app.ocpi.schemas.commands import CommandResponseType
    from app.ocpp.commands import handle_command

    answer = await handle_command(ctx, session, command, request, callback)
    await relay.after_response(
        session,
        callback,
        accepted=answer.result == CommandResponseType.ACCEPTED,
        timeout_seconds=answer.timeout,
    )
    return answer


async def charging_profile(
    ctx: HubContext,
    session: AsyncSession,
    method: str,
    session_id: str,
    params: dict[str, str],
    body: dict[str, Any] | None,
    callback: Callback,
) -> Any:
    """The hook of the chargingprofiles module for a Session of the own CPO: answers the
    ChargingProfileResponse and arms the callback; the result follows through it."""
    from app.hub.relay import service as relay
    from app.ocpi.schemas.chargingprofiles import ChargingProfileResponseType
    from app.ocpp.profiles import handle_charging_profile

    answer = await handle_charging_profile(ctx, session, method, session_id, params, body, callback)
    await relay.after_response(
        session,
        callback,
        accepted=answer.result == ChargingProfileResponseType.ACCEPTED,
        timeout_seconds=answer.timeout,
    )
    return answer
