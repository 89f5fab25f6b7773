"""Managing roaming agreements (admin API and CLI): open, suspend, end; what a change implies.

- Opening (activating) a pair sends the eMSP the CPO's current Locations and Tariffs and the CPO
  the eMSP's current Tokens, through the outbox like any push (durable, retried, in order), under
  one correlation id whose deliveries are the activation's progress.
- Suspending or ending it drops the pushes of Locations, Tariffs and Tokens between the two that
  have not left yet ("within one delivery": one already being sent still arrives) and queues
  nothing more. Sessions and CDRs of Sessions already running still go (app/hub/agreements.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.core.ids import correlation_id_var, new_id
from app.hub import agreements, clientinfo
from app.hub.agreements_models import Agreement, AgreementState
from app.hub.context import HubContext
from app.hub.outbox.models import Delivery, DeliveryStatus
from app.hub.outbox.service import Push, enqueue
from app.hub.parties.models import ConnectionStatus, Platform, PlatformRole, endpoint_url
from app.hub.routing import CPO_ONLY, EMSP_LIKE, Party, find_party, hub_ref
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.ocpi.client import url_path
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef

log = logging.getLogger("voltroam.agreements")

_PARTY = re.compile(r"^([A-Za-z]{2})\*([A-Za-z0-9]{3})$")
_PLATFORM = re.compile(r"^platform:([0-9]{1,9})$")
# What an activation sends each side: CPO -> eMSP, eMSP -> CPO.
TO_EMSP = ("locations", "tariffs")
TO_CPO = ("tokens",)


class AgreementError(ValueError):
    """A request the admin API answers 422 and the CLI with exit code 2."""


@dataclass(frozen=True)
class SyncProgress:
    queued: int
    delivered: int
    pending: int
    failed: int


@dataclass(frozen=True)
class PairView:
    """A CPO/eMSP pair: its agreement row, or the hub's default for it (``row`` None)."""

    cpo: PartyRef
    emsp: PartyRef
    state: str
    modules: list[str] | None
    row: Agreement | None
    sync: SyncProgress | None = None


def _check_modules(modules: Sequence[str] | None) -> list[str] | None:
    if modules is None:
        return None
    unknown = sorted(set(modules) - set(agreements.MODULES))
    if unknown:
        raise AgreementError(
            f"Unknown modules {', '.join(unknown)}; an agreement covers some of "
            + ", ".join(agreements.MODULES)
        )
    return [m for m in agreements.MODULES if m in modules]


async def _expand(session: AsyncSession, spec: str, roles: frozenset[str]) -> list[PartyRef]:
    """``CC*PID`` (a party, known yet or not) or ``platform:ID`` (its roles of that side)."""
    text = spec.strip()
    match = _PARTY.match(text)
    if match:
        return [PartyRef.of(match.group(1), match.group(2))]
    match = _PLATFORM.match(text)
    if not match:
        raise AgreementError(f"{spec!r}: expected CC*PID (e.g. NL*CPA) or platform:ID")
    rows = (
        await session.exec(
            select(PlatformRole)
            .where(
                PlatformRole.platform_id == int(match.group(1)),
                col(PlatformRole.role).in_(roles),
            )
            .order_by(col(PlatformRole.id))
        )
    ).all()
    if not rows:
        kinds = "/".join(sorted(roles))
        raise AgreementError(f"Platform {match.group(1)} has no {kinds} role")
    return list(dict.fromkeys(PartyRef(r.country_code, r.party_id) for r in rows))


async def _row(session: AsyncSession, cpo: PartyRef, emsp: PartyRef) -> Agreement | None:
    return (
        await session.exec(
            select(Agreement).where(
                Agreement.cpo_country_code == cpo.country_code,
                Agreement.cpo_party_id == cpo.party_id,
                Agreement.emsp_country_code == emsp.country_code,
                Agreement.emsp_party_id == emsp.party_id,
            )
        )
    ).first()


