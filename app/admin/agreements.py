"""Admin API of roaming agreements (JWT): the pairs and their states; open, suspend, end."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.admin_auth import require_admin
from app.hub import agreements_service as service
from app.hub.agreements import MODULES
from app.hub.auth import get_context, get_session
from app.hub.context import HubContext

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "Missing or bad JWT"},
}

State = Literal["proposed", "active", "suspended", "ended"]
Module = Literal[
    "locations", "tariffs", "tokens", "sessions", "cdrs", "commands", "chargingprofiles"
]


class SyncOut(BaseModel):
    """What the last activation sent (the CPO's Locations and Tariffs to the eMSP, the eMSP's
    Tokens to the CPO) and how far their delivery got."""

    queued: int
    delivered: int
    pending: int
    failed: int


class AgreementOut(BaseModel):
    cpo: str = Field(description="The CPO role, CC*PID", examples=["NL*CPA"])
    emsp: str = Field(description="The eMSP-like role (EMSP, NSP, OTHER, SCSP), CC*PID")
    state: State
    modules: list[Module] | None = Field(description="The modules covered; null: every module")
    explicit: bool = Field(description="false: no agreement yet, the hub's default applies")
    created_at: datetime | None = None
    updated_at: datetime | None = None
    changed_by: str | None = None
    activated_at: datetime | None = None
    suspended_at: datetime | None = None
    ended_at: datetime | None = None
    sync: SyncOut | None = None

    @classmethod
    def of(cls, view: service.PairView) -> AgreementOut:
        row = view.row
        sync = view.sync
        return cls(
            cpo=str(view.cpo),
            emsp=str(view.emsp),
            state=view.state,
            modules=view.modules,
            explicit=row is not None,
            created_at=row.created_at if row else None,
            updated_at=row.updated_at if row else None,
            changed_by=row.changed_by if row else None,
            activated_at=row.activated_at if row else None,
            suspended_at=row.suspended_at if row else None,
            ended_at=row.ended_at if row else None,
            sync=SyncOut(**sync.__dict__) if sync else None,
        )


class AgreementsOut(BaseModel):
    default: Literal["open", "closed"] = Field(
        description="AGREEMENTS_DEFAULT: the state of a pair without an agreement (open: active)"
    )
    modules: list[str] = Field(description="The modules an agreement can cover")
    agreements: list[AgreementOut]


class AgreementIn(BaseModel):
    cpo: str = Field(
        min_length=1,
        max_length=32,
        description="A CPO role, CC*PID, or platform:ID for every CPO role of a platform",
        examples=["NL*CPA"],
    )
    emsp: str = Field(
        min_length=1,
        max_length=32,
        description="An eMSP-like role, CC*PID, or platform:ID for all of a platform's",
        examples=["DE*EM2"],
    )
    state: State
    modules: list[Module] | None = Field(
        default=None,
        description="The modules covered; omitted: unchanged (every module for a new one)",
    )


@router.get(
    "/agreements",
    summary="Roaming agreements: every CPO/eMSP pair and its state",
    response_model=AgreementsOut,
    responses=_ERRORS,
)
async def list_agreements(
    ctx: HubContext = Depends(get_context), session: AsyncSession = Depends(get_session)
) -> AgreementsOut:
    views = await service.pairs(session, ctx)
    return AgreementsOut(
        default=ctx.settings.agreements_default,
        modules=list(MODULES),
        agreements=[AgreementOut.of(v) for v in views],
    )


@router.post(
    "/agreements",
    summary="Propose, open (activate), suspend or end the agreements of a pair",
    description="Opening sends the eMSP the CPO's current Locations and Tariffs and the CPO the"
    " eMSP's current Tokens through the outbox (`sync` shows the progress); suspending or ending"
    " drops what has not left yet and sends nothing more (running Sessions finish).",
    response_model=list[AgreementOut],
    responses={**_ERRORS, 422: {"description": "Invalid parties, state or modules"}},
)
async def change_agreements(
    body: AgreementIn,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    admin: str = Depends(require_admin),
) -> list[AgreementOut]:
    try:
        views = await service.change(
            session,
            ctx,
            cpo=body.cpo,
            emsp=body.emsp,
            state=body.state,
            modules=body.modules,
            by=admin,
        )
    except service.AgreementError as exc:
        raise HTTPException(422, str(exc)) from None
    return [AgreementOut.of(v) for v in views]
