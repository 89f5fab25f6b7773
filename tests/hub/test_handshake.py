"""The credentials handshake in both directions, against real OCPI servers on 127.0.0.1."""

from __future__ import annotations

import httpx

from app.core.admin_auth import issue_admin_token
from tests.conftest import (
    RunningServer,
    free_port,
    invite,
    running_hub,
    running_party,
    token_header,
)
from tests.peers import FakeParty


async def platforms(http: httpx.AsyncClient, hub: RunningServer) -> list[dict]:
    assert hub.settings is not None
    headers = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    response = await http.get(f"{hub.base_url}/admin/platforms", headers=headers)
    assert response.status_code == 200
    return list(response.json())


async def test_party_initiated_registration(hub: RunningServer, http: httpx.AsyncClient) -> None:
    token_a = await invite(http, hub, "CPO A")
    async with running_party(
        FakeParty(roles=[("CPO", "nl", "cpa"), ("EMSP", "NL", "EMA")])
    ) as party:
        response = await party.register_with(http, hub.versions_url, token_a)
        body = response.json()
        assert response.status_code == 200, body
        assert body["status_code"] == 1000
        ours = body["data"]
        # "A Hub SHALL only report itself as role: Hub"
        assert [r["role"] for r in ours["roles"]] == ["HUB"]
        assert ours["url"] == hub.versions_url
        token_c = ours["token"]
        assert token_c != token_a and len(token_c) >= 43
        # The hub fetched our versions and details with the token B we gave it.
        fetched = [c for c in party.calls if c.path in ("/versions", "/2.2.1")]
        assert [c.path for c in fetched] == ["/versions", "/2.2.1"]
        token_b = party.registered_hub or body  # noqa: F841 - kept for readability
        assert all(c.token in party.accepted_tokens for c in fetched)

    # Token A is gone; token C works.
    again = await http.get(hub.versions_url, headers=token_header(token_a))
    assert again.status_code == 401
    ok = await http.get(hub.versions_url, headers=token_header(token_c))
    assert ok.status_code == 200
    assert [v["version"] for v in ok.json()["data"]] == ["2.1.1", "2.2.1", "2.3.0"]

    [platform] = await platforms(http, hub)
    assert platform["status"] == "CONNECTED" and platform["registered"] is True
    roles = {(r["role"], r["country_code"], r["party_id"]) for r in platform["roles"]}
    # CiStrings are stored normalised.
    assert roles == {("CPO", "NL", "CPA"), ("EMSP", "NL", "EMA")}

    # GET credentials returns the hub's credentials with the caller's own token.
    creds = await http.get(f"{hub.base_url}/ocpi/2.2.1/credentials", headers=token_header(token_c))
    assert creds.json()["data"]["token"] == token_c


async def test_hub_initiated_registration_with_a_second_voltroam(
    hub: RunningServer, http: httpx.AsyncClient, tmp_path
) -> None:
    async with running_hub(
        f"sqlite:///{tmp_path / 'peer.db'}", hub_country_code="DE", hub_party_id="PHB"
    ) as peer:
        token_a = await invite(http, peer, "Voltroam main hub")
        assert hub.settings is not None
        response = await http.post(
            f"{hub.base_url}/admin/platforms/connect",
            json={"versions_url": peer.versions_url, "token_a": token_a, "name": "Peer hub"},
            headers={"Authorization": f"Bearer {issue_admin_token(hub.settings)}"},
        )
        assert response.status_code == 201, response.text
        platform = response.json()
        assert platform["status"] == "CONNECTED"
        assert [(r["role"], r["country_code"], r["party_id"]) for r in platform["roles"]] == [
            ("HUB", "DE", "PHB")
        ]
        assert {e["identifier"] for e in platform["endpoints"]} >= {"credentials"}

        # The peer sees the hub, registered with role HUB, and token A is spent there.
        [seen] = await platforms(http, peer)
        assert seen["status"] == "CONNECTED"
        assert [(r["role"], r["country_code"], r["party_id"]) for r in seen["roles"]] == [
            ("HUB", "NL", "VRH")
        ]
        spent = await http.get(peer.versions_url, headers=token_header(token_a))
        assert spent.status_code == 401


async def test_put_rotates_token_and_refetches_endpoints(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    token_a = await invite(http, hub)
    async with running_party(FakeParty()) as party:
        await party.register_with(http, hub.versions_url, token_a)
        old_c = party.hub_token
        assert old_c
        party.trailing_slash = True
        calls_before = len(party.calls)
        new_b = "new-token-b-" + "x" * 20
        party.accepted_tokens.add(new_b)
        response = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/credentials",
            json=party.credentials(new_b),
            headers=token_header(old_c),
        )
        body = response.json()
        assert response.status_code == 200 and body["status_code"] == 1000, body
        new_c = body["data"]["token"]
        assert new_c != old_c
        refetch = [c for c in party.calls[calls_before:] if c.path in ("/versions", "/2.2.1")]
        assert [c.path for c in refetch] == ["/versions", "/2.2.1"]
        assert all(c.token == new_b for c in refetch)

    assert (await http.get(hub.versions_url, headers=token_header(old_c))).status_code == 401
    assert (await http.get(hub.versions_url, headers=token_header(new_c))).status_code == 200
    [platform] = await platforms(http, hub)
    assert all(e["url"].endswith("/") for e in platform["endpoints"])


async def test_delete_unregisters(hub: RunningServer, http: httpx.AsyncClient) -> None:
    token_a = await invite(http, hub)
    async with running_party(FakeParty()) as party:
        await party.register_with(http, hub.versions_url, token_a)
    token_c = party.hub_token
    assert token_c
    url = f"{hub.base_url}/ocpi/2.2.1/credentials"
    response = await http.delete(url, headers=token_header(token_c))
    assert response.status_code == 200 and response.json()["status_code"] == 1000
    assert (await http.get(url, headers=token_header(token_c))).status_code == 401
    [platform] = await platforms(http, hub)
    assert platform["registered"] is False and platform["status"] == "SUSPENDED"