async def change(
    session: AsyncSession,
    ctx: HubContext,
    *,
    cpo: str,
    emsp: str,
    state: str,
    modules: Sequence[str] | None = None,
    by: str,
) -> list[PairView]:
    """Set the state (and modules, when given) of every pair ``cpo`` x ``emsp`` names; commits."""
    if state not in AgreementState.ALL:
        raise AgreementError(f"Unknown state {state!r}: one of {', '.join(AgreementState.ALL)}")
    covered = _check_modules(modules)
    cpos = await _expand(session, cpo, CPO_ONLY)
    emsps = await _expand(session, emsp, EMSP_LIKE)
    before = await agreements.book(session, ctx)
    now = utcnow()
    changed: list[tuple[Agreement, PartyRef, PartyRef, bool]] = []
    for c in cpos:
        for e in emsps:
            if c == e:
                raise AgreementError(f"{c} cannot have an agreement with itself")
            row = await _row(session, c, e)
            was_active = before.state(c, e) == AgreementState.ACTIVE
            old_modules = set(
                row.modules if row is not None and row.modules is not None else agreements.MODULES
            )
            if row is None:
                row = Agreement(
                    cpo_country_code=c.country_code,
                    cpo_party_id=c.party_id,
                    emsp_country_code=e.country_code,
                    emsp_party_id=e.party_id,
                    created_at=now,
                )
                if before.default_open:
                    # The pair was active by default until now.
                    row.activated_at = now
            if modules is not None:
                row.modules = covered
            row.state = state
            row.updated_at = now
            row.changed_by = by[:255]
            if state == AgreementState.ACTIVE and not was_active:
                row.activated_at = now
            elif state == AgreementState.SUSPENDED:
                row.suspended_at = now
            elif state == AgreementState.ENDED:
                row.ended_at = now
            session.add(row)
            await session.flush()
            # Modules newly covered by an agreement that was already active also sync.
            gained = set(row.modules if row.modules is not None else agreements.MODULES) - (
                old_modules if was_active else set()
            )
            changed.append((row, c, e, state == AgreementState.ACTIVE and bool(gained)))
    await agreements.bump(session)
    # Each side of a newly active pair now sees the other in HubClientInfo.
    await clientinfo.agreement_opened(
        session,
        ctx,
        [
            (c, e)
            for row, c, e, _a in changed
            if state == AgreementState.ACTIVE and before.state(c, e) != AgreementState.ACTIVE
        ],
    )
    for row, c, e, activated in changed:
        if activated:
            await _sync(session, ctx, row, c, e)
        elif state != AgreementState.ACTIVE:
            dropped = await _drop_queued(session, c, e)
            if dropped:
                log.info("agreement %s*%s: %s queued pushes dropped", c, e, dropped)
    await session.commit()
    ctx.notify_outbox()
    return [await _view(session, row) for row, _c, _e, _a in changed]


def _receives(party: Party | None, module: str) -> bool:
    if party is None or not party.platform.registered:
        return False
    if party.platform.local is not None:
        return True
    return (
        party.platform.status == ConnectionStatus.CONNECTED
        and endpoint_url(party.platform, module, "RECEIVER") is not None
    )


async def _objects(session: AsyncSession, module: str, owner: PartyRef) -> list[OcpiObject]:
    return list(
        (
            await session.exec(
                select(OcpiObject)
                .where(
                    OcpiObject.module == module,
                    OcpiObject.country_code == owner.country_code,
                    OcpiObject.party_id == owner.party_id,
                )
                .order_by(col(OcpiObject.last_updated), col(OcpiObject.id))
            )
        ).all()
    )


def _push(ctx: HubContext, to: Party, obj: OcpiObject) -> Push | None:
    key = str(obj.data.get("uid" if obj.module == "tokens" else "id", obj.object_key))
    try:
        path = url_path(obj.country_code, obj.party_id, key)
    except OcpiError:
        # Stored before ids were checked: no URL can carry it.
        return None
    owner = PartyRef(obj.country_code, obj.party_id)
    return Push(
        platform_id=to.platform.id or 0,
        module=obj.module,
        method="PUT",
        path=path,
        query=f"type={obj.subtype}" if obj.module == "tokens" else "",
        object_ref=store.object_ref(obj.module, owner, obj.object_key, obj.subtype),
        body=obj.data,
        from_party=hub_ref(ctx.settings),
        to_party=to.ref,
        full=True,
    )


