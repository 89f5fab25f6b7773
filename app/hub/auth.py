"""Who is calling: the credentials token of every OCPI request identifies the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Depends, Request
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import detached
from app.core.security import hash_token
from app.hub.context import HubContext
from app.hub.directory.service import directory, snapshot
from app.hub.parties import service as parties
from app.hub.parties.models import Platform, PlatformRole
from app.hub.routing import BROADCAST_TO, OWNERS
from app.ocpi.auth import token_candidates
from app.ocpi.errors import OcpiError, Unauthorized
from app.ocpi.headers import PartyRef, RoutingHeaders
from app.ocpi.status import OcpiStatus

M = TypeVar("M", bound=SQLModel)


async def get_context(request: Request) -> HubContext:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, on every request.
    return request.app.state.hub


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    ctx: HubContext = request.app.state.hub
    async with ctx.sessions() as session:
        yield session


_COLUMN_KEYS: dict[type[Any], tuple[str, ...]] = {}


def _copy(row: M) -> M:
    """A detached copy of a cached snapshot (``platform_copy``), read from its ``__dict__``: a
    snapshot holds every column there, and the instrumented getattr per column cost more than
    the copy itself (~45 of ~70 us, twice or more on every request)."""
    model = type(row)
    keys = _COLUMN_KEYS.get(model)
    if keys is None:
        keys = _COLUMN_KEYS[model] = tuple(c.key for c in getattr(model, "__table__").columns)  # noqa: B009
    values = row.__dict__
    return detached(model, {k: values[k] for k in keys})


@dataclass
class Caller:
    platform: Platform
    # The credentials token as presented: GET credentials answers with it.
    token: str
    routing: RoutingHeaders
    roles: list[PlatformRole] = field(default_factory=list)

    def own_party(self, ref: PartyRef, allowed_roles: frozenset[str]) -> PlatformRole:
        """The caller's role for ``ref``: a platform may only write under its own parties."""
        for role in self.roles:
            if role.role in allowed_roles and PartyRef(role.country_code, role.party_id) == ref:
                return role
        kinds = "/".join(sorted(allowed_roles))
        raise OcpiError(
            OcpiStatus.INVALID_PARAMETERS,
            f"{ref} is not a {kinds} role of your platform: you may only write your own objects",
        )

    def parties(self, allowed_roles: frozenset[str] | None = None) -> list[PartyRef]:
        return [
            PartyRef(r.country_code, r.party_id)
            for r in self.roles
            if allowed_roles is None or r.role in allowed_roles
        ]

    def readable_owners(self, module: str) -> list[PartyRef] | None:
        """Whose objects of a broadcast module (Locations, Tariffs, Tokens) the caller may pull:
        everyone's (None) when it plays a role they are pushed to, else only its own."""
        if self.parties(BROADCAST_TO[module]):
            return None
        return self.parties(OWNERS[module])

    def may_read(self, module: str, owner: PartyRef) -> bool:
        readable = self.readable_owners(module)
        return readable is None or owner in readable

    def sender_party(self, allowed_roles: frozenset[str]) -> PartyRef:
        """Who is asking: the OCPI-from headers, else the platform's only matching role."""
        if self.routing.from_party is not None:
            return self.routing.from_party
        parties = self.parties(allowed_roles) or self.parties()
        return parties[0]


async def any_caller(request: Request, session: AsyncSession = Depends(get_session)) -> Caller:
    """Versions and credentials: any known token, CREDENTIALS_TOKEN_A included."""
    candidates = token_candidates(request.headers.get("Authorization"))
    platform = await parties.authenticate(session, candidates)
    if platform is None:
        raise Unauthorized()
    presented = next(c for c in candidates if hash_token(c) == platform.inbound_token_hash)
    return Caller(platform, presented, RoutingHeaders.from_headers(request.headers))


async def registered_caller(
    request: Request, session: AsyncSession = Depends(get_session)
) -> Caller:
    """Functional modules: "When a server receives a request with a valid CREDENTIALS_TOKEN_A, on
    another module than: credentials or versions, the server SHALL respond with 401".

    The platform and its roles come from the instance's cache of the parties, checked against
    the database's parties version first (app/hub/directory): a token rotated or revoked, or a
    platform suspended, through any instance is refused here on the next request.
    """
    candidates = token_candidates(request.headers.get("Authorization"))
    found = await _registered(session, candidates)
    if found is None:
        raise Unauthorized()
    platform, roles = found
    presented = next(c for c in candidates if hash_token(c) == platform.inbound_token_hash)
    caller = Caller(platform, presented, RoutingHeaders.from_headers(request.headers), roles)
    if caller.platform.inbound_token_kind == parties.TOKEN_A or not caller.platform.registered:
        raise Unauthorized("CREDENTIALS_TOKEN_A may only be used for versions and credentials")
    if caller.platform.status == parties.ConnectionStatus.SUSPENDED:
        raise Unauthorized("This platform is suspended by the hub operator")
    sender = caller.routing.from_party
    if sender is not None and sender not in caller.parties():
        raise OcpiError(
            OcpiStatus.INVALID_PARAMETERS,
            f"OCPI-from headers name {sender}, which is not a role of your platform",
        )
    return caller


async def _registered(
    session: AsyncSession, candidates: list[str]
) -> tuple[Platform, list[PlatformRole]] | None:
    """The platform behind one of the tokens and its roles (copies), from the cache when it has
    them at the current parties version."""
    if not candidates:
        return None
    view = await directory(session)
    hashes = [hash_token(c) for c in candidates]
    for digest in hashes:
        entry = view.get(("token", digest)) if view is not None else None
        if entry is None:
            continue
        platform, roles = entry
        if not await parties.seen(session, platform):
            return None
        return _copy(platform), [_copy(r) for r in roles]
    platform = await parties.authenticate(session, candidates)
    if platform is None:
        return None
    found = await parties.get_platform(session, platform.id or 0)
    roles = found.roles if found else []
    if view is not None and platform.inbound_token_hash is not None:
        view.put(
            ("token", platform.inbound_token_hash),
            (snapshot(platform), [snapshot(r) for r in roles]),
        )
    return platform, roles
