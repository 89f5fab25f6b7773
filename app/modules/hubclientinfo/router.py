"""HubClientInfo (mod_hub_client_info.asciidoc): the hub's Sender interface, GET all ClientInfo."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.hub import agreements
from app.hub.clientinfo import MODULE, client_infos
from app.modules.common import CallerDep, ContextDep, PageDep, SessionDep
from app.modules.versions.service import ServedEndpoint, register
from app.ocpi.envelope import Envelope
from app.ocpi.pagination import paginated_response
from app.ocpi.schemas.hubclientinfo import ClientInfo
from app.ocpi.schemas.versions import InterfaceRole
from app.ocpi.version import VERSION_PREFIX

register(ServedEndpoint(MODULE, InterfaceRole.SENDER, "/hubclientinfo"))
router = APIRouter(prefix=f"{VERSION_PREFIX}/hubclientinfo", tags=["OCPI hubclientinfo"])


@router.get(
    "",
    summary="Every party connected to the hub, with its connection status (paginated)",
    response_model=Envelope[list[ClientInfo]],
)
async def list_client_info(
    request: Request, caller: CallerDep, ctx: ContextDep, session: SessionDep, params: PageDep
) -> JSONResponse:
    # A party sees the parties it may reach (roaming agreements).
    visible = await agreements.client_infos(session, ctx, caller.roles, await client_infos(session))
    infos = [
        i
        for i in visible
        if (params.date_from is None or i.last_updated >= params.date_from)
        and (params.date_to is None or i.last_updated < params.date_to)
    ]
    page = infos[params.offset : params.offset + params.limit]
    return paginated_response(request, [i.to_json() for i in page], len(infos), params)
