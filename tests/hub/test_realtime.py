"""Commands, real-time authorization and charging preferences through the hub."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from app.hub.relay.service import expire_due
from tests.conftest import running_hub, token_header
from tests.hub.network import (
    FAST,
    Network,
    location,
    network,
    session,
    token,
    wait_for,
)
from tests.peers import FakeParty

CPO_EXTRA = [("commands", "RECEIVER"), ("sessions", "SENDER")]
EMSP_EXTRA = [("tokens", "SENDER"), ("commands", "SENDER")]


def start_session(net: Network, response_url: str, location_id: str = "LOC1") -> dict[str, Any]:
    return {
        "response_url": response_url,
        "token": token(),
        "location_id": location_id,
        "evse_uid": "EVSE1",
    }


async def seed(net: Network) -> None:
    await net.http.put(
        net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
    )
    await net.http.put(
        net.url("receiver/sessions/NL/CPA/S1"), json=session(), headers=net.auth(net.cpo)
    )
    await net.http.put(
        net.url("receiver/tokens/NL/EM1/TOK1"), json=token(), headers=net.auth(net.emsp1)
    )


def relayed_url(cpo: FakeParty, command: str) -> str:
    [call] = [c for c in cpo.pushes("commands") if c.path.endswith(f"/commands/{command}")][-1:]
    return str(call.body["response_url"])


async def post_result(
    http: httpx.AsyncClient, cpo: FakeParty, url: str, result: str
) -> httpx.Response:
    assert cpo.hub_token
    return await http.post(url, json={"result": result}, headers=token_header(cpo.hub_token))


async def test_every_command_round_trip(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        await seed(net)
        net.cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 30}
        bodies = {
            "START_SESSION": start_session(net, ""),
            "STOP_SESSION": {"response_url": "", "session_id": "S1"},
            "RESERVE_NOW": {
                "response_url": "",
                "token": token(),
                "expiry_date": "2030-01-01T00:00:00Z",
                "reservation_id": "R1",
                "location_id": "LOC1",
            },
            "CANCEL_RESERVATION": {"response_url": "", "reservation_id": "R1"},
            "UNLOCK_CONNECTOR": {
                "response_url": "",
                "location_id": "LOC1",
                "evse_uid": "EVSE1",
                "connector_id": "1",
            },
        }
        for n, (command, body) in enumerate(bodies.items()):
            original = f"{net.emsp1.base_url}/2.2.1/commands/{command}/{n}"
            body = {**body, "response_url": original}
            response = await net.http.post(
                net.url(f"receiver/commands/{command}"), json=body, headers=net.auth(net.emsp1)
            )
            payload = response.json()
            assert payload["status_code"] == 1000, (command, payload)
            assert payload["data"] == {"result": "ACCEPTED", "timeout": 30}
            # The CPO got the hub's response_url, not the eMSP's.
            hub_url = relayed_url(net.cpo, command)
            assert hub_url.startswith(net.hub.base_url) and hub_url != original
            forwarded = [c for c in net.cpo.pushes("commands") if c.path.endswith(command)][-1]
            assert forwarded.headers["ocpi-from-party-id"] == "EM1"
            assert forwarded.headers["ocpi-to-party-id"] == "CPA"

            ack = await post_result(net.http, net.cpo, hub_url, "ACCEPTED")
            assert ack.json()["status_code"] == 1000
            await wait_for(
                lambda o=original: any(o.endswith(c.path) for c in net.emsp1.pushes("commands"))
            )
            [result] = [c for c in net.emsp1.pushes("commands") if original.endswith(c.path)]
            assert result.method == "POST" and result.body["result"] == "ACCEPTED"
            assert result.headers["ocpi-from-party-id"] == "CPA"

        # A reservation the CPO cancels later still reaches the eMSP at the same URL.
        reserve_url = relayed_url(net.cpo, "RESERVE_NOW")
        await post_result(net.http, net.cpo, reserve_url, "CANCELED_RESERVATION")
        await wait_for(
            lambda: any(
                c.body.get("result") == "CANCELED_RESERVATION" for c in net.emsp1.pushes("commands")
            )
        )


async def test_command_errors(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        await seed(net)
        url = net.url("receiver/commands/START_SESSION")
        response_url = f"{net.emsp1.base_url}/2.2.1/commands/x"
        # Unknown Location at the hub.
        body = start_session(net, response_url, "NOWHERE")
        response = await net.http.post(url, json=body, headers=net.auth(net.emsp1))
        assert response.json()["status_code"] == 2003
        # The CPO's own 2003 is passed through.
        net.cpo.refuse_with = 2003
        response = await net.http.post(
            url, json=start_session(net, response_url), headers=net.auth(net.emsp1)
        )
        assert response.json()["status_code"] == 2003
        net.cpo.refuse_with = None
        # Unknown receiver / not connected / timeout.
        headers = net.auth(net.emsp1, to_country_code="FR", to_party_id="ZZZ")
        response = await net.http.post(url, json=start_session(net, response_url), headers=headers)
        assert response.json()["status_code"] == 4001
        net.cpo.delay = 3.0
        response = await net.http.post(
            url, json=start_session(net, response_url), headers=net.auth(net.emsp1)
        )
        assert response.json()["status_code"] == 4002
        net.cpo.delay = 0
        # Invalid body and unknown command.
        response = await net.http.post(
            url, json={"location_id": "LOC1"}, headers=net.auth(net.emsp1)
        )
        assert response.json()["status_code"] == 2001
        response = await net.http.post(
            net.url("receiver/commands/SELF_DESTRUCT"), json={}, headers=net.auth(net.emsp1)
        )
        assert response.json()["status_code"] == 2001
        # STOP_SESSION of a Session the hub does not know.
        response = await net.http.post(
            net.url("receiver/commands/STOP_SESSION"),
            json={"response_url": response_url, "session_id": "NOPE"},
            headers=net.auth(net.emsp1),
        )
        assert response.json()["data"]["result"] == "UNKNOWN_SESSION"
        # Another party cannot post a result to a command it was not sent.
        net.cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 30}
        await net.http.post(url, json=start_session(net, response_url), headers=net.auth(net.emsp1))
        hub_url = relayed_url(net.cpo, "START_SESSION")
        stranger = await post_result(net.http, net.emsp2, hub_url, "ACCEPTED")
        assert stranger.status_code == 404


async def test_silent_cpo_yields_timeout(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        await seed(net)
        net.cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 0}
        original = f"{net.emsp1.base_url}/2.2.1/commands/START_SESSION/t1"
        response = await net.http.post(
            net.url("receiver/commands/START_SESSION"),
            json=start_session(net, original),
            headers=net.auth(net.emsp1),
        )
        assert response.json()["data"]["result"] == "ACCEPTED"
        # The hub allows the announced timeout plus a grace of 5 s, then answers TIMEOUT, once,
        # although a second instance on the same database looks for overdue commands too.
        async with running_hub(database_url, **FAST) as second:
            await asyncio.sleep(5.2)
            swept = await asyncio.gather(expire_due(net.ctx), expire_due(second.app.state.hub))
            assert sum(swept) <= 1
            await wait_for(
                lambda: any(c.body.get("result") == "TIMEOUT" for c in net.emsp1.pushes("commands"))
            )
            await asyncio.sleep(1.5)
        # A result after TIMEOUT is not forwarded.
        hub_url = relayed_url(net.cpo, "START_SESSION")
        late = await post_result(net.http, net.cpo, hub_url, "ACCEPTED")
        assert late.json()["status_code"] == 1000
        await asyncio.sleep(0.3)
        assert [c.body["result"] for c in net.emsp1.pushes("commands")] == ["TIMEOUT"]


async def test_result_after_hub_restart_reaches_emsp(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        await seed(net)
        net.cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 600}
        original = f"{net.emsp1.base_url}/2.2.1/commands/START_SESSION/r1"
        await net.http.post(
            net.url("receiver/commands/START_SESSION"),
            json=start_session(net, original),
            headers=net.auth(net.emsp1),
        )
        hub_url = relayed_url(net.cpo, "START_SESSION")
        path = hub_url.removeprefix(net.hub.base_url)
        # The hub goes down; another instance on the same database takes the result.
        await net.hub.app.state.background.stop()
        async with running_hub(database_url, **FAST) as second:
            ack = await post_result(net.http, net.cpo, second.base_url + path, "ACCEPTED")
            assert ack.json()["status_code"] == 1000
            await wait_for(
                lambda: any(original.endswith(c.path) for c in net.emsp1.pushes("commands"))
            )


async def test_authorization_routed_to_owner_with_whitelist_fallback(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        await seed(net)
        # eMSP 2 has its own token with the same uid: the stored owner decides where to go.
        await net.http.put(
            net.url("receiver/tokens/DE/EM2/TOK2"),
            json=token("TOK2", cc="DE", pid="EM2") | {"whitelist": "NEVER"},
            headers=net.auth(net.emsp2),
        )
        info = {"allowed": "ALLOWED", "token": token(), "authorization_reference": "AUTH1"}
        net.emsp1.answers["tokens"] = info
        net.emsp2.answers["tokens"] = {
            "allowed": "BLOCKED",
            "token": token("TOK2", cc="DE", pid="EM2"),
        }
        refs = {"location_id": "LOC1", "evse_uids": ["EVSE1"]}
        response = await net.http.post(
            net.url("sender/tokens/TOK1/authorize?type=RFID"), json=refs, headers=net.auth(net.cpo)
        )
        assert response.json()["status_code"] == 1000
        assert response.json()["data"] == info  # unchanged
        [asked] = [c for c in net.emsp1.calls if c.path.endswith("/TOK1/authorize")]
        assert asked.body == refs and asked.headers["ocpi-from-party-id"] == "CPA"
        assert not [c for c in net.emsp2.calls if "authorize" in c.path]
        response = await net.http.post(
            net.url("sender/tokens/TOK2/authorize"), headers=net.auth(net.cpo)
        )
        assert response.json()["data"]["allowed"] == "BLOCKED"

        # eMSP 1 goes quiet: its ALLOWED token is authorized from the whitelist, and says so.
        net.emsp1.delay = 3.0
        response = await net.http.post(
            net.url("sender/tokens/TOK1/authorize"), json=refs, headers=net.auth(net.cpo)
        )
        data = response.json()["data"]
        assert data["allowed"] == "ALLOWED" and "whitelist" in data["info"]["text"]
        assert data["location"] == refs
        # eMSP 2's NEVER token gets the routing error instead.
        net.emsp2.delay = 3.0
        response = await net.http.post(
            net.url("sender/tokens/TOK2/authorize"), headers=net.auth(net.cpo)
        )
        assert response.json()["status_code"] == 4002
        # Unknown token.
        response = await net.http.post(
            net.url("sender/tokens/NOPE/authorize"), headers=net.auth(net.cpo)
        )
        assert response.status_code == 404 and response.json()["status_code"] == 2004


async def test_charging_preferences_reach_the_sessions_cpo(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        await seed(net)
        net.cpo.answers["sessions"] = "ACCEPTED"
        prefs = {"profile_type": "FAST", "energy_need": 20}
        response = await net.http.put(
            net.url("sender/sessions/S1/charging_preferences"),
            json=prefs,
            headers=net.auth(net.emsp1),
        )
        assert response.json() | {"timestamp": None} == {
            "data": "ACCEPTED",
            "status_code": 1000,
            "timestamp": None,
        }
        [call] = [c for c in net.cpo.calls if c.path.endswith("/S1/charging_preferences")]
        assert call.method == "PUT" and call.body["profile_type"] == "FAST"
        response = await net.http.put(
            net.url("sender/sessions/NOPE/charging_preferences"),
            json=prefs,
            headers=net.auth(net.emsp1),
        )
        assert response.status_code == 404
