"""Connection status of platforms and what follows from a change (mod_hub_client_info.asciidoc).

- "When the Hub creates a new ClientInfo object they push it to the connected parties": every
  status change is PUT to every other connected platform with a hubclientinfo RECEIVER endpoint.
- A platform that goes OFFLINE gets nothing queued ("Do not queue Push messages"); when it is back,
  the hub sends it the latest version of everything that changed meanwhile.
- A platform that connects for the first time gets the ClientInfo of every other party.
- With agreements, a party sees only the parties it may reach (app/hub/agreements.py): when an
  agreement opens, each side gets the other's ClientInfo then (``agreement_opened``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.hub import agreements
from app.hub.context import HubContext
from app.hub.outbox.service import Push, drop_open_for_platform, enqueue
from app.hub.parties.models import ConnectionStatus, Platform, PlatformRole, endpoint_url
from app.hub.routing import BROADCAST_TO, PUSHED_TO, hub_ref
from app.hub.store import service as store
from app.ocpi.client import url_path
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef

log = logging.getLogger("voltroam.clientinfo")

MODULE = "hubclientinfo"


@dataclass(frozen=True)
class ClientInfoRow:
    platform_id: int
    party: PartyRef
    role: str
    status: str
    last_updated: datetime

    def to_json(self) -> dict[str, str]:
        from app.ocpi.schemas.common import format_datetime

        return {
            "party_id": self.party.party_id,
            "country_code": self.party.country_code,
            "role": self.role,
            "status": self.status,
            "last_updated": format_datetime(self.last_updated),
        }


def _status(platform: Platform) -> str:
    return platform.status if platform.registered else ConnectionStatus.SUSPENDED


async def client_infos(session: AsyncSession) -> list[ClientInfoRow]:
    """Every party the hub knows, oldest change first."""
    rows = (
        await session.exec(
            select(PlatformRole, Platform).join(
                Platform, col(Platform.id) == col(PlatformRole.platform_id)
            )
        )
    ).all()
    infos = [
        ClientInfoRow(
            platform_id=platform.id or 0,
            party=PartyRef(role.country_code, role.party_id),
            role=role.role,
            status=_status(platform),
            last_updated=platform.updated_at,
        )
        for role, platform in rows
    ]
    return sorted(infos, key=lambda i: (i.last_updated, i.platform_id, str(i.party), i.role))


async def _receivers(session: AsyncSession, exclude: int | None) -> list[Platform]:
    platforms = (
        await session.exec(
            select(Platform).where(
                col(Platform.registered).is_(True),
                Platform.status == ConnectionStatus.CONNECTED,
            )
        )
    ).all()
    return [
        p for p in platforms if p.id != exclude and endpoint_url(p, MODULE, "RECEIVER") is not None
    ]


def _push(receiver: Platform, info: ClientInfoRow) -> Push:
    # Configuration modules are "not to be routed": no routing headers.
    return Push(
        platform_id=receiver.id or 0,
        module=MODULE,
        method="PUT",
        path=url_path(info.party.country_code, info.party.party_id),
        object_ref=f"{MODULE}:{info.party}:{info.role}",
        body=info.to_json(),
        from_party=None,
        to_party=None,
        full=True,
    )


async def status_changed(
    session: AsyncSession, ctx: HubContext, platform: Platform, previous: str | None
) -> None:
    """Queue what a status change implies (the caller commits, then calls ctx.notify_outbox)."""
    assert platform.id is not None
    now = utcnow()
    current = _status(platform)
    if current == ConnectionStatus.OFFLINE and previous != ConnectionStatus.OFFLINE:
        platform.offline_since = now
        dropped = await drop_open_for_platform(session, platform.id, "receiver went OFFLINE")
        log.info("platform %s is OFFLINE; %s queued pushes dropped", platform.id, dropped)
    if current in (ConnectionStatus.SUSPENDED, ConnectionStatus.PLANNED):
        await drop_open_for_platform(session, platform.id, f"receiver is {current}")
    session.add(platform)
    await session.flush()

    # Tell everyone else about this platform's parties.
    infos = [i for i in await client_infos(session) if i.platform_id == platform.id]
    receivers = await _receivers(session, exclude=platform.id)
    pushes = [_push(r, info) for r in receivers for info in infos]
    await enqueue(session, await agreements.client_info_pushes(session, ctx, pushes))

    if current != ConnectionStatus.CONNECTED:
        return
    if previous in (None, ConnectionStatus.PLANNED):
        # A newcomer learns who else is there.
        others = [i for i in await client_infos(session) if i.platform_id != platform.id]
        if endpoint_url(platform, MODULE, "RECEIVER") is not None:
            pushes = [_push(platform, info) for info in others]
            await enqueue(session, await agreements.client_info_pushes(session, ctx, pushes))
    elif previous == ConnectionStatus.OFFLINE and platform.offline_since is not None:
        await resync(session, ctx, platform, platform.offline_since)
        platform.offline_since = None
        session.add(platform)


async def agreement_opened(
    session: AsyncSession, ctx: HubContext, pairs: list[tuple[PartyRef, PartyRef]]
) -> int:
    """Queue, for each (CPO, eMSP) pair whose agreement just became active, the CPO's ClientInfo
    to the eMSP's platform and the eMSP's to the CPO's: until now neither could see the other
    (the caller has raised the agreements' revision and commits)."""
    if not pairs:
        return 0
    infos = await client_infos(session)
    receivers = {p.id: p for p in await _receivers(session, exclude=None)}
    platforms_of: dict[PartyRef, set[int]] = {}
    for info in infos:
        platforms_of.setdefault(info.party, set()).add(info.platform_id)
    pushes: dict[tuple[int, str], Push] = {}
    for cpo, emsp in pairs:
        for viewer, subject in ((emsp, cpo), (cpo, emsp)):
            for platform_id in platforms_of.get(viewer, set()):
                receiver = receivers.get(platform_id)
                if receiver is None:
                    continue
                for info in infos:
                    if info.party == subject and info.platform_id != platform_id:
                        push = _push(receiver, info)
                        pushes[(platform_id, push.object_ref)] = push
    kept = await agreements.client_info_pushes(session, ctx, list(pushes.values()))
    await enqueue(session, kept)
    return len(kept)


async def resync(
    session: AsyncSession, ctx: HubContext, platform: Platform, since: datetime
) -> int:
    """Queue the latest version of every object the platform receives that changed since."""
    roles = (
        await session.exec(select(PlatformRole).where(PlatformRole.platform_id == platform.id))
    ).all()
    role_names = {r.role for r in roles}
    modules = [m for m, to in BROADCAST_TO.items() if role_names & to]
    pushes: list[Push] = []
    for obj in await store.changed_since(session, [*modules, "sessions", "cdrs"], since):
        owner = PartyRef(obj.country_code, obj.party_id)
        if obj.owner_platform_id == platform.id:
            continue
        if obj.module in ("sessions", "cdrs"):
            # Only to the token owner's eMSP-like role, as when it was first routed.
            recipient = PartyRef(obj.recipient_country_code or "", obj.recipient_party_id or "")
            if not any(
                r.role in PUSHED_TO[obj.module]
                and PartyRef(r.country_code, r.party_id) == recipient
                for r in roles
            ):
                continue
            to_party: PartyRef | None = recipient
            from_party = owner
        else:
            to_party = next(
                (
                    PartyRef(r.country_code, r.party_id)
                    for r in roles
                    if r.role in BROADCAST_TO[obj.module]
                ),
                None,
            )
            from_party = hub_ref(ctx.settings)
        if endpoint_url(platform, obj.module, "RECEIVER") is None:
            continue
        key = str(obj.data.get("uid" if obj.module == "tokens" else "id", obj.object_key))
        try:
            path = "" if obj.module == "cdrs" else url_path(owner.country_code, owner.party_id, key)
        except OcpiError:
            # Stored before ids were checked: no URL can carry it ("." or ".."), so skip it.
            log.warning("%s %s not resent: its id cannot be a URL path segment", obj.module, key)
            continue
        pushes.append(
            Push(
                platform_id=platform.id or 0,
                module=obj.module,
                method="POST" if obj.module == "cdrs" else "PUT",
                path=path,
                query=f"type={obj.subtype}" if obj.module == "tokens" else "",
                object_ref=store.object_ref(obj.module, owner, obj.object_key, obj.subtype),
                body=obj.data,
                from_party=from_party,
                to_party=to_party,
                full=True,
            )
        )
    await enqueue(session, await agreements.pushes(session, ctx, pushes))
    log.info("platform %s is back: %s objects resent", platform.id, len(pushes))
    return len(pushes)
