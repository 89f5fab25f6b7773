"""Admin API (JWT): invitations, hub-initiated connections, platforms."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from app.admin.auth import require_admin
from app.admin.schemas import ConnectIn, ErrorOut, InvitationIn, InvitationOut, PlatformOut
from app.core.context import HubContext
from app.hub.auth import get_context, get_session
from app.hub.parties import service
from app.ocpi.errors import OcpiError

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

_AUTH_ERRORS: dict[int | str, dict[str, object]] = {401: {"description": "Missing or bad JWT"}}


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
    platform, token_a = await service.create_invitation(session, ctx, body.name, body.ttl_hours)
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
    responses={**_AUTH_ERRORS, 502: {"model": ErrorOut, "description": "Handshake failed"}},
)
async def connect_platform(
    body: ConnectIn,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> PlatformOut | JSONResponse:
    try:
        view = await service.connect_to_party(
            session, ctx, str(body.versions_url), body.token_a, body.name
        )
    except OcpiError as exc:
        return JSONResponse(
            ErrorOut(detail=exc.message, ocpi_status_code=exc.status_code).model_dump(),
            status_code=502,
        )
    return PlatformOut.of(view)


@router.get(
    "/platforms",
    summary="List platforms with their roles and connection status",
    response_model=list[PlatformOut],
    responses=_AUTH_ERRORS,
)
async def list_platforms(session: AsyncSession = Depends(get_session)) -> list[PlatformOut]:
    return [PlatformOut.of(v) for v in await service.list_platforms(session)]


@router.get(
    "/platforms/{platform_id}",
    summary="One platform",
    response_model=PlatformOut,
    responses={**_AUTH_ERRORS, 404: {"description": "Unknown platform"}},
)
async def get_platform(
    platform_id: int, session: AsyncSession = Depends(get_session)
) -> PlatformOut:
    view = await service.get_platform(session, platform_id)
    if view is None:
        raise HTTPException(404, "Unknown platform")
    return PlatformOut.of(view)


async def _set_status(
    session: AsyncSession, ctx: HubContext, platform_id: int, status: str
) -> PlatformOut:
    view = await service.set_status(session, ctx, platform_id, status)
    if view is None:
        raise HTTPException(404, "Unknown platform")
    return PlatformOut.of(view)


@router.post(
    "/platforms/{platform_id}/suspend",
    summary="Suspend a platform: its OCPI calls are refused until it is resumed",
    response_model=PlatformOut,
    responses={**_AUTH_ERRORS, 404: {"description": "Unknown platform"}},
)
async def suspend_platform(
    platform_id: int,
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
    platform_id: int,
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
