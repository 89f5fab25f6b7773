"""Request and response bodies of the admin API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, HttpUrl, field_validator

from app.hub.parties.service import Declared, PlatformView
from app.hub.syncs.models import SyncJob


class Declared211(BaseModel):
    """What an OCPI 2.1.1 party does not say in its credentials and messages."""

    role: Literal["CPO", "EMSP"] | None = Field(
        default=None, description="The party's role: needed for OCPI 2.1.1 (credentials say none)"
    )
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone of a 2.1.1 CPO's Locations that send none",
        examples=["Europe/Amsterdam"],
    )
    vat: Decimal | None = Field(
        default=None, ge=0, le=100, description="VAT percentage of a 2.1.1 CPO's tariff prices"
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ValueError, KeyError):
                raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value


class InvitationIn(Declared211):
    name: str = Field(min_length=1, max_length=255, examples=["Example CPO B.V."])
    ttl_hours: int | None = Field(default=None, ge=1, le=24 * 90)


class InvitationOut(BaseModel):
    platform_id: int
    token_a: str = Field(description="CREDENTIALS_TOKEN_A: shown once, hand it over securely")
    versions_url: str
    expires_at: datetime


class ConnectIn(Declared211):
    versions_url: HttpUrl = Field(examples=["https://ocpi.example.com/versions"])
    token_a: str = Field(min_length=1, max_length=64, description="The token A the party issued")
    name: str | None = Field(default=None, max_length=255)


class RoleOut(BaseModel):
    role: str
    country_code: str
    party_id: str
    business_details: dict[str, Any]


class SyncModuleOut(BaseModel):
    """How far the pull of one module got."""

    pages: int = Field(description="Pages received so far")
    objects: int = Field(description="Objects received so far")
    total: int | None = Field(description="The partner's X-Total-Count (null: not sent)")
    stored: int = Field(description="Objects stored (new, changed or unchanged)")
    ignored: int = Field(
        description="Objects ignored: invalid, or owned by a party that is not the platform's"
    )
    done: bool = Field(description="The module's pull ended")
    error: str | None = Field(description="Why it ended early (the partner failed)")


class SyncJobOut(BaseModel):
    """A pull of a CPO platform's Locations and Tariffs (a sync job)."""

    id: int
    platform_id: int
    platform_name: str
    reason: str = Field(
        description="registration (a CPO registered or updated its credentials), admin"
        " (POST /admin/platforms/{id}/sync) or cli (voltroam party sync)",
        examples=["registration"],
    )
    state: str = Field(
        description="pending (queued), running, done or failed (error says why)",
        examples=["running"],
    )
    attempts: int = Field(description="Times an instance took it (more: an instance died)")
    instance: str | None = Field(description="The instance that has (or last had) it")
    modules: dict[str, SyncModuleOut] = Field(description="Progress by module")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: SyncJob, platform_name: str) -> SyncJobOut:
        assert job.id is not None
        return cls(
            id=job.id,
            platform_id=job.platform_id,
            platform_name=platform_name,
            reason=job.reason,
            state=job.state,
            attempts=job.attempts,
            instance=job.holder,
            modules={m: SyncModuleOut.model_validate(v) for m, v in (job.modules or {}).items()},
            error=job.error,
            created_at=job.created_at,
            started_at=job.started_at,
            updated_at=job.updated_at,
            finished_at=job.finished_at,
        )


class PlatformOut(BaseModel):
    id: int
    name: str
    status: str
    registered: bool
    initiated_by: str
    versions_url: str | None
    version: str | None
    roles: list[RoleOut]
    endpoints: list[dict[str, Any]]
    created_at: datetime
    last_seen_at: datetime | None
    sync: SyncJobOut | None = Field(
        description="The newest pull of the platform's Locations and Tariffs (CPOs), if any"
    )

    @classmethod
    def of(cls, view: PlatformView, sync: SyncJob | None = None) -> PlatformOut:
        p = view.platform
        assert p.id is not None
        return cls(
            id=p.id,
            name=p.name,
            status=p.status,
            registered=p.registered,
            initiated_by=p.initiated_by,
            versions_url=p.versions_url,
            version=p.version,
            roles=[
                RoleOut(
                    role=r.role,
                    country_code=r.country_code,
                    party_id=r.party_id,
                    business_details=r.business_details,
                )
                for r in view.roles
            ],
            endpoints=p.endpoints or [],
            created_at=p.created_at,
            last_seen_at=p.last_seen_at,
            sync=SyncJobOut.of(sync, p.name) if sync is not None else None,
        )


class ErrorOut(BaseModel):
    detail: str
    ocpi_status_code: int | None = None


class DeliveryOut(BaseModel):
    id: int
    platform_id: int
    module: str
    method: str
    path: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None


def declared(body: Declared211) -> Declared:
    return Declared(body.role, body.time_zone, str(body.vat) if body.vat is not None else None)
