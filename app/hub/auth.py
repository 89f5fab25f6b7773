"""Who is calling: the credentials token of every OCPI request identifies the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.context import HubContext
from app.core.security import hash_token
from app.hub.parties import service as parties
from app.hub.parties.models import Platform
from app.ocpi.auth import token_candidates
from app.ocpi.errors import Unauthorized
from app.ocpi.headers import RoutingHeaders


def get_context(request: Request) -> HubContext:
    return request.app.state.hub


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_context(request).sessions() as session:
        yield session


@dataclass
class Caller:
    platform: Platform
    # The credentials token as presented: GET credentials answers with it.
    token: str
    routing: RoutingHeaders


async def any_caller(request: Request, session: AsyncSession = Depends(get_session)) -> Caller:
    """Versions and credentials: any known token, CREDENTIALS_TOKEN_A included."""
    candidates = token_candidates(request.headers.get("Authorization"))
    platform = await parties.authenticate(session, candidates)
    if platform is None:
        raise Unauthorized()
    presented = next(c for c in candidates if hash_token(c) == platform.inbound_token_hash)
    return Caller(platform, presented, RoutingHeaders.from_headers(request.headers))


async def registered_caller(caller: Caller = Depends(any_caller)) -> Caller:
    """Functional modules: "When a server receives a request with a valid CREDENTIALS_TOKEN_A, on
    another module than: credentials or versions, the server SHALL respond with 401"."""
    if caller.platform.inbound_token_kind == parties.TOKEN_A or not caller.platform.registered:
        raise Unauthorized("CREDENTIALS_TOKEN_A may only be used for versions and credentials")
    if caller.platform.status == parties.ConnectionStatus.SUSPENDED:
        raise Unauthorized("This platform is suspended by the hub operator")
    return caller
