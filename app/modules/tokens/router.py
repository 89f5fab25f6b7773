"""Tokens (mod_tokens.asciidoc): eMSPs push (PUT, PATCH with ?type=), CPOs pull."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
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
from app.modules.tokens.authorize import authorize
from app.modules.versions.service import ServedEndpoint, register
from app.ocpi.envelope import Envelope
from app.ocpi.errors import InvalidParameters
from app.ocpi.pagination import paginated_json_response
from app.ocpi.schemas.tokens import (
    AuthorizationInfo,
    LocationReferences,
    Token,
    TokenPatch,
    TokenType,
)
from app.ocpi.schemas.versions import InterfaceRole
from app.ocpi.version import VERSION_PREFIX

MODULE = "tokens"
register(
    ServedEndpoint(MODULE, InterfaceRole.RECEIVER, "/receiver/tokens"),
    ServedEndpoint(MODULE, InterfaceRole.SENDER, "/sender/tokens"),
)
receiver = APIRouter(prefix=f"{VERSION_PREFIX}/receiver/tokens", tags=["OCPI tokens"])
sender = APIRouter(prefix=f"{VERSION_PREFIX}/sender/tokens", tags=["OCPI tokens"])

# "type: Token.type of the Token to retrieve. Default if omitted: RFID"
TypeQuery = Annotated[TokenType, Query(description="Token type; RFID when omitted")]


def _target(
    caller: Any, country_code: str, party_id: str, uid: str, type_: TokenType
) -> push.Target:
    owner = push.owner_of(caller, MODULE, country_code, party_id)
    return push.Target(MODULE, owner, uid, type_.value)


def _merge(existing: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    return push.validated(Token, {**existing, **patch})


@receiver.put(
    "/{country_code}/{party_id}/{token_uid}",
    summary="Push a new or replaced Token",
    response_model=Envelope[None],
)
async def put_token(
    country_code: CountryCode,
    party_id: PartyId,
    token_uid: ObjectId,
    body: Token,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
    type: TypeQuery = TokenType.RFID,
) -> JSONResponse:
    if body.type != type:
        raise InvalidParameters(f"type in the body ({body.type}) does not match ?type= ({type})")
    return await push.put_object(
        request,
        caller,
        ctx,
        session,
        target=_target(caller, country_code, party_id, token_uid, type),
        obj=body.to_json(),
        id_field="uid",
        query=f"type={type.value}",
    )


@receiver.patch(
    "/{country_code}/{party_id}/{token_uid}",
    summary="Update part of a Token (must carry last_updated)",
    response_model=Envelope[None],
)
async def patch_token(
    country_code: CountryCode,
    party_id: PartyId,
    token_uid: ObjectId,
    body: TokenPatch,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
    type: TypeQuery = TokenType.RFID,
) -> JSONResponse:
    patch = body.model_dump(mode="json", exclude_unset=True)
    if "type" in patch and patch["type"] != type.value:
        raise InvalidParameters("A Token's type cannot be changed with PATCH")
    return await push.patch_object(
        request,
        caller,
        ctx,
        session,
        target=_target(caller, country_code, party_id, token_uid, type),
        patch=patch,
        merge=_merge,
        id_field="uid",
        query=f"type={type.value}",
    )


@receiver.get(
    "/{country_code}/{party_id}/{token_uid}",
    summary="The Token as the hub stores it (for its owner)",
    response_model=Envelope[Token],
)
async def get_own_token(
    country_code: CountryCode,
    party_id: PartyId,
    token_uid: ObjectId,
    caller: CallerDep,
    session: SessionDep,
    type: TypeQuery = TokenType.RFID,
) -> JSONResponse:
    return await push.get_own(
        caller, session, _target(caller, country_code, party_id, token_uid, type)
    )


@sender.get(
    "",
    summary="All Tokens the hub holds, from every eMSP, for CPOs (an eMSP gets its own)",
    response_model=Envelope[list[Token]],
)
async def list_tokens(
    request: Request, caller: CallerDep, ctx: ContextDep, session: SessionDep, params: PageDep
) -> Response:
    # "The tokens module gives CPOs knowledge of the token information of an eMSP."
    documents, total = await agreements.page_json(session, ctx, caller, MODULE, params)
    return paginated_json_response(request, documents, total, params)


@sender.post(
    "/{token_uid}/authorize",
    summary="Real-time authorization of a Token by its eMSP (whitelist fallback when it is down)",
    response_model=Envelope[AuthorizationInfo],
)
async def authorize_token(
    token_uid: ObjectId,
    request: Request,
    caller: CallerDep,
    ctx: ContextDep,
    session: SessionDep,
    body: Annotated[LocationReferences | None, Body()] = None,
    type: TypeQuery = TokenType.RFID,
) -> JSONResponse:
    return await authorize(
        request,
        caller,
        ctx,
        session,
        uid=token_uid,
        token_type=type.value,
        location=body.to_json() if body is not None else None,
    )
