"""CDRs (mod_cdrs.asciidoc): CPOs POST them, the hub routes each to the eMSP that owns the token
and answers with a Location header on the hub; eMSPs pull their own."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from app.core.limits import DB_ID_MAX
from app.hub.auth import Caller
from app.hub.context import HubContext
from app.hub.routing import CPO_ONLY, EMSP_LIKE
from app.hub.store import push
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.modules.common import CallerDep, ContextDep, PageDep, SessionDep
from app.modules.sessions.service import token_owner
from app.modules.versions.service import ServedEndpoint, register
from app.ocpi.envelope import Envelope, ocpi_response
from app.ocpi.errors import InvalidParameters, NotFound
from app.ocpi.headers import PartyRef
from app.ocpi.pagination import paginated_json_response
from app.ocpi.schemas.cdrs import CDR
from app.ocpi.schemas.common import parse_datetime
from app.ocpi.schemas.versions import InterfaceRole
from app.ocpi.version import VERSION_PREFIX

MODULE = "cdrs"
RECEIVER_PATH = f"{VERSION_PREFIX}/receiver/cdrs"
register(
    ServedEndpoint(MODULE, InterfaceRole.RECEIVER, "/receiver/cdrs"),
    ServedEndpoint(MODULE, InterfaceRole.SENDER, "/sender/cdrs"),
)
receiver = APIRouter(prefix=RECEIVER_PATH, tags=["OCPI cdrs"])
sender = APIRouter(prefix=f"{VERSION_PREFIX}/sender/cdrs", tags=["OCPI cdrs"])


def _location(base_url: str, row: OcpiObject) -> dict[str, str]:
    # "URL to the newly created CDR in the eMSP's system": here, the hub's own copy.
    return {"Location": f"{base_url}{RECEIVER_PATH}/{row.id}"}


@receiver.post(
    "",
    summary="Post a new CDR (routed to the token owner's eMSP); answers with a Location header",
    response_model=Envelope[None],
    status_code=201,
)
async def post_cdr(
    body: CDR,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
) -> JSONResponse:
    owner = push.owner_of(caller, MODULE, body.country_code, body.party_id)
    cdr = body.to_json()
    if push.directed_to(ctx, caller) is not None:
        response, _ok = await push.forward_push(
            session, ctx, caller, request, module=MODULE, method="POST", path="", body=cdr,
            owner=owner,
        )  # fmt: skip
        # The receiver's Location points into its own system; the CPO gets no hub copy to GET.
        if "Location" in response.headers:
            del response.headers["Location"]
        return response
    target = push.Target(MODULE, owner, body.id)
    existing = await store.get(session, MODULE, owner, body.id)
    if existing is not None:
        return _posted_before(ctx, owner, existing, cdr)
    try:
        row, _created = await push.store_and_announce(
            session,
            ctx,
            caller,
            target,
            data=cdr,
            last_updated=parse_datetime(cdr["last_updated"]),
            method="POST",
            path="",
            body=cdr,
            full=True,
            recipient=token_owner(cdr),
            replace=False,
        )
    except store.AlreadyStored as stored:
        # The same CDR POSTed twice at once (a CPO's resend while the first was being stored):
        # the first stored and announced it; this one is answered as a retry, sends nothing.
        # (The answer is built before the rollback, which expires the row read.)
        try:
            return _posted_before(ctx, owner, stored.row, cdr)
        finally:
            await session.rollback()
    headers = {**push.answer_headers(ctx, owner), **_location(ctx.settings.base_url, row)}
    return ocpi_response(http_status=201, headers=headers)


def _posted_before(
    ctx: HubContext, owner: PartyRef, existing: OcpiObject, cdr: dict[str, Any]
) -> JSONResponse:
    """ "CDRs cannot be replaced": a retry of the same CDR is answered as before, a different CDR
    under a used id is refused."""
    if existing.data != cdr:
        raise InvalidParameters(
            f"CDR {existing.object_key} already exists and CDRs cannot be replaced"
        )
    headers = {**push.answer_headers(ctx, owner), **_location(ctx.settings.base_url, existing)}
    return ocpi_response(headers=headers)


@receiver.get(
    "/{cdr_ref}",
    summary="A CDR by the URL the POST answered with (for its CPO and its eMSP)",
    response_model=Envelope[CDR],
)
async def get_cdr(
    cdr_ref: Annotated[int, Path(ge=1, le=DB_ID_MAX)], caller: CallerDep, session: SessionDep
) -> JSONResponse:
    row = await session.get(OcpiObject, cdr_ref)
    if row is None or row.module != MODULE or not _may_read(caller, row):
        raise NotFound("Unknown CDR")
    return ocpi_response(row.data)


def _may_read(caller: Caller, row: OcpiObject) -> bool:
    """The CPO platform that posted the CDR, and the eMSP it was routed to (its token's)."""
    posted = row.owner_platform_id == caller.platform.id and PartyRef(
        row.country_code, row.party_id
    ) in caller.parties(CPO_ONLY)
    routed = row.recipient_country_code is not None and PartyRef(
        row.recipient_country_code, row.recipient_party_id or ""
    ) in caller.parties(EMSP_LIKE)
    return posted or routed


@sender.get(
    "",
    summary="The caller's CDRs: those of tokens it owns (paginated, oldest first)",
    response_model=Envelope[list[CDR]],
)
async def list_cdrs(
    request: Request, caller: CallerDep, session: SessionDep, params: PageDep
) -> Response:
    documents, total = await store.page_json(
        session, MODULE, params, recipients=caller.parties(EMSP_LIKE)
    )
    return paginated_json_response(request, documents, total, params)
