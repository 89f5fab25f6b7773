"""Admin JWTs: HS256 bearer tokens signed with the admin secret (python-jose)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jose import JWTError, jwt

from app.core.settings import Settings

ALGORITHM = "HS256"
AUDIENCE = "voltroam-admin"

_bearer = HTTPBearer(auto_error=False, description="Admin JWT from `voltroam admin-token`")


def issue_admin_token(settings: Settings, subject: str = "admin", ttl: int | None = None) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl or settings.admin_jwt_ttl_seconds)).timestamp()),
    }
    return str(jwt.encode(claims, settings.resolved_admin_jwt_secret, algorithm=ALGORITHM))


def verify_admin_token(settings: Settings, token: str) -> str:
    try:
        claims = jwt.decode(
            token, settings.resolved_admin_jwt_secret, algorithms=[ALGORITHM], audience=AUDIENCE
        )
    except JWTError:
        raise HTTPException(
            status_code=401,
            detail="Invalid or expired admin token",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    return str(claims.get("sub", "admin"))


async def require_admin(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status_code=401,
            detail="Admin endpoints need Authorization: Bearer <JWT>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return verify_admin_token(request.app.state.hub.settings, credentials.credentials)