async def _sync(
    session: AsyncSession, ctx: HubContext, row: Agreement, cpo: PartyRef, emsp: PartyRef
) -> int:
    """Queue what an activated agreement sends each side (the caller commits)."""
    plan: list[tuple[Party | None, str, PartyRef]] = []
    emsp_party = await find_party(session, emsp, EMSP_LIKE)
    cpo_party = await find_party(session, cpo, CPO_ONLY)
    covered = set(row.modules if row.modules is not None else agreements.MODULES)
    plan += [(emsp_party, m, cpo) for m in TO_EMSP if m in covered]
    plan += [(cpo_party, m, emsp) for m in TO_CPO if m in covered]
    sync_id = f"agreement-{row.id}-{new_id()[:12]}"
    reset = correlation_id_var.set(sync_id)
    queued = 0
    try:
        for party, module, owner in plan:
            if party is None or not _receives(party, module):
                continue
            objects = await _objects(session, module, owner)
            objects = await agreements.deliverable(session, ctx, module, party.ref, objects)
            pushes = [p for p in (_push(ctx, party, o) for o in objects) if p is not None]
            local = ctx.local_parties.of(party.platform)
            if local is not None:
                for push in pushes:
                    await local.receive(session, push)
            elif party.platform.local is None:
                await enqueue(session, pushes)
                queued += len(pushes)
    finally:
        correlation_id_var.reset(reset)
    row.sync_id = sync_id
    row.sync_queued = queued
    session.add(row)
    log.info("agreement %s*%s activated: %s objects queued", cpo, emsp, queued)
    return queued


async def _drop_queued(session: AsyncSession, cpo: PartyRef, emsp: PartyRef) -> int:
    """Pushes of Locations, Tariffs (to the eMSP) and Tokens (to the CPO) between the two that
    have not left yet."""
    dropped = 0
    for receiver, modules, owner in ((emsp, TO_EMSP, cpo), (cpo, TO_CPO, emsp)):
        result = await session.exec(
            update(Delivery)
            .where(
                col(Delivery.status) == DeliveryStatus.PENDING,
                col(Delivery.url).is_(None),
                col(Delivery.to_country_code) == receiver.country_code,
                col(Delivery.to_party_id) == receiver.party_id,
                or_(*(col(Delivery.object_ref).like(f"{m}:{owner}:%") for m in modules)),
            )
            .values(status=DeliveryStatus.DROPPED, last_error="no active roaming agreement")
            .execution_options(synchronize_session=False)
        )
        dropped += int(result.rowcount or 0)
    return dropped


async def progress(session: AsyncSession, row: Agreement) -> SyncProgress | None:
    if row.sync_id is None:
        return None
    counts = dict(
        (
            await session.exec(
                select(Delivery.status, func.count())
                .where(Delivery.correlation_id == row.sync_id)
                .group_by(col(Delivery.status))
            )
        ).all()
    )
    return SyncProgress(
        queued=row.sync_queued,
        delivered=int(counts.get(DeliveryStatus.DELIVERED, 0)),
        pending=int(counts.get(DeliveryStatus.PENDING, 0) + counts.get(DeliveryStatus.SENDING, 0)),
        failed=int(counts.get(DeliveryStatus.FAILED, 0)),
    )


async def _view(session: AsyncSession, row: Agreement) -> PairView:
    return PairView(
        cpo=PartyRef(row.cpo_country_code, row.cpo_party_id),
        emsp=PartyRef(row.emsp_country_code, row.emsp_party_id),
        state=row.state,
        modules=row.modules,
        row=row,
        sync=await progress(session, row),
    )


async def pairs(session: AsyncSession, ctx: HubContext) -> list[PairView]:
    """Every pair of a registered CPO role and a registered eMSP-like role, and every pair with
    an agreement: its state (the default where it has none)."""
    rules = await agreements.book(session, ctx)
    rows = (await session.exec(select(PlatformRole, Platform).join(Platform))).all()
    known = [(role, platform) for role, platform in rows if platform.registered]
    cpos = sorted(
        {PartyRef(r.country_code, r.party_id) for r, _p in known if r.role in CPO_ONLY}, key=str
    )
    emsps = sorted(
        {PartyRef(r.country_code, r.party_id) for r, _p in known if r.role in EMSP_LIKE}, key=str
    )
    explicit = {
        (
            PartyRef(a.cpo_country_code, a.cpo_party_id),
            PartyRef(a.emsp_country_code, a.emsp_party_id),
        ): a
        for a in (await session.exec(select(Agreement))).all()
    }
    views: dict[tuple[PartyRef, PartyRef], PairView] = {}
    for key, row in explicit.items():
        views[key] = await _view(session, row)
    for c in cpos:
        for e in emsps:
            if c != e and (c, e) not in views:
                views[(c, e)] = PairView(c, e, rules.state(c, e), None, None)
    return [views[k] for k in sorted(views, key=lambda k: (str(k[0]), str(k[1])))]


def stamp(value: datetime | None) -> str:
    return value.isoformat() if value else "-"
