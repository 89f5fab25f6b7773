"""The hub's credentials endpoint (credentials.asciidoc): GET, POST, PUT, DELETE."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.auth import Caller, any_caller, get_context, get_session
from app.hub.context import HubContext
from app.hub.parties import service
from app.modules.versions.edge import VERSION_STATE_KEY
from app.ocpi.envelope import Envelope, ocpi_response
from app.ocpi.schemas.credentials import Credentials
from app.ocpi.version import VERSION, VERSION_PREFIX

router = APIRouter(prefix=f"{VERSION_PREFIX}/credentials", tags=["OCPI credentials"])


def _version(request: Request) -> str:
    """The version whose credentials endpoint the party called (app/modules/versions/edge.py
    serves /ocpi/2.1.1/credentials and /ocpi/2.3.0/credentials here): the one it chose."""
    return str(getattr(request.state, VERSION_STATE_KEY, VERSION))


@router.get(
    "",
    summary="The credentials to access the hub",
    response_model=Envelope[Credentials],
)
async def get_credentials(
    caller: Caller = Depends(any_caller), ctx: HubContext = Depends(get_context)
) -> JSONResponse:
    return ocpi_response(service.hub_credentials(ctx, caller.token))


@router.post(
    "",
    summary="Register with the hub (with CREDENTIALS_TOKEN_A)",
    response_model=Envelope[Credentials],
    responses={405: {"description": "Already registered"}},
)
async def post_credentials(
    credentials: Credentials,
    request: Request,
    caller: Caller = Depends(any_caller),
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> JSONResponse:
    ours = await service.register_party(
        session, ctx, caller.platform, credentials, _version(request)
    )
    return ocpi_response(ours)


@router.put(
    "",
    summary="Update the credentials: re-fetch endpoints and rotate the token",
    response_model=Envelope[Credentials],
    responses={405: {"description": "Not registered"}},
)
async def put_credentials(
    credentials: Credentials,
    request: Request,
    caller: Caller = Depends(any_caller),
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> JSONResponse:
    ours = await service.update_party(session, ctx, caller.platform, credentials, _version(request))
    return ocpi_response(ours)


@router.delete(
    "",
    summary="Unregister from the hub",
    response_model=Envelope[None],
    responses={405: {"description": "Not registered"}},
)
async def delete_credentials(
    caller: Caller = Depends(any_caller),
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> JSONResponse:
    await service.unregister_party(session, ctx, caller.platform)
    return ocpi_response()
