"""Request and response bodies of the admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, HttpUrl

from app.hub.parties.service import PlatformView


class InvitationIn(BaseModel):
    name: str = Field(min_length=1, max_length=255, examples=["Example CPO B.V."])
    ttl_hours: int | None = Field(default=None, ge=1, le=24 * 90)


class InvitationOut(BaseModel):
    platform_id: int
    token_a: str = Field(description="CREDENTIALS_TOKEN_A: shown once, hand it over securely")
    versions_url: str
    expires_at: datetime


class ConnectIn(BaseModel):
    versions_url: HttpUrl = Field(examples=["https://ocpi.example.com/versions"])
    token_a: str = Field(min_length=1, max_length=64, description="The token A the party issued")
    name: str | None = Field(default=None, max_length=255)


class RoleOut(BaseModel):
    role: str
    country_code: str
    party_id: str
    business_details: dict[str, Any]


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

    @classmethod
    def of(cls, view: PlatformView) -> PlatformOut:
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


class SyncOut(BaseModel):
    stored: dict[str, int]
    ignored: dict[str, int]
    errors: list[str]
