"""GET /ocpi/versions and GET /ocpi/2.2.1 (the version details)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from app.hub.auth import Caller, any_caller, get_context
from app.hub.context import HubContext
from app.modules.versions import service
from app.ocpi.envelope import Envelope, ocpi_response
from app.ocpi.schemas.versions import Version, VersionDetails
from app.ocpi.version import OCPI_PREFIX, VERSION

router = APIRouter(prefix=OCPI_PREFIX, tags=["OCPI versions"])


@router.get(
    "/versions",
    summary="List the OCPI versions the hub supports",
    response_model=Envelope[list[Version]],
)
async def get_versions(
    _caller: Caller = Depends(any_caller), ctx: HubContext = Depends(get_context)
) -> JSONResponse:
    return ocpi_response(service.versions(ctx.settings.base_url))


@router.get(
    f"/{VERSION}",
    summary="List the hub's OCPI 2.2.1 endpoints",
    response_model=Envelope[VersionDetails],
)
async def get_version_details(
    _caller: Caller = Depends(any_caller), ctx: HubContext = Depends(get_context)
) -> JSONResponse:
    return ocpi_response(service.details(ctx.settings.base_url))


@router.get(
    f"/{service.V211}",
    summary="List the hub's OCPI 2.1.1 endpoints",
    response_model=Envelope[dict[str, Any]],
)
async def get_version_details_211(
    _caller: Caller = Depends(any_caller), ctx: HubContext = Depends(get_context)
) -> JSONResponse:
    return ocpi_response(service.details_211(ctx.settings.base_url))


@router.get(
    f"/{service.V230}",
    summary="List the hub's OCPI 2.3.0 endpoints",
    response_model=Envelope[dict[str, Any]],
)
async def get_version_details_230(
    _caller: Caller = Depends(any_caller), ctx: HubContext = Depends(get_context)
) -> JSONResponse:
    return ocpi_response(service.details_230(ctx.settings.base_url))
