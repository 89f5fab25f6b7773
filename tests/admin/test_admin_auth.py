"""Admin endpoints need a valid JWT."""

from __future__ import annotations

import httpx

from app.core.admin_auth import issue_admin_token
from app.core.settings import Settings
from tests.conftest import RunningServer


async def test_admin_needs_a_valid_jwt(hub: RunningServer, http: httpx.AsyncClient) -> None:
    assert hub.settings is not None
    url = f"{hub.base_url}/admin/platforms"
    other = Settings(secret_key="another-key")
    for headers in (
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Token {issue_admin_token(hub.settings)}"},
        {"Authorization": f"Bearer {issue_admin_token(other)}"},
        {"Authorization": f"Bearer {issue_admin_token(hub.settings, ttl=-10)}"},
    ):
        response = await http.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers.get("www-authenticate") == "Bearer"
    good = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    assert (await http.get(url, headers=good)).status_code == 200


async def test_admin_bad_input_is_4xx(hub: RunningServer, http: httpx.AsyncClient) -> None:
    assert hub.settings is not None
    headers = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    base = f"{hub.base_url}/admin"
    assert (await http.post(f"{base}/invitations", json={}, headers=headers)).status_code == 422
    too_long = {"name": "n" * 300}
    assert (
        await http.post(f"{base}/invitations", json=too_long, headers=headers)
    ).status_code == 422
    bad_url = {"versions_url": "not a url", "token_a": "x"}
    assert (
        await http.post(f"{base}/platforms/connect", json=bad_url, headers=headers)
    ).status_code == 422
    assert (await http.get(f"{base}/platforms/999", headers=headers)).status_code == 404
    assert (await http.post(f"{base}/platforms/999/suspend", headers=headers)).status_code == 404
    raw = await http.post(
        f"{base}/invitations",
        content=b"{",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert raw.status_code == 400


def _sign(settings: Settings, claims: dict[str, object], **kwargs: object) -> str:
    """A JWT with exactly these claims, signed with the hub's admin secret (HS256 unless told)."""
    from jose import jwt

    algorithm = str(kwargs.get("algorithm", "HS256"))
    return str(jwt.encode(claims, settings.resolved_admin_jwt_secret, algorithm=algorithm))


def _signed_text(settings: Settings, payload: str) -> str:
    """An HS256 JWT whose claims are this JSON text (numbers no JSON encoder would write)."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(payload.encode())}"
    )
    key = settings.resolved_admin_jwt_secret.encode()
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _unsigned(claims: dict[str, object]) -> str:
    """``alg: none``: a header, the claims and an empty signature."""
    import base64
    import json

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_admin_jwt_needs_exp_and_aud_and_hs256(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    """python-jose skips exp and aud when the claim is absent: the hub requires them (14.8)."""
    import time

    settings = hub.settings
    assert settings is not None
    now = int(time.time())
    good = {"sub": "admin", "aud": "voltroam-admin", "iat": now, "exp": now + 600}
    tokens = {
        "no exp": _sign(settings, {k: v for k, v in good.items() if k != "exp"}),
        "no aud": _sign(settings, {k: v for k, v in good.items() if k != "aud"}),
        "no exp and no aud": _sign(settings, {"sub": "admin"}),
        "wrong aud": _sign(settings, {**good, "aud": "someone-else"}),
        "aud list without ours": _sign(settings, {**good, "aud": ["a", "b"]}),
        "expired": _sign(settings, {**good, "exp": now - 120}),
        "exp not a number": _sign(settings, {**good, "exp": "tomorrow"}),
        "iat not a number": _sign(settings, {**good, "iat": "yesterday"}),
        "iat in the future": _sign(settings, {**good, "iat": now + 3600}),
        "exp 1e400": _signed_text(settings, '{"aud": "voltroam-admin", "exp": 1e400}'),
        "iat 1e400": _signed_text(
            settings, f'{{"aud": "voltroam-admin", "exp": {now + 600}, "iat": 1e400}}'
        ),
        "exp NaN": _signed_text(settings, '{"aud": "voltroam-admin", "exp": NaN}'),
        "claims not an object": _signed_text(settings, "[1, 2]"),
        "alg none": _unsigned(good),
        "HS512": _sign(settings, good, algorithm="HS512"),
        "HS384": _sign(settings, good, algorithm="HS384"),
    }
    url = f"{hub.base_url}/admin/platforms"
    for case, token in tokens.items():
        response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (case, response.text)
        assert response.headers.get("www-authenticate") == "Bearer", case
    for case, claims in {
        "complete": good,
        "without iat": {k: v for k, v in good.items() if k != "iat"},
    }.items():
        response = await http.get(
            url, headers={"Authorization": f"Bearer {_sign(settings, claims)}"}
        )
        assert response.status_code == 200, (case, response.text)


async def test_admin_ids_beyond_the_database_are_422_not_500(
    hub: RunningServer, http: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """An id no row can have is bad input (issue 14.6), on SQLite and PostgreSQL alike."""
    base = f"{hub.base_url}/admin"
    huge = ["2147483648", "9223372036854775808", "99999999999999999999"]
    for value in huge:
        for method, path in (
            ("GET", f"/deliveries?platform_id={value}"),
            ("GET", f"/platforms/{value}"),
            ("POST", f"/platforms/{value}/sync"),
            ("POST", f"/platforms/{value}/suspend"),
            ("POST", f"/platforms/{value}/resume"),
            ("POST", f"/deliveries/{value}/retry"),
        ):
            response = await http.request(method, base + path, headers=admin_headers)
            assert response.status_code == 422, (method, path, response.text)
            assert isinstance(response.json()["detail"], str), response.text
    # The largest id the database holds is simply unknown.
    largest = await http.post(f"{base}/platforms/2147483647/sync", headers=admin_headers)
    assert largest.status_code == 404, largest.text
    listed = await http.get(f"{base}/deliveries?platform_id=2147483647", headers=admin_headers)
    assert listed.status_code == 200 and listed.json() == []
    body = {"charge_point_id": "CP-BIG", "connector": {"max_voltage": 2**31}}
    charger = await http.post(f"{base}/chargers", json=body, headers=admin_headers)
    assert charger.status_code == 422, charger.text
