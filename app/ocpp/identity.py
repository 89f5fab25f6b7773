"""Who the hub's own CPO is: its party id, its platform row, the Caller the bridge writes as.

It is a Platform row like any partner's (registered, CONNECTED, no tokens, ``local="cpo"``) with
one CPO role, so everything it writes goes through the same store-and-announce path as an
external CPO's pushes, and eMSPs cannot tell the difference. What it does with requests addressed
to it is app/ocpp/own_cpo.py.
"""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.local import LocalRole
from app.hub.parties import service as parties
from app.hub.parties.models import PlatformRole
from app.hub.routing import hub_ref
from app.ocpi.headers import PartyRef, RoutingHeaders
from app.ocpi.schemas.common import Role
from app.ocpp.settings import OcppSettings

# Platform.local of the own CPO's row.
KEY = "cpo"


def own_ref(settings: OcppSettings) -> PartyRef:
    return PartyRef.of(settings.own_cpo_country_code, settings.own_cpo_party_id)


def own_roles(settings: OcppSettings) -> list[LocalRole]:
    return [LocalRole(Role.CPO, own_ref(settings))]


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
        try:
            platform_id = await parties.ensure_local_platform(
                session, KEY, settings.own_cpo_name, own_roles(settings)
            )
        except ValueError as exc:
            # A partner registered this party id before the hub reserved it.
            raise ValueError(f"OWN_CPO_COUNTRY_CODE/OWN_CPO_PARTY_ID ({ref}): {exc}") from None
        await session.commit()
        return platform_id


async def own_caller(session: AsyncSession, settings: OcppSettings) -> Caller:
    """The Caller the bridge writes as: the own CPO platform with its CPO role."""
    platform = await parties.local_platform(session, KEY)
    if platform is None:
        raise RuntimeError("the own CPO platform does not exist (the CSMS did not start)")
    roles = list(
        (
            await session.exec(select(PlatformRole).where(PlatformRole.platform_id == platform.id))
        ).all()
    )
    return Caller(platform, "", RoutingHeaders(), roles)


async def touch(ctx: HubContext) -> None:
    """Keep the own platform fresh (``last_seen_at``, CONNECTED) for those who look at it."""
    async with ctx.sessions() as session:
        await parties.touch_local(session, KEY)
        await session.commit()


class BridgeBase:
    """What every part of the bridge writes as: the own CPO of this hub."""

    def __init__(self, ctx: HubContext, settings: OcppSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.ref = own_ref(settings)