async def test_unreachable_party_gets_3001(hub: RunningServer, http: httpx.AsyncClient) -> None:
    token_a = await invite(http, hub)
    closed = f"http://127.0.0.1:{free_port()}/versions"
    body = {
        "token": "token-b-for-an-unreachable-party",
        "url": closed,
        "roles": [
            {
                "role": "CPO",
                "country_code": "NL",
                "party_id": "UNR",
                "business_details": {"name": "U"},
            }
        ],
    }
    url = f"{hub.base_url}/ocpi/2.2.1/credentials"
    response = await http.post(url, json=body, headers=token_header(token_a))
    assert response.json()["status_code"] == 3001
    # Nothing was stored: token A still works, the platform is still only PLANNED.
    assert (await http.get(hub.versions_url, headers=token_header(token_a))).status_code == 200
    [platform] = await platforms(http, hub)
    assert platform["status"] == "PLANNED" and platform["roles"] == []


async def test_no_common_version_gets_3002(hub: RunningServer, http: httpx.AsyncClient) -> None:
    token_a = await invite(http, hub)
    async with running_party(FakeParty(versions=["2.1.1"])) as party:
        response = await party.register_with(http, hub.versions_url, token_a)
    assert response.json()["status_code"] == 3002
    assert "2.1.1" in response.json()["status_message"]


async def test_missing_credentials_endpoint_gets_3003(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    token_a = await invite(http, hub)
    async with running_party(FakeParty(with_credentials_endpoint=False)) as party:
        response = await party.register_with(http, hub.versions_url, token_a)
    assert response.json()["status_code"] == 3003


async def test_post_twice_is_405_and_put_before_post_is_405(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    token_a = await invite(http, hub)
    url = f"{hub.base_url}/ocpi/2.2.1/credentials"
    async with running_party(FakeParty()) as party:
        before_put = await http.put(
            url, json=party.credentials("b" * 40), headers=token_header(token_a)
        )
        assert before_put.status_code == 405
        before_delete = await http.delete(url, headers=token_header(token_a))
        assert before_delete.status_code == 405
        await party.register_with(http, hub.versions_url, token_a)
        token_c = party.hub_token
        assert token_c
        second = await http.post(
            url, json=party.credentials("b" * 40), headers=token_header(token_c)
        )
        assert second.status_code == 405
        # Reusing token A after registration: unknown token.
        reused = await http.post(
            url, json=party.credentials("b" * 40), headers=token_header(token_a)
        )
        assert reused.status_code == 401


async def test_bad_and_missing_tokens_are_401(hub: RunningServer, http: httpx.AsyncClient) -> None:
    url = f"{hub.base_url}/ocpi/2.2.1/credentials"
    for headers in (
        {},
        token_header("nope"),
        {"Authorization": "Bearer abc"},
        {"Authorization": "Token"},
    ):
        response = await http.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json()["status_code"] == 2000
        assert "timestamp" in response.json()


async def test_raw_unencoded_token_is_accepted(hub: RunningServer, http: httpx.AsyncClient) -> None:
    token_a = await invite(http, hub)
    response = await http.get(hub.versions_url, headers={"Authorization": f"Token {token_a}"})
    assert response.status_code == 200


async def test_role_claimed_by_another_platform_is_refused(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with running_party(FakeParty(roles=[("CPO", "NL", "DUP")])) as first:
        await first.register_with(http, hub.versions_url, await invite(http, hub, "first"))
        assert first.hub_token
    async with running_party(FakeParty(roles=[("CPO", "nl", "dup")])) as second:
        response = await second.register_with(
            http, hub.versions_url, await invite(http, hub, "second")
        )
    assert response.json()["status_code"] == 2001
    assert second.hub_token is None


async def test_hub_initiated_errors(hub: RunningServer, http: httpx.AsyncClient) -> None:
    assert hub.settings is not None
    headers = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    url = f"{hub.base_url}/admin/platforms/connect"

    closed = f"http://127.0.0.1:{free_port()}/versions"
    response = await http.post(url, json={"versions_url": closed, "token_a": "t"}, headers=headers)
    assert response.status_code == 422 and response.json()["ocpi_status_code"] == 3001

    async with running_party(FakeParty(versions=["2.1.1"], accepted_tokens={"a-token"})) as old:
        response = await http.post(
            url,
            json={"versions_url": f"{old.base_url}/versions", "token_a": "a-token"},
            headers=headers,
        )
    assert response.status_code == 422 and response.json()["ocpi_status_code"] == 3002

    async with running_party(FakeParty(accepted_tokens={"a-token"})) as party:
        wrong = await http.post(
            url,
            json={"versions_url": f"{party.base_url}/versions", "token_a": "wrong"},
            headers=headers,
        )
        assert wrong.status_code == 422 and wrong.json()["ocpi_status_code"] == 3001
        ok = await http.post(
            url,
            json={"versions_url": f"{party.base_url}/versions", "token_a": "a-token"},
            headers=headers,
        )
        assert ok.status_code == 201, ok.text
        # The hub told the party who it is, with a token B the party can use.
        assert party.registered_hub is not None
        assert party.registered_hub["roles"][0]["role"] == "HUB"
        token_b = party.registered_hub["token"]
    assert (await http.get(hub.versions_url, headers=token_header(token_b))).status_code == 200
    # Failed attempts left nothing behind.
    assert len(await platforms(http, hub)) == 1
