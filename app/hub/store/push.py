"""What every Receiver endpoint of the hub does with a push: check, store, announce.

A push addressed to the hub (or with no OCPI-to headers) is stored and then announced: broadcast
for Locations, Tariffs and Tokens; routed to the token owner's eMSP for Sessions and CDRs. A push
whose OCPI-to headers name another party is forwarded to it at once and its answer returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub import agreements
from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.forward import broadcast, call_party, relay_reply, resolve_for, route_to
from app.hub.routing import BROADCAST_TO, OWNERS, PUSHED_TO, hub_ref, is_hub
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.ocpi.client import url_path as url_path  # re-exported: every push path is built with it
from app.ocpi.envelope import ocpi_response
from app.ocpi.errors import InvalidParameters, NotFound
from app.ocpi.headers import PartyRef, RoutingHeaders
from app.ocpi.schemas.common import ci_key, parse_datetime
from app.ocpi.status import OcpiStatus


@dataclass(frozen=True)
class Target:
    """The object a push is about, as named by the URL."""

    module: str
    owner: PartyRef
    key: str
    subtype: str = ""

    @property
    def ref(self) -> str:
        return store.object_ref(self.module, self.owner, self.key, self.subtype)


def check_ids(body: dict[str, Any], expected: dict[str, str]) -> None:
    """ "the ids in the URL must match the body" (case-insensitively: they are CiStrings)."""
    for name, want in expected.items():
        value = body.get(name)
        if value is not None and ci_key(str(value)) != ci_key(want):
            raise InvalidParameters(f"{name} in the body ({value}) does not match the URL ({want})")


def owner_ids(owner: PartyRef, id_field: str, key: str) -> dict[str, str]:
    return {"country_code": owner.country_code, "party_id": owner.party_id, id_field: key}


def directed_to(ctx: HubContext, caller: Caller) -> PartyRef | None:
    to = caller.routing.to_party
    return None if is_hub(ctx.settings, to) else to


async def forward_push(
    session: AsyncSession,
    ctx: HubContext,
    caller: Caller,
    request: Request,
    *,
    module: str,
    method: str,
    path: str,
    body: Any,
    owner: PartyRef,
) -> tuple[JSONResponse, bool]:
    """Send a directed push to the party it names; returns the relayed answer and whether the
    receiver accepted it."""
    to = directed_to(ctx, caller)
    assert to is not None
    party = await resolve_for(session, ctx, to, PUSHED_TO[module], asking=owner, module=module)
    reply = await call_party(
        ctx,
        party,
        module=module,
        interface="RECEIVER",
        method=method,
        path=path,
        params=list(request.query_params.multi_items()),
        body=body,
        from_party=owner,
    )
    return relay_reply(ctx, reply, caller.routing, request.url.path), reply.ok


async def store_and_announce(
    session: AsyncSession,
    ctx: HubContext,
    caller: Caller,
    target: Target,
    *,
    data: dict[str, Any],
    last_updated: datetime,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    full: bool,
    recipient: PartyRef | None = None,
    existing: OcpiObject | None = None,
    announce: bool = True,
    query: str = "",
    looked_up: bool = False,
    replace: bool = True,
) -> tuple[OcpiObject, bool]:
    """Store the new version and queue its pushes in one transaction, then wake the worker.

    ``looked_up``: ``existing`` is what the caller read in this transaction (None: nothing).
    ``replace=False``: raise ``store.AlreadyStored`` (nothing queued; the caller rolls back)
    when a concurrent push stored the object first."""
    recipient = await agreements.recipient(
        session, ctx, target.module, target.owner, recipient, existing, data
    )
    row, created = await store.save(
        session,
        module=target.module,
        owner=target.owner,
        key=target.key,
        subtype=target.subtype,
        data=data,
        last_updated=last_updated,
        owner_platform_id=caller.platform.id,
        recipient=recipient,
        existing=existing,
        looked_up=looked_up,
        replace=replace,
    )
    # A full version supersedes the rows of older versions not sent yet; a new object has none
    # (a row queued before it was deleted and stored again still leaves first, in order), so
    # its pushes skip that UPDATE.
    supersede = full and not created
    if announce:
        if target.module in BROADCAST_TO:
            await broadcast(
                session,
                ctx,
                module=target.module,
                method=method,
                path=path,
                body=body,
                object_ref=target.ref,
                sender_platform_id=caller.platform.id,
                full=supersede,
                query=query,
                stored=row,
            )
        elif recipient is not None:
            # A local recipient (the payments eMSP, for its own tokens) takes it in this
            # transaction; a remote one gets an outbox row.
            await route_to(
                session,
                ctx,
                recipient=recipient,
                module=target.module,
                method=method,
                path=path,
                body=body,
                object_ref=target.ref,
                from_party=target.owner,
                full=supersede,
                query=query,
            )
    await session.commit()
    ctx.notify_outbox()
    return row, created


def owner_of(caller: Caller, module: str, country_code: str, party_id: str) -> PartyRef:
    ref = PartyRef.of(country_code, party_id)
    caller.own_party(ref, OWNERS[module])
    return ref


async def get_one(
    request: Request,
    caller: Caller,
    ctx: HubContext,
    session: AsyncSession,
    *,
    module: str,
    key: str,
    path: str,
    pick: Callable[[dict[str, Any]], dict[str, Any]] = lambda data: data,
    unknown: int = OcpiStatus.CLIENT_ERROR,
    subtype: str | None = None,
    visible: Callable[[OcpiObject], bool] | None = None,
) -> JSONResponse:
    """GET of one object on a Sender interface of the hub.

    The hub answers from what it stores. The URL names no owner, so when several owners use the
    same id the OCPI-to headers must say which; a named owner whose object the hub does not hold
    is asked directly (Open Routing Request) and its answer relayed.
    """
    to = directed_to(ctx, caller)
    if to is not None:
        row = await store.get(session, module, to, key, subtype)
        if row is None:
            asking = caller.sender_party(BROADCAST_TO.get(module, OWNERS[module]))
            party = await resolve_for(
                session, ctx, to, OWNERS[module], asking=asking, module=module
            )
            reply = await call_party(
                ctx,
                party,
                module=module,
                interface="SENDER",
                method="GET",
                path=path,
                params=list(request.query_params.multi_items()),
                from_party=asking,
            )
            return relay_reply(ctx, reply, caller.routing, request.url.path)
    else:
        rows = await store.find_by_key(session, module, key)
        if subtype is not None:
            rows = [r for r in rows if r.subtype == subtype]
        if visible is not None:
            rows = [r for r in rows if visible(r)]
        if len(rows) > 1:
            raise InvalidParameters(
                f"Several parties have a {module} object {key}: name the owner in the OCPI-to"
                " headers"
            )
        row = rows[0] if rows else None
    if row is None or (visible is not None and not visible(row)):
        raise NotFound(f"Unknown {module} object {key}", unknown)
    return ocpi_response(pick(row.data))


def answer_headers(ctx: HubContext, owner: PartyRef) -> dict[str, str]:
    """Routing headers of the hub's answer to a push it handles itself.

    ("Broadcast response | Hub to requesting platform | TO: Requesting-party | FROM: Hub")
    """
    return RoutingHeaders(from_party=hub_ref(ctx.settings), to_party=owner).as_headers()


async def put_object(
    request: Request,
    caller: Caller,
    ctx: HubContext,
    session: AsyncSession,
    *,
    target: Target,
    obj: dict[str, Any],
    id_field: str = "id",
    recipient: PartyRef | None = None,
    query: str = "",
) -> JSONResponse:
    """PUT of a whole client-owned object (Tariff, Token, Session): check, store, announce."""
    owner = target.owner
    check_ids(obj, owner_ids(owner, id_field, target.key))
    path = url_path(owner.country_code, owner.party_id, target.key)
    stamp = parse_datetime(obj["last_updated"])
    existing = await store.get(session, target.module, owner, target.key, target.subtype)
    if directed_to(ctx, caller) is not None:
        response, ok = await forward_push(
            session, ctx, caller, request, module=target.module, method="PUT", path=path,
            body=obj, owner=owner,
        )  # fmt: skip
        if ok:
            await store_and_announce(
                session, ctx, caller, target, data=obj, last_updated=stamp, method="PUT",
                path=path, body=obj, full=True, recipient=recipient, existing=existing,
                announce=False,
            )  # fmt: skip
        return response
    _row, created = await store_and_announce(
        session,
        ctx,
        caller,
        target,
        data=obj,
        last_updated=stamp,
        method="PUT",
        path=path,
        body=obj,
        full=True,
        recipient=recipient,
        existing=existing,
        query=query,
        looked_up=True,
    )
    return ocpi_response(http_status=201 if created else 200, headers=answer_headers(ctx, owner))


async def patch_object(
    request: Request,
    caller: Caller,
    ctx: HubContext,
    session: AsyncSession,
    *,
    target: Target,
    patch: dict[str, Any],
    merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
    id_field: str = "id",
    query: str = "",
) -> JSONResponse:
    """PATCH of a client-owned object: ``merge`` makes (and validates) the new version."""
    owner = target.owner
    check_ids(patch, owner_ids(owner, id_field, target.key))
    path = url_path(owner.country_code, owner.party_id, target.key)
    if directed_to(ctx, caller) is not None:
        response, _ok = await forward_push(
            session, ctx, caller, request, module=target.module, method="PATCH", path=path,
            body=patch, owner=owner,
        )  # fmt: skip
        return response
    existing = await store.get(session, target.module, owner, target.key, target.subtype)
    if existing is None:
        raise NotFound(f"Unknown {target.module} object {target.key}: PUT it first")
    document = merge(existing.data, patch)
    recipient = (
        PartyRef(existing.recipient_country_code, existing.recipient_party_id)
        if existing.recipient_country_code and existing.recipient_party_id
        else None
    )
    await store_and_announce(
        session,
        ctx,
        caller,
        target,
        data=document,
        last_updated=parse_datetime(document["last_updated"]),
        method="PATCH",
        path=path,
        body=patch,
        full=False,
        recipient=recipient,
        existing=existing,
        query=query,
    )
    return ocpi_response(headers=answer_headers(ctx, owner))


async def get_own(caller: Caller, session: AsyncSession, target: Target) -> JSONResponse:
    """GET on a Receiver interface: the owner checks what the hub holds."""
    row = await store.get(session, target.module, target.owner, target.key, target.subtype)
    if row is None:
        raise NotFound(f"Unknown {target.module} object {target.key}")
    return ocpi_response(row.data)


def validated(model: Any, document: dict[str, Any]) -> dict[str, Any]:
    """The merged document must still be a valid object (a PATCH cannot break it)."""
    try:
        return dict(model.model_validate(document).to_json())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidParameters(
            f"The result would not be a valid {model.__name__}: {where}: {first['msg']}"
        ) from None


async def delete_and_announce(
    session: AsyncSession, ctx: HubContext, caller: Caller, target: Target, *, path: str
) -> bool:
    """Remove an object (Tariffs only) and broadcast the DELETE, in one transaction."""
    row = await store.get(session, target.module, target.owner, target.key, target.subtype)
    if row is None:
        return False
    await session.delete(row)
    await broadcast(
        session,
        ctx,
        module=target.module,
        method="DELETE",
        path=path,
        body=None,
        object_ref=target.ref,
        sender_platform_id=caller.platform.id,
        full=True,
    )
    await session.commit()
    ctx.notify_outbox()
    return True
