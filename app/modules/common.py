"""Shared pieces of the module routers: path parameters and dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.auth import Caller, get_context, get_session, registered_caller
from app.hub.context import HubContext
from app.ocpi.pagination import PageParams, page_params
from app.ocpi.schemas.common import PathSegment

# Path parameters are ids too: what the body may not carry (app.ocpi.schemas.common
# check_path_segment: ".", "..", "/") is refused here as well, with 2001 naming the parameter.
CountryCode = Annotated[
    str, Path(min_length=2, max_length=2, description="Owner's country code"), PathSegment
]
PartyId = Annotated[
    str, Path(min_length=3, max_length=3, description="Owner's party id"), PathSegment
]
ObjectId = Annotated[
    str, Path(min_length=1, max_length=36, description="The object's id"), PathSegment
]
EvseUid = Annotated[str, Path(min_length=1, max_length=36, description="EVSE uid"), PathSegment]
ConnectorId = Annotated[
    str, Path(min_length=1, max_length=36, description="Connector id"), PathSegment
]

CallerDep = Annotated[Caller, Depends(registered_caller)]
ContextDep = Annotated[HubContext, Depends(get_context)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
PageDep = Annotated[PageParams, Depends(page_params)]
