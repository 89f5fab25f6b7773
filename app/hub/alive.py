"""Still-alive check (mod_hub_client_info, "Still alive check"): "When this is longer then X
minutes (when unsure, start with 5 minutes) the Hub should send a: GET to the Version information
endpoint"; the answer decides between CONNECTED and OFFLINE."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import col, select

from app.core.dbtypes import utcnow
from app.core.security import UndecryptableToken
from app.hub.context import HubContext
from app.hub.parties import service as parties
from app.hub.parties.models import ConnectionStatus, Platform
from app.ocpi.client import PeerError

log = logging.getLogger("voltroam.alive")


async def check_platforms(ctx: HubContext) -> dict[int, str]:
    """One round: returns the platforms checked and their status after the check."""
    now = utcnow()
    silence = timedelta(seconds=ctx.settings.alive_check_after_seconds)
    async with ctx.sessions() as session:
        platforms = (
            await session.exec(
                select(Platform).where(
                    col(Platform.registered).is_(True),
                    # The parties the hub plays itself are not called over OCPI.
                    col(Platform.local).is_(None),
                    col(Platform.status).in_(
                        [ConnectionStatus.CONNECTED, ConnectionStatus.OFFLINE]
                    ),
                )
            )
        ).all()
    due = [
        p
        for p in platforms
        if p.status == ConnectionStatus.OFFLINE
        or p.last_seen_at is None
        or now - p.last_seen_at >= silence
    ]
    results: dict[int, str] = {}
    for platform in due:
        assert platform.id is not None
        alive = await _ping(ctx, platform)
        if alive is None:
            continue  # it could not be asked: its status stays what it was
        status = ConnectionStatus.CONNECTED if alive else ConnectionStatus.OFFLINE
        async with ctx.sessions() as session:
            if alive:
                fresh = await session.get(Platform, platform.id)
                if fresh is not None:
                    fresh.last_seen_at = utcnow()
                    session.add(fresh)
                    await session.commit()
            await parties.set_status(session, ctx, platform.id, status)
        if status != platform.status:
            log.info("platform %s is now %s", platform.id, status)
        results[platform.id] = status
    return results


async def _ping(ctx: HubContext, platform: Platform) -> bool | None:
    """Whether the platform answered; None when the hub cannot ask (its token is unusable)."""
    if not platform.versions_url or not platform.outbound_token:
        return False
    try:
        token = ctx.cipher.decrypt(platform.outbound_token)
    except UndecryptableToken as exc:
        log.error("still-alive check of platform %s skipped: %s", platform.id, exc)
        return None
    try:
        reply = await ctx.ocpi.request(
            "GET",
            platform.versions_url,
            token,
            timeout=min(ctx.settings.ocpi_timeout_seconds, 10.0),
            module="versions",
            # A 2.1.1 partner takes its token as it is, not Base64 encoded.
            version=platform.version,
        )
    except PeerError:
        return False
    return reply.ok
