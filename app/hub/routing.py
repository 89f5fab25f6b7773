"""Who receives what (transport_and_format: Message Routing).

- Broadcast Push: "connected clients might push (POST, PUT, PATCH) information to all connected
  clients with an opposite role [...] The role Other is seen as an eMSP type of role, so Broadcast
  Push from a CPO is also sent to Other. Messages from Other are only sent to CPOs".
- Directed requests name their receiver in the OCPI-to-* headers.
- Sessions and CDRs go to the eMSP that owns the token.

A (country_code, party_id) belongs to one platform (PlatformParty), and every lookup by party also
names the role the message is for: a Session goes to the token owner's eMSP-like role, a command
to a CPO role, never to whatever role of the platform happens to carry the party id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.settings import Settings
from app.hub.directory.service import directory, platform_copy, snapshot
from app.hub.parties.models import ConnectionStatus, Platform, PlatformRole, endpoint_url
from app.ocpi.headers import PartyRef

EMSP_LIKE = frozenset({"EMSP", "NSP", "NAP", "OTHER", "SCSP"})
CPO_ONLY = frozenset({"CPO"})

# module -> (roles allowed to own/push objects of it, roles that receive its broadcasts)
OWNERS: dict[str, frozenset[str]] = {
    "locations": CPO_ONLY,
    "tariffs": CPO_ONLY,
    "sessions": CPO_ONLY,
    "cdrs": CPO_ONLY,
    "tokens": frozenset({"EMSP", "OTHER"}),
}
BROADCAST_TO: dict[str, frozenset[str]] = {
    "locations": EMSP_LIKE,
    "tariffs": EMSP_LIKE,
    "tokens": CPO_ONLY,
}
# module -> roles that receive a push of it (broadcast or directed): its Receiver interface.
PUSHED_TO: dict[str, frozenset[str]] = {
    **BROADCAST_TO,
    "sessions": EMSP_LIKE,
    "cdrs": EMSP_LIKE,
}


@dataclass(frozen=True)
class Party:
    platform: Platform
    role: PlatformRole

    @property
    def ref(self) -> PartyRef:
        return PartyRef(self.role.country_code, self.role.party_id)


def hub_ref(settings: Settings) -> PartyRef:
    return PartyRef.of(settings.hub_country_code, settings.hub_party_id)


def is_hub(settings: Settings, ref: PartyRef | None) -> bool:
    return ref is None or ref == hub_ref(settings)


async def find_party(session: AsyncSession, ref: PartyRef, roles: frozenset[str]) -> Party | None:
    """The platform that holds this country_code/party_id, in one of ``roles`` there (from the
    instance's cache of the parties when it is current, app/hub/directory)."""
    view = await directory(session)
    key = ("party", ref, roles)
    entry = view.get(key) if view is not None else None
    if entry is not None:
        [found] = entry
        return None if found is None else Party(platform_copy(found[0]), snapshot(found[1]))
    rows = (
        await session.exec(
            select(PlatformRole, Platform)
            .join(Platform, col(Platform.id) == col(PlatformRole.platform_id))
            .where(
                PlatformRole.country_code == ref.country_code,
                PlatformRole.party_id == ref.party_id,
                col(PlatformRole.role).in_(roles),
            )
            .order_by(col(Platform.registered).desc(), col(PlatformRole.id))
            .execution_options(populate_existing=True)
        )
    ).first()
    if view is not None:
        view.put(key, [None if rows is None else (snapshot(rows[1]), snapshot(rows[0]))])
    return None if rows is None else Party(rows[1], rows[0])


async def broadcast_receivers(
    session: AsyncSession, module: str, sender_platform_id: int | None
) -> list[Party]:
    """Connected platforms with an opposite role and a RECEIVER endpoint for ``module``, and the
    local ones (app/hub/local.py) with such a role, which take pushes by a call."""
    roles = BROADCAST_TO.get(module, frozenset())
    view = await directory(session)
    key = ("broadcast", module)
    cached = view.get(key) if view is not None else None
    if cached is not None:
        copies = [(snapshot(role), platform_copy(platform)) for role, platform in cached]
        return _receivers(copies, module, sender_platform_id)
    rows = (
        await session.exec(
            select(PlatformRole, Platform)
            .join(Platform, col(Platform.id) == col(PlatformRole.platform_id))
            .where(
                col(Platform.registered).is_(True),
                Platform.status == ConnectionStatus.CONNECTED,
                col(PlatformRole.role).in_(roles),
            )
            .order_by(col(Platform.id), col(PlatformRole.id))
            .execution_options(populate_existing=True)
        )
    ).all()
    if view is not None:
        view.put(key, [(snapshot(role), snapshot(platform)) for role, platform in rows])
    return _receivers(rows, module, sender_platform_id)


def _receivers(
    rows: Sequence[tuple[PlatformRole, Platform]], module: str, sender_platform_id: int | None
) -> list[Party]:
    receivers: dict[int, Party] = {}
    for role, platform in rows:
        if platform.id == sender_platform_id or platform.id in receivers:
            continue
        if platform.local is None and endpoint_url(platform, module, "RECEIVER") is None:
            continue
        assert platform.id is not None
        receivers[platform.id] = Party(platform, role)
    return list(receivers.values())
