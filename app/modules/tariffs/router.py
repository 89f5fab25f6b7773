"""Tariffs (mod_tariffs.asciidoc): CPOs push (PUT, DELETE), every eMSP-like party pulls."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.hub import agreements
from app.hub.store import push
from app.modules.common import (
    CallerDep,
    ContextDep,
    CountryCode,
    ObjectId,
    PageDep,
    PartyId,
    SessionDep,
)
from app.modules.versions.service import ServedEndpoint, register
from app.ocpi.envelope import Envelope, ocpi_response
from app.ocpi.errors import NotFound
from app.ocpi.pagination import paginated_json_response
from app.ocpi.schemas.tariffs import Tariff
from app.ocpi.schemas.versions import InterfaceRole
from app.ocpi.version import VERSION_PREFIX

MODULE = "tariffs"
register(
    ServedEndpoint(MODULE, InterfaceRole.RECEIVER, "/receiver/tariffs"),
    ServedEndpoint(MODULE, InterfaceRole.SENDER, "/sender/tariffs"),
)
receiver = APIRouter(prefix=f"{VERSION_PREFIX}/receiver/tariffs", tags=["OCPI tariffs"])
sender = APIRouter(prefix=f"{VERSION_PREFIX}/sender/tariffs", tags=["OCPI tariffs"])


@receiver.put(
    "/{country_code}/{party_id}/{tariff_id}",
    summary="Push a new or replaced Tariff",
    response_model=Envelope[None],
)
async def put_tariff(
    country_code: CountryCode,
    party_id: PartyId,
    tariff_id: ObjectId,
    body: Tariff,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    return await push.put_object(
        request,
        caller,
        ctx,
        session,
        target=push.Target(MODULE, owner, tariff_id),
        obj=body.to_json(),
    )


@receiver.delete(
    "/{country_code}/{party_id}/{tariff_id}",
    summary="Remove a Tariff (announced to every receiver)",
    response_model=Envelope[None],
)
async def delete_tariff(
    country_code: CountryCode,
    party_id: PartyId,
    tariff_id: ObjectId,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    path = push.url_path(owner.country_code, owner.party_id, tariff_id)
    if push.directed_to(ctx, caller) is not None:
        response, _ok = await push.forward_push(
            session, ctx, caller, request, module=MODULE, method="DELETE", path=path, body=None,
            owner=owner,
        )  # fmt: skip
        return response
    target = push.Target(MODULE, owner, tariff_id)
    if not await push.delete_and_announce(session, ctx, caller, target, path=path):
        raise NotFound(f"Unknown tariff {tariff_id}")
    return ocpi_response(headers=push.answer_headers(ctx, owner))


@receiver.get(
    "/{country_code}/{party_id}/{tariff_id}",
    summary="The Tariff as the hub stores it (for its owner)",
    response_model=Envelope[Tariff],
)
async def get_own_tariff(
    country_code: CountryCode,
    party_id: PartyId,
    tariff_id: ObjectId,
    caller: CallerDep,
    session: SessionDep,
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    return await push.get_own(caller, session, push.Target(MODULE, owner, tariff_id))


@sender.get(
    "",
    summary="All Tariffs the hub holds, from every CPO, for eMSP-like roles (a CPO gets its own)",
    response_model=Envelope[list[Tariff]],
)
async def list_tariffs(
    request: Request, caller: CallerDep, ctx: ContextDep, session: SessionDep, params: PageDep
) -> Response:
    documents, total = await agreements.page_json(session, ctx, caller, MODULE, params)
    return paginated_json_response(request, documents, total, params)
