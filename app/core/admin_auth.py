"""Admin JWTs: HS256 bearer tokens signed with the admin secret (python-jose)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.settings import Settings

ALGORITHM = "HS256"
AUDIENCE = "voltroam-admin"

_bearer = HTTPBearer(auto_error=False, description="Admin JWT from `voltroam admin-token`")


def issue_admin_token(settings: Settings, subject: str = "admin", ttl: int | None = None) -> str:
    # python-jose imported where used: it loads the cryptography package (megabytes resident),
    # which a hub serving no admin request does not need.
    from jose import jwt

    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl or settings.admin_jwt_ttl_seconds)).timestamp()),
    }
    return str(jwt.encode(claims, settings.resolved_admin_jwt_secret, algorithm=ALGORITHM))


# python-jose checks exp and aud only when the claim is present; an admin token must carry both.
_REQUIRED = {
    "verify_signature": True,
    "verify_aud": True,
    "verify_iat": True,
    "verify_exp": True,
    "require_aud": True,
    "require_exp": True,
}
# Clock skew tolerated between the issuer of a token and the hub, for iat.
_LEEWAY_SECONDS = 60


def _refused() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="Invalid or expired admin token",
        headers={"WWW-Authenticate": "Bearer"},
    )


def verify_admin_token(settings: Settings, token: str) -> str:
    """The token's subject, if it is an HS256 JWT signed with the admin secret, for our
    audience, not expired, and (when it says when it was issued) not issued in the future."""
    from jose import JWTError, jwt

    try:
        # The header is read before anything else so that only HS256 is ever considered
        # (never "none", never another algorithm keyed with the same secret).
        if jwt.get_unverified_header(token).get("alg") != ALGORITHM:
            raise _refused()
        claims = jwt.decode(
            token,
            settings.resolved_admin_jwt_secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options=_REQUIRED,
        )
    except (JWTError, ArithmeticError, ValueError, TypeError):
        # python-jose lets an OverflowError out of int(claim) for a claim such as 1e400.
        raise _refused() from None
    issued = claims.get("iat")
    if issued is not None and (
        isinstance(issued, bool)
        or not isinstance(issued, int | float)
        or issued > datetime.now(UTC).timestamp() + _LEEWAY_SECONDS
    ):
        raise _refused()
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
