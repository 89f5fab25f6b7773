"""Pulling a CPO's Locations and Tariffs through its Sender interfaces.

Runs as a sync job (app/hub/syncs): queued when a CPO registers, run by a serving instance or by
`voltroam party sync`. "Pull is required, a receiver needs to be able to get in-sync" (transport_and_format, Pull and
Push). Pages are walked by the outbound client (Link, or offset and X-Total-Count when a peer's
Link is broken). Objects outside the CPO's own roles are ignored ("these objects may be ignored").
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlmodel import select

from app.core.security import UndecryptableToken
from app.hub import edge
from app.hub.context import HubContext
from app.hub.forward import broadcast
from app.hub.parties.models import Platform, PlatformRole, endpoint_url
from app.hub.routing import hub_ref
from app.hub.store import service as store
from app.ocpi.client import PeerError, url_path
from app.ocpi.headers import PartyRef, RoutingHeaders
from app.ocpi.incoming import Incoming, announced
from app.ocpi.schemas.common import OcpiModel
from app.ocpi.schemas.locations import Location
from app.ocpi.schemas.tariffs import Tariff

log = logging.getLogger("voltroam.sync")

PULLED: dict[str, type[OcpiModel]] = {"locations": Location, "tariffs": Tariff}


@dataclass
class SyncReport:
    stored: dict[str, int] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Why nothing was pulled at all (the platform is not a registered CPO, its token cannot be
    # decrypted); None when the pull ran.
    refused: str | None = None


@dataclass(frozen=True)
class PullProgress:
    """Where the pull of one module stands: after each page, and once more when it ended."""

    module: str
    # Pages and objects received so far, and the partner's X-Total-Count (None: not sent).
    pages: int
    objects: int
    total: int | None
    # Of the objects received: stored (new, changed or unchanged) and ignored (invalid, or
    # owned by a party that is not one of the platform's CPOs).
    stored: int
    ignored: int
    # The module's last report; error: why it ended early (the partner failed).
    done: bool = False
    error: str | None = None


# Told about every page and the end of each module; may be a coroutine function (a sync job
# writes the progress to the database and renews its lease there).
ProgressCallback = Callable[[PullProgress], Awaitable[None] | None]


@dataclass
class _Tally:
    """The counts of one module's pull, told to the progress callback."""

    module: str
    progress: ProgressCallback | None
    pages: int = 0
    objects: int = 0
    total: int | None = None
    stored: int = 0
    ignored: int = 0
    error: str | None = None

    async def page(self, pages: int, objects: int, total: int | None) -> None:
        """OcpiClient.get_all's on_page: the objects of one more page were handled."""
        self.pages, self.objects, self.total = pages, objects, total
        await self._tell(done=False)

    async def finish(self) -> None:
        await self._tell(done=True)

    async def _tell(self, done: bool) -> None:
        if self.progress is not None:
            told = self.progress(
                PullProgress(
                    self.module,
                    self.pages,
                    self.objects,
                    self.total,
                    self.stored,
                    self.ignored,
                    done,
                    self.error,
                )
            )
            if inspect.isawaitable(told):
                await told


async def pull_cpo(
    ctx: HubContext, platform_id: int, progress: ProgressCallback | None = None
) -> SyncReport:
    """Pull the Locations and Tariffs of a registered CPO platform, module by module.

    ``progress`` (optional) hears about every page as its objects are stored, and about the end
    of each module; what went wrong is also in the report's ``errors``. An exception the
    callback raises ends the pull (a sync job that lost its lease).
    """
    report = SyncReport()
    async with ctx.sessions() as session:
        platform = await session.get(Platform, platform_id)
        roles = (
            await session.exec(select(PlatformRole).where(PlatformRole.platform_id == platform_id))
        ).all()
    if platform is None:
        report.refused = f"platform {platform_id} does not exist"
        return report
    if not platform.registered or platform.outbound_token is None:
        report.refused = f"platform {platform_id} is not registered"
        return report
    cpos = {PartyRef(r.country_code, r.party_id) for r in roles if r.role == "CPO"}
    if not cpos:
        report.refused = f"platform {platform_id} has no CPO role: nothing to pull"
        return report
    try:
        token = ctx.cipher.decrypt(platform.outbound_token)
    except UndecryptableToken as exc:
        report.refused = str(exc)
        log.error("cannot pull from platform %s: %s", platform_id, exc)
        return report
    for module, model in PULLED.items():
        url = endpoint_url(platform, module, "SENDER")
        if url is None:
            continue
        tally = _Tally(module, progress)
        routing = RoutingHeaders(from_party=hub_ref(ctx.settings), to_party=min(cpos, key=str))
        try:
            async for item in ctx.ocpi.get_all(
                url,
                token,
                routing=routing,
                module=module,
                on_page=tally.page,
                version=platform.version,
            ):
                # In the canonical form (app/hub/edge.py), None when it cannot be.
                pulled = await edge.pulled(ctx.settings, platform, module, item, min(cpos, key=str))
                if pulled is None:
                    tally.ignored += 1
                    continue
                item, ext = pulled
                try:
                    obj = model.model_validate(item).to_json()
                except ValidationError as exc:
                    tally.ignored += 1
                    log.warning(
                        "ignored an invalid %s object from platform %s: %s",
                        module,
                        platform_id,
                        exc.errors()[0],
                    )
                    continue
                owner = PartyRef.of(obj["country_code"], obj["party_id"])
                if owner not in cpos:
                    tally.ignored += 1
                    continue
                # The whole object replaces the stored one, its 2.3.0 ext too.
                with announced(
                    Incoming(module, owner.country_code, owner.party_id, obj["id"], ext)
                ):
                    await _store(ctx, platform_id, module, owner, obj)
                tally.stored += 1
        except PeerError as exc:
            tally.error = exc.message
            report.errors.append(f"{module}: {exc.message}")
            log.warning("pulling %s from platform %s failed: %s", module, platform_id, exc.message)
        report.stored[module] = tally.stored
        report.ignored[module] = tally.ignored
        await tally.finish()
    ctx.notify_outbox()
    log.info("pulled from platform %s: %s", platform_id, report.stored)
    return report


async def _store(
    ctx: HubContext, platform_id: int, module: str, owner: PartyRef, obj: dict[str, object]
) -> None:
    from app.ocpi.schemas.common import parse_datetime

    key = str(obj["id"])
    async with ctx.sessions() as session:
        existing = await store.get(session, module, owner, key)
        if existing is not None and existing.data == obj:
            return
        await store.save(
            session,
            module=module,
            owner=owner,
            key=key,
            data=dict(obj),
            last_updated=parse_datetime(obj["last_updated"]),
            owner_platform_id=platform_id,
            existing=existing,
        )
        await broadcast(
            session,
            ctx,
            module=module,
            method="PUT",
            path=url_path(owner.country_code, owner.party_id, key),
            body=dict(obj),
            object_ref=store.object_ref(module, owner, key),
            sender_platform_id=platform_id,
            full=True,
        )
        await session.commit()
