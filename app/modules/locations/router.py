"""Locations: the hub's Receiver interface (CPOs push) and Sender interface (eMSPs pull)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub import agreements
from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.store import push
from app.hub.store import service as store
from app.modules.common import (
    CallerDep,
    ConnectorId,
    ContextDep,
    CountryCode,
    EvseUid,
    ObjectId,
    PageDep,
    PartyId,
    SessionDep,
)
from app.modules.locations import service
from app.modules.locations.service import MODULE, Address
from app.modules.versions.service import ServedEndpoint, register
from app.ocpi.envelope import Envelope, ocpi_response
from app.ocpi.errors import InvalidParameters, NotFound
from app.ocpi.headers import PartyRef
from app.ocpi.pagination import paginated_json_response
from app.ocpi.schemas.common import parse_datetime
from app.ocpi.schemas.locations import (
    EVSE,
    Connector,
    ConnectorPatch,
    EvsePatch,
    Location,
    LocationPatch,
)
from app.ocpi.schemas.versions import InterfaceRole
from app.ocpi.status import OcpiStatus
from app.ocpi.version import VERSION_PREFIX

RECEIVER = f"{VERSION_PREFIX}/receiver/locations"
SENDER = f"{VERSION_PREFIX}/sender/locations"
register(
    ServedEndpoint(MODULE, InterfaceRole.RECEIVER, "/receiver/locations"),
    ServedEndpoint(MODULE, InterfaceRole.SENDER, "/sender/locations"),
)

receiver = APIRouter(prefix=RECEIVER, tags=["OCPI locations"])
sender = APIRouter(prefix=SENDER, tags=["OCPI locations"])

LocationId = ObjectId


def _path(owner: PartyRef, address: Address, document: dict[str, Any] | None) -> str:
    """The URL segments of a push, with the Location id as its owner spells it."""
    location_id = str(document["id"]) if document else address.location_id
    segments = [location_id, *address.segments()[1:]]
    return push.url_path(owner.country_code, owner.party_id, *segments)


async def _put(
    request: Request,
    caller: Caller,
    ctx: HubContext,
    session: AsyncSession,
    country_code: str,
    party_id: str,
    address: Address,
    obj: dict[str, Any],
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    push.check_ids(obj, service.body_ids(address, push.owner_ids(owner, "id", address.location_id)))
    target = push.Target(MODULE, owner, address.location_id)
    existing = await store.get(session, MODULE, owner, address.location_id)
    document = service.apply_put(existing.data if existing else None, address, obj)
    path = _path(owner, address, document)
    stamp = parse_datetime(document["last_updated"])
    if push.directed_to(ctx, caller) is not None:
        response, ok = await push.forward_push(
            session,
            ctx,
            caller,
            request,
            module=MODULE,
            method="PUT",
            path=path,
            body=obj,
            owner=owner,
        )
        if ok:
            await push.store_and_announce(
                session, ctx, caller, target, data=document, last_updated=stamp, method="PUT",
                path=path, body=obj, full=True, existing=existing, announce=False,
            )  # fmt: skip
        return response
    _row, created = await push.store_and_announce(
        session,
        ctx,
        caller,
        target,
        data=document,
        last_updated=stamp,
        method="PUT",
        path=path,
        body=obj,
        full=address.evse_uid is None,
        existing=existing,
        looked_up=True,
    )
    return ocpi_response(
        http_status=201 if created else 200, headers=push.answer_headers(ctx, owner)
    )


async def _patch(
    request: Request,
    caller: Caller,
    ctx: HubContext,
    session: AsyncSession,
    country_code: str,
    party_id: str,
    address: Address,
    patch: dict[str, Any],
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    push.check_ids(
        patch, service.body_ids(address, push.owner_ids(owner, "id", address.location_id))
    )
    existing = await store.get(session, MODULE, owner, address.location_id)
    path = _path(owner, address, existing.data if existing else None)
    if push.directed_to(ctx, caller) is not None:
        response, _ok = await push.forward_push(
            session, ctx, caller, request, module=MODULE, method="PATCH", path=path, body=patch,
            owner=owner,
        )  # fmt: skip
        return response
    if existing is None:
        raise NotFound(f"Unknown Location {address.location_id}", OcpiStatus.UNKNOWN_LOCATION)
    document = service.apply_patch(existing.data, address, patch)
    await push.store_and_announce(
        session,
        ctx,
        caller,
        push.Target(MODULE, owner, address.location_id),
        data=document,
        last_updated=parse_datetime(document["last_updated"]),
        method="PATCH",
        path=path,
        body=patch,
        full=False,
        existing=existing,
    )
    return ocpi_response(headers=push.answer_headers(ctx, owner))


async def _get_own(
    caller: Caller, session: AsyncSession, country_code: str, party_id: str, address: Address
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    row = await store.get(session, MODULE, owner, address.location_id)
    if row is None:
        raise NotFound(f"Unknown Location {address.location_id}", OcpiStatus.UNKNOWN_LOCATION)
    return ocpi_response(service.select(row.data, address))


def _patch_body(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json", exclude_unset=True))


# --- Receiver interface: {url}/{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]


@receiver.put(
    "/{country_code}/{party_id}/{location_id}",
    summary="Push a new or replaced Location",
    response_model=Envelope[None],
)
async def put_location(
    country_code: CountryCode,
    party_id: PartyId,
    location_id: LocationId,
    body: Location,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    return await _put(
        request, caller, ctx, session, country_code, party_id, Address(location_id), body.to_json()
    )


@receiver.put(
    "/{country_code}/{party_id}/{location_id}/{evse_uid}",
    summary="Push a new or replaced EVSE",
    response_model=Envelope[None],
)
async def put_evse(
    country_code: CountryCode,
    party_id: PartyId,
    location_id: LocationId,
    evse_uid: EvseUid,
    body: EVSE,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    address = Address(location_id, evse_uid)
    return await _put(
        request, caller, ctx, session, country_code, party_id, address, body.to_json()
    )


@receiver.put(
    "/{country_code}/{party_id}/{location_id}/{evse_uid}/{connector_id}",
    summary="Push a new or replaced Connector",
    response_model=Envelope[None],
)
async def put_connector(
    country_code: CountryCode,
    party_id: PartyId,
    location_id: LocationId,
    evse_uid: EvseUid,
    connector_id: ConnectorId,
    body: Connector,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    address = Address(location_id, evse_uid, connector_id)
    return await _put(
        request, caller, ctx, session, country_code, party_id, address, body.to_json()
    )


@receiver.patch(
    "/{country_code}/{party_id}/{location_id}",
    summary="Update part of a Location (must carry last_updated)",
    response_model=Envelope[None],
)
async def patch_location(
    country_code: CountryCode,
    party_id: PartyId,
    location_id: LocationId,
    body: LocationPatch,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    address = Address(location_id)
    return await _patch(
        request, caller, ctx, session, country_code, party_id, address, _patch_body(body)
    )


@receiver.patch(
    "/{country_code}/{party_id}/{location_id}/{evse_uid}",
    summary="Update part of an EVSE, such as its status (bumps the Location's last_updated)",
    response_model=Envelope[None],
)
async def patch_evse(
    country_code: CountryCode,
    party_id: PartyId,
    location_id: LocationId,
    evse_uid: EvseUid,
    body: EvsePatch,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    address = Address(location_id, evse_uid)
    return await _patch(
        request, caller, ctx, session, country_code, party_id, address, _patch_body(body)
    )


@receiver.patch(
    "/{country_code}/{party_id}/{location_id}/{evse_uid}/{connector_id}",
    summary="Update part of a Connector (bumps the EVSE's and Location's last_updated)",
    response_model=Envelope[None],
)
async def patch_connector(
    country_code: CountryCode,
    party_id: PartyId,
    location_id: LocationId,
    evse_uid: EvseUid,
    connector_id: ConnectorId,
    body: ConnectorPatch,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    address = Address(location_id, evse_uid, connector_id)
    return await _patch(
        request, caller, ctx, session, country_code, party_id, address, _patch_body(body)
    )


@receiver.get(
    "/{country_code}/{party_id}/{location_id}",
    summary="The Location as the hub stores it (for its owner)",
    response_model=Envelope[Location],
)
async def get_own_location(
    country_code: CountryCode,
    party_id: PartyId,
    location_id: LocationId,
    caller: CallerDep,
    session: SessionDep,
) -> JSONResponse:
    return await _get_own(caller, session, country_code, party_id, Address(location_id))


@receiver.get(
    "/{country_code}/{party_id}/{location_id}/{evse_uid}",
    summary="The EVSE as the hub stores it (for its owner)",
    response_model=Envelope[EVSE],
)
async def get_own_evse(
    country_code: CountryCode,
    party_id: PartyId,
    location_id: LocationId,
    evse_uid: EvseUid,
    caller: CallerDep,
    session: SessionDep,
) -> JSONResponse:
    return await _get_own(caller, session, country_code, party_id, Address(location_id, evse_uid))


@receiver.get(
    "/{country_code}/{party_id}/{location_id}/{evse_uid}/{connector_id}",
    summary="The Connector as the hub stores it (for its owner)",
    response_model=Envelope[Connector],
)
async def get_own_connector(
    country_code: CountryCode,
    party_id: PartyId,
    location_id: LocationId,
    evse_uid: EvseUid,
    connector_id: ConnectorId,
    caller: CallerDep,
    session: SessionDep,
) -> JSONResponse:
    address = Address(location_id, evse_uid, connector_id)
    return await _get_own(caller, session, country_code, party_id, address)


# --- Sender interface: GET all (combined from every CPO) and GET one ----------------------------


@sender.get(
    "",
    summary="All Locations the hub holds, from every CPO, for eMSP-like roles (a CPO gets its own)",
    response_model=Envelope[list[Location]],
)
async def list_locations(
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
    params: PageDep,
) -> Response:
    documents, total = await agreements.page_json(session, ctx, caller, MODULE, params)
    return paginated_json_response(request, documents, total, params)


async def _get_one(
    request: Request,
    caller: Caller,
    ctx: HubContext,
    session: AsyncSession,
    address: Address,
) -> JSONResponse:
    if push.directed_to(ctx, caller) is None:
        # The hub answers from what it stores (push.get_one, with the agreements checked on the
        # rows found only: no list of every Location that is not published is read).
        key = address.location_id
        found = await store.find_by_key(session, MODULE, key)
        rows = await agreements.readable_rows(session, ctx, caller, MODULE, found)
        if len(rows) > 1:
            raise InvalidParameters(
                f"Several parties have a {MODULE} object {key}: name the owner in the OCPI-to"
                " headers"
            )
        if not rows:
            raise NotFound(f"Unknown {MODULE} object {key}", OcpiStatus.UNKNOWN_LOCATION)
        return ocpi_response(service.select(rows[0].data, address))
    return await push.get_one(
        request,
        caller,
        ctx,
        session,
        module=MODULE,
        key=address.location_id,
        path=push.url_path(*address.segments()),
        pick=lambda data: service.select(data, address),
        unknown=OcpiStatus.UNKNOWN_LOCATION,
        visible=await agreements.readable(session, ctx, caller, MODULE),
    )


@sender.get(
    "/{location_id}",
    summary="One Location (OCPI-to headers choose the CPO when ids collide)",
    response_model=Envelope[Location],
)
async def get_location(
    location_id: LocationId,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    return await _get_one(request, caller, ctx, session, Address(location_id))


@sender.get("/{location_id}/{evse_uid}", summary="One EVSE", response_model=Envelope[EVSE])
async def get_evse(
    location_id: LocationId,
    evse_uid: EvseUid,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    return await _get_one(request, caller, ctx, session, Address(location_id, evse_uid))


@sender.get(
    "/{location_id}/{evse_uid}/{connector_id}",
    summary="One Connector",
    response_model=Envelope[Connector],
)
async def get_connector(
    location_id: LocationId,
    evse_uid: EvseUid,
    connector_id: ConnectorId,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    address = Address(location_id, evse_uid, connector_id)
    return await _get_one(request, caller, ctx, session, address)
