"""Admin API (JWT): invitations, hub-initiated connections, platforms, sync jobs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from app.admin.schemas import (
    ConnectIn,
    DeliveryOut,
    ErrorOut,
    InvitationIn,
    InvitationOut,
    PlatformOut,
    SyncJobOut,
    declared,
)
from app.core.admin_auth import require_admin
from app.core.limits import DB_ID_MAX
from app.hub.auth import get_context, get_session
from app.hub.context import HubContext
from app.hub.outbox import service as outbox
from app.hub.parties import service
from app.hub.parties.service import PlatformView
from app.hub.syncs import service as syncs
from app.hub.syncs.models import SyncReason
from app.ocpi.errors import OcpiError

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

# Row ids: an integer the database can hold (a larger one names nothing: 422, never a 500).
PlatformId = Annotated[int, Path(ge=1, le=DB_ID_MAX, description="The platform's id")]
DeliveryId = Annotated[int, Path(ge=1, le=DB_ID_MAX, description="The delivery's id")]

_AUTH_ERRORS: dict[int | str, dict[str, object]] = {401: {"description": "Missing or bad JWT"}}


async def _platform_out(session: AsyncSession, view: PlatformView) -> PlatformOut:
    assert view.platform.id is not None
    latest = await syncs.latest(session, [view.platform.id])
    return PlatformOut.of(view, latest.get(view.platform.id))


@router.post(
    "/invitations",
    summary="Invite a platform: create its single-use CREDENTIALS_TOKEN_A",
    response_model=InvitationOut,
    status_code=201,
    responses=_AUTH_ERRORS,
)
async def create_invitation(
    body: InvitationIn,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> InvitationOut:
    platform, token_a = await service.create_invitation(
        session, ctx, body.name, body.ttl_hours, declared(body)
    )
    assert platform.id is not None and platform.inbound_token_expires_at is not None
    return InvitationOut(
        platform_id=platform.id,
        token_a=token_a,
        versions_url=ctx.settings.versions_url,
        expires_at=platform.inbound_token_expires_at,
    )


@router.post(
    "/platforms/connect",
    summary="Connect to a platform (the hub performs the credentials handshake as Sender)",
    response_model=PlatformOut,
    status_code=201,
    responses={
        **_AUTH_ERRORS,
        422: {
            "model": ErrorOut,
            "description": "Invalid body, or the handshake failed: the versions URL and token A "
            "could not be used (ocpi_status_code 3001, 3002 or 3003 says why)",
        },
    },
)
async def connect_platform(
    body: ConnectIn,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> PlatformOut | JSONResponse:
    try:
        view = await service.connect_to_party(
            session, ctx, str(body.versions_url), body.token_a, body.name, declared(body)
        )
    except OcpiError as exc:
        return JSONResponse(
            ErrorOut(detail=exc.message, ocpi_status_code=exc.status_code).model_dump(),
            status_code=422,
        )
    return await _platform_out(session, view)


@router.get(
    "/platforms",
    summary="List platforms with their roles and connection status",
    response_model=list[PlatformOut],
    responses=_AUTH_ERRORS,
)
async def list_platforms(session: AsyncSession = Depends(get_session)) -> list[PlatformOut]:
    views = await service.list_platforms(session)
    latest = await syncs.latest(session, [v.platform.id for v in views if v.platform.id])
    return [PlatformOut.of(v, latest.get(v.platform.id or 0)) for v in views]


@router.get(
    "/platforms/{platform_id}",
    summary="One platform, with the progress of its newest pull (sync)",
    response_model=PlatformOut,
    responses={**_AUTH_ERRORS, 404: {"description": "Unknown platform"}},
)
async def get_platform(
    platform_id: PlatformId, session: AsyncSession = Depends(get_session)
) -> PlatformOut:
    view = await service.get_platform(session, platform_id)
    if view is None:
        raise HTTPException(404, "Unknown platform")
    return await _platform_out(session, view)


async def _set_status(
    session: AsyncSession, ctx: HubContext, platform_id: int, status: str
) -> PlatformOut:
    view = await service.set_status(session, ctx, platform_id, status)
    if view is None:
        raise HTTPException(404, "Unknown platform")
    return await _platform_out(session, view)


@router.post(
    "/platforms/{platform_id}/suspend",
    summary="Suspend a platform: its OCPI calls are refused until it is resumed",
    response_model=PlatformOut,
    responses={**_AUTH_ERRORS, 404: {"description": "Unknown platform"}},
)
async def suspend_platform(
    platform_id: PlatformId,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> PlatformOut:
    return await _set_status(session, ctx, platform_id, service.ConnectionStatus.SUSPENDED)


@router.post(
    "/platforms/{platform_id}/resume",
    summary="Resume a suspended platform",
    response_model=PlatformOut,
    responses={**_AUTH_ERRORS, 404: {"description": "Unknown platform"}},
)
async def resume_platform(
    platform_id: PlatformId,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> PlatformOut:
    view = await service.get_platform(session, platform_id)
    if view is None:
        raise HTTPException(404, "Unknown platform")
    status = (
        service.ConnectionStatus.CONNECTED
        if view.platform.registered
        else service.ConnectionStatus.PLANNED
    )
    return await _set_status(session, ctx, platform_id, status)


@router.post(
    "/platforms/{platform_id}/sync",
    summary="Queue a pull of the platform's Locations and Tariffs (CPOs)",
    description=(
        "Queues a sync job and answers at once; a running hub instance takes it. Its progress "
        "is in `GET /admin/syncs/{id}` and in the platform's `sync`. A job of the platform "
        "that has not started yet is returned instead of a second one."
    ),
    response_model=SyncJobOut,
    status_code=202,
    responses={
        **_AUTH_ERRORS,
        404: {"description": "Unknown platform"},
        409: {"description": "The platform is not registered, or has no CPO role"},
    },
)
async def sync_platform(
    platform_id: PlatformId,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> SyncJobOut:
    view = await service.get_platform(session, platform_id)
    if view is None:
        raise HTTPException(404, "Unknown platform")
    if not view.platform.registered:
        raise HTTPException(409, "The platform has not registered: there is nothing to pull")
    if not any(r.role == "CPO" for r in view.roles):
        raise HTTPException(409, "The platform has no CPO role: there is nothing to pull")
    job = await syncs.queue(session, platform_id, SyncReason.ADMIN)
    await session.commit()
    await session.refresh(job)
    ctx.notify_syncs()
    return SyncJobOut.of(job, view.platform.name)


@router.get(
    "/syncs",
    summary="Pulls of CPOs' Locations and Tariffs (sync jobs), newest first",
    response_model=list[SyncJobOut],
    responses=_AUTH_ERRORS,
)
async def list_syncs(
    platform_id: Annotated[int | None, Query(ge=1)] = None,
    state: Annotated[Literal["pending", "running", "done", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    session: AsyncSession = Depends(get_session),
) -> list[SyncJobOut]:
    rows = await syncs.listing(session, platform_id, state, limit)
    return [SyncJobOut.of(job, name) for job, name in rows]


@router.get(
    "/syncs/{sync_id}",
    summary="One sync job and its progress",
    response_model=SyncJobOut,
    responses={**_AUTH_ERRORS, 404: {"description": "Unknown sync job"}},
)
async def get_sync(sync_id: int, session: AsyncSession = Depends(get_session)) -> SyncJobOut:
    found = await syncs.get(session, sync_id)
    if found is None:
        raise HTTPException(404, "Unknown sync job")
    return SyncJobOut.of(*found)


@router.get(
    "/deliveries",
    summary="Outbound pushes, newest first (filter by status: pending, failed, ...)",
    response_model=list[DeliveryOut],
    responses=_AUTH_ERRORS,
)
async def list_deliveries(
    status: Annotated[str | None, Query(max_length=12)] = None,
    platform_id: Annotated[int | None, Query(ge=1, le=DB_ID_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    session: AsyncSession = Depends(get_session),
) -> list[DeliveryOut]:
    rows = await outbox.listing(session, status, platform_id, limit)
    return [DeliveryOut.model_validate(r, from_attributes=True) for r in rows]


@router.get(
    "/deliveries/summary",
    summary="How many pushes are in each state",
    response_model=dict[str, int],
    responses=_AUTH_ERRORS,
)
async def delivery_summary(session: AsyncSession = Depends(get_session)) -> dict[str, int]:
    return await outbox.counts(session)


@router.post(
    "/deliveries/{delivery_id}/retry",
    summary="Queue a failed or dropped push again",
    response_model=DeliveryOut,
    responses={**_AUTH_ERRORS, 404: {"description": "Unknown delivery"}},
)
async def retry_delivery(
    delivery_id: DeliveryId,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> DeliveryOut:
    row = await outbox.retry(session, delivery_id)
    if row is None:
        raise HTTPException(404, "Unknown delivery")
    ctx.notify_outbox()
    return DeliveryOut.model_validate(row, from_attributes=True)
