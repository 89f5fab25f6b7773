"""Admin endpoints need a valid JWT."""

from __future__ import annotations

import httpx

from app.admin.auth import issue_admin_token
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
