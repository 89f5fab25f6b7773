"""ChargingProfiles through the hub: SCSP/eMSP -> hub -> CPO, the CPO's asynchronous results back
to the requester's own response_url, and the CPO's later ActiveChargingProfile updates."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import httpx

from tests.conftest import running_hub, token_header
from tests.hub.network import FAST, session, wait_for
from tests.hub.profiles_data import (
    ACCEPTED,
    ProfileParty,
    ProfilesNetwork,
    active_charging_profile,
    charging_profile,
    join,
    path_of,
    profile_parties,
    profiles_network,
    set_charging_profile,
)

RESULTS = "/ocpi/2.2.1/sender/chargingprofiles/results/"


async def with_session(
    net: ProfilesNetwork, session_id: str = "S1", owner: tuple[str, str] = ("NL", "EM1")
) -> None:
    """The CPO pushes a Session, so the hub knows whose it is."""
    response = await net.http.put(
        net.url(f"receiver/sessions/NL/CPA/{session_id}"),
        json=session(session_id, owner),
        headers=net.auth(net.cpo),
    )
    assert response.json()["status_code"] == 1000, response.text


def hub_result_url(net: ProfilesNetwork, url: str) -> str:
    assert url.startswith(net.hub.base_url + RESULTS), url
    return url


async def post_result(
    net: ProfilesNetwork, party: Any, url: str, body: dict[str, Any]
) -> httpx.Response:
    return await net.http.post(url, json=body, headers=net.auth(party))


def received(party: ProfileParty, method: str, path: str) -> list[Any]:
    return [c for c in party.calls if c.method == method and c.path == path]


async def test_set_charging_profile_round_trip(database_url: str) -> None:
    async with profiles_network(database_url) as net:
        await with_session(net)
        original = f"{net.emsp1.base_url}/2.2.1/chargingprofiles/results/put-1"
        response = await net.http.put(
            net.url("receiver/chargingprofiles/S1"),
            json=set_charging_profile(original),
            headers=net.auth(net.emsp1),
        )
        body = response.json()
        assert body["status_code"] == 1000, response.text
        # The CPO's ChargingProfileResponse comes back unchanged.
        assert body["data"] == ACCEPTED

        [call] = net.cpo.pushes("chargingprofiles", "PUT")
        assert call.path == "/2.2.1/chargingprofiles/S1"
        assert call.body["charging_profile"] == charging_profile()
        # The CPO got the hub's URL, never the eMSP's.
        hub_url = hub_result_url(net, call.body["response_url"])
        assert net.emsp1.base_url not in hub_url
        assert call.headers["ocpi-from-party-id"] == "EM1"
        assert call.headers["ocpi-to-party-id"] == "CPA"

        # Only the CPO the request went to may answer it.
        for other in (net.cpo2, net.emsp1, net.emsp2):
            refused = await post_result(net, other, hub_url, {"result": "ACCEPTED"})
            assert refused.status_code == 404, refused.text
        unknown = await post_result(net, net.cpo, hub_url + "x", {"result": "ACCEPTED"})
        assert unknown.status_code == 404

        # A result of the wrong shape is refused, and nothing is relayed.
        for bad in ({"result": "MAYBE"}, {}, {"profile": None}):
            refused = await post_result(net, net.cpo, hub_url, bad)
            assert refused.json()["status_code"] == 2001, (bad, refused.text)
        not_json_object = await net.http.post(hub_url, json=["ACCEPTED"], headers=net.auth(net.cpo))
        assert not_json_object.json()["status_code"] == 2001

        answered = await post_result(net, net.cpo, hub_url, {"result": "ACCEPTED"})
        assert answered.status_code == 200 and answered.json()["status_code"] == 1000
        await wait_for(lambda: len(net.emsp1.pushes("chargingprofiles", "POST")) == 1)
        [result] = net.emsp1.pushes("chargingprofiles", "POST")
        assert result.path == "/2.2.1/chargingprofiles/results/put-1"
        assert result.body == {"result": "ACCEPTED"}
        assert result.headers["ocpi-from-party-id"] == "CPA"
        assert result.headers["ocpi-to-party-id"] == "EM1"
        assert net.emsp2.pushes("chargingprofiles") == []

        # Another eMSP asking about the Session is answered as if there were none; the CPO's
        # later updates go to the party that set the profile.
        asked = await net.http.get(
            net.url("receiver/chargingprofiles/S1"),
            params={"duration": 900, "response_url": f"{net.emsp2.base_url}/2.2.1/x"},
            headers=net.auth(net.emsp2),
        )
        assert asked.json()["data"] == {"result": "UNKNOWN_SESSION", "timeout": 0}
        assert len([c for c in net.cpo.calls if "chargingprofiles" in c.path]) == 1
        update = active_charging_profile(minutes=5, limit=7.5)
        response = await net.http.put(
            net.url("sender/chargingprofiles/S1"), json=update, headers=net.auth(net.cpo)
        )
        assert response.json()["status_code"] == 1000, response.text
        assert response.headers["OCPI-to-party-id"] == "CPA"
        await wait_for(lambda: len(net.emsp1.pushes("chargingprofiles", "PUT")) == 1)
        [pushed] = net.emsp1.pushes("chargingprofiles", "PUT")
        assert pushed.path == "/2.2.1/chargingprofiles/S1"
        assert pushed.body == update
        assert pushed.headers["ocpi-from-party-id"] == "CPA"
        assert pushed.headers["ocpi-to-party-id"] == "EM1"
        assert net.emsp2.pushes("chargingprofiles", "PUT") == []


async def test_get_active_charging_profile_round_trip(database_url: str) -> None:
    async with profiles_network(database_url) as net:
        await with_session(net)
        original = f"{net.emsp1.base_url}/2.2.1/chargingprofiles/results?request_id=5678"
        response = await net.http.get(
            # The session id is a CiString: any case finds the Session.
            net.url("receiver/chargingprofiles/s1"),
            params={"duration": 900, "response_url": original},
            headers=net.auth(net.emsp1),
        )
        assert response.json() | {"timestamp": None} == {
            "status_code": 1000,
            "data": ACCEPTED,
            "timestamp": None,
        }
        query = net.cpo.query("GET", "/2.2.1/chargingprofiles/s1")
        assert query["duration"] == "900"
        hub_url = hub_result_url(net, query["response_url"])

        # A ChargingProfileResult is not what a GET is answered with.
        wrong = await post_result(net, net.cpo, hub_url, {"result": "ACCEPTED", "profile": 1})
        assert wrong.json()["status_code"] == 2001

        result = {"result": "ACCEPTED", "profile": active_charging_profile()}
        answered = await post_result(net, net.cpo, hub_url, result)
        assert answered.json()["status_code"] == 1000, answered.text
        await wait_for(lambda: len(net.emsp1.pushes("chargingprofiles", "POST")) == 1)
        [relayed] = net.emsp1.pushes("chargingprofiles", "POST")
        assert relayed.path == "/2.2.1/chargingprofiles/results"
        assert net.emsp1.query("POST", relayed.path) == {"request_id": "5678"}
        assert relayed.body == result


async def test_clear_charging_profile_round_trip(database_url: str) -> None:
    async with profiles_network(database_url) as net:
        await with_session(net)
        original = f"{net.emsp1.base_url}/2.2.1/chargingprofiles/clear/77"
        response = await net.http.delete(
            net.url("receiver/chargingprofiles/S1"),
            params={"response_url": original},
            headers=net.auth(net.emsp1),
        )
        assert response.json()["data"] == ACCEPTED, response.text
        [call] = net.cpo.pushes("chargingprofiles", "DELETE")
        assert call.path == "/2.2.1/chargingprofiles/S1"
        hub_url = hub_result_url(
            net, net.cpo.query("DELETE", "/2.2.1/chargingprofiles/S1")["response_url"]
        )
        answered = await post_result(net, net.cpo, hub_url, {"result": "UNKNOWN"})
        assert answered.json()["status_code"] == 1000
        await wait_for(lambda: len(net.emsp1.pushes("chargingprofiles", "POST")) == 1)
        [relayed] = net.emsp1.pushes("chargingprofiles", "POST")
        assert relayed.path == "/2.2.1/chargingprofiles/clear/77"
        assert relayed.body == {"result": "UNKNOWN"}


async def test_cpo_answer_is_relayed_as_is(database_url: str) -> None:
    async with profiles_network(database_url) as net:
        await with_session(net)
        net.cpo.answers["chargingprofiles"] = {"result": "TOO_OFTEN", "timeout": 0}
        response = await net.http.put(
            net.url("receiver/chargingprofiles/S1"),
            json=set_charging_profile(f"{net.emsp1.base_url}/2.2.1/r/1"),
            headers=net.auth(net.emsp1),
        )
        assert response.json()["data"] == {"result": "TOO_OFTEN", "timeout": 0}
        # A CPO error status goes back unchanged too.
        net.cpo.refuse_with = 2001
        response = await net.http.put(
            net.url("receiver/chargingprofiles/S1"),
            json=set_charging_profile(f"{net.emsp1.base_url}/2.2.1/r/2"),
            headers=net.auth(net.emsp1),
        )
        assert response.json()["status_code"] == 2001


async def test_routing_and_bad_input(database_url: str) -> None:
    async with profiles_network(database_url) as net:
        await with_session(net)
        url = f"{net.emsp1.base_url}/2.2.1/r/1"
        # A receiver the hub does not know: 4001.
        response = await net.http.put(
            net.url("receiver/chargingprofiles/S1"),
            json=set_charging_profile(url),
            headers=net.auth(net.emsp1, to_country_code="XX", to_party_id="NOP"),
        )
        assert response.json()["status_code"] == 4001, response.text
        # A Session the hub does not know: UNKNOWN_SESSION, answered by the hub.
        response = await net.http.delete(
            net.url("receiver/chargingprofiles/NOPE"),
            params={"response_url": url},
            headers=net.auth(net.emsp1),
        )
        assert response.json()["data"] == {"result": "UNKNOWN_SESSION", "timeout": 0}
        assert response.headers["OCPI-from-party-id"] == "VRH"
        # Named in the OCPI-to headers, the CPO is not asked about a Session the hub does not
        # know to be the eMSP's (the hub's answer must not tell another's Session from none).
        response = await net.http.put(
            net.url("receiver/chargingprofiles/ELSEWHERE"),
            json=set_charging_profile(url),
            headers=net.auth(net.emsp1, to_country_code="BE", to_party_id="CPB"),
        )
        assert response.json()["data"] == {"result": "UNKNOWN_SESSION", "timeout": 0}
        assert net.cpo2.pushes("chargingprofiles", "PUT") == []

        bad_puts = [
            {"response_url": url},
            {"charging_profile": charging_profile()},
            set_charging_profile(url, limit=8.25),  # at most one digit fraction
            {**set_charging_profile(url), "charging_profile": {"charging_rate_unit": "kW"}},
        ]
        for body in bad_puts:
            response = await net.http.put(
                net.url("receiver/chargingprofiles/S1"), json=body, headers=net.auth(net.emsp1)
            )
            assert response.json()["status_code"] == 2001, (body, response.text)
        for params in (
            {"response_url": url},
            {"duration": 60},
            {"duration": -1, "response_url": url},
        ):
            response = await net.http.get(
                net.url("receiver/chargingprofiles/S1"), params=params, headers=net.auth(net.emsp1)
            )
            assert response.json()["status_code"] == 2001, (params, response.text)
        response = await net.http.delete(
            net.url("receiver/chargingprofiles/S1"), headers=net.auth(net.emsp1)
        )
        assert response.json()["status_code"] == 2001
        # None of it reached the CPO.
        assert net.cpo.pushes("chargingprofiles") == []
        assert not [c for c in net.cpo.calls if "chargingprofiles" in c.path]

        # ActiveChargingProfile updates: a valid body, from the Session's own CPO.
        response = await net.http.put(
            net.url("sender/chargingprofiles/S1"),
            json={"charging_profile": charging_profile()},
            headers=net.auth(net.cpo),
        )
        assert response.json()["status_code"] == 2001
        response = await net.http.put(
            net.url("sender/chargingprofiles/S1"),
            json=active_charging_profile(),
            headers=net.auth(net.cpo2),
        )
        assert response.json()["status_code"] == 2001
        assert "not a Session of your platform" in response.json()["status_message"]
        # Nobody asked and the hub has no such Session: nowhere to send it.
        response = await net.http.put(
            net.url("sender/chargingprofiles/UNKNOWN"),
            json=active_charging_profile(),
            headers=net.auth(net.cpo),
        )
        assert response.json()["status_code"] == 2001


async def test_update_without_request_goes_to_the_token_owner(database_url: str) -> None:
    async with profiles_network(database_url) as net:
        await with_session(net, "S2", owner=("DE", "EM2"))
        update = active_charging_profile()
        response = await net.http.put(
            net.url("sender/chargingprofiles/S2"), json=update, headers=net.auth(net.cpo)
        )
        assert response.json()["status_code"] == 1000, response.text
        await wait_for(lambda: len(net.emsp2.pushes("chargingprofiles", "PUT")) == 1)
        assert net.emsp2.pushes("chargingprofiles", "PUT")[0].body == update
        assert net.emsp1.pushes("chargingprofiles") == []


async def test_result_after_hub_restart_reaches_the_requester(database_url: str) -> None:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        parties = await stack.enter_async_context(profile_parties())
        original = f"{parties.emsp1.base_url}/2.2.1/chargingprofiles/results/after-restart"
        async with running_hub(database_url, **FAST) as hub:
            await join(http, hub, parties)
            pushed = await http.put(
                f"{hub.base_url}/ocpi/2.2.1/receiver/sessions/NL/CPA/S9",
                json=session("S9"),
                headers=token_header(parties.cpo.hub_token or ""),
            )
            assert pushed.json()["status_code"] == 1000, pushed.text
            response = await http.put(
                f"{hub.base_url}/ocpi/2.2.1/receiver/chargingprofiles/S9",
                json=set_charging_profile(original),
                headers={
                    **token_header(parties.emsp1.hub_token or ""),
                    "OCPI-to-country-code": "NL",
                    "OCPI-to-party-id": "CPA",
                },
            )
            assert response.json()["data"] == ACCEPTED, response.text
            [call] = parties.cpo.pushes("chargingprofiles", "PUT")
            hub_url = call.body["response_url"]
        # A new hub process on the same database (another port, so another host in the URL).
        async with running_hub(database_url, **FAST) as restarted:
            assert restarted.base_url != hub.base_url
            response = await http.post(
                restarted.base_url + path_of(hub_url),
                json={"result": "REJECTED"},
                headers=token_header(parties.cpo.hub_token or ""),
            )
            assert response.json()["status_code"] == 1000, response.text
            await wait_for(lambda: len(parties.emsp1.pushes("chargingprofiles", "POST")) == 1)
            [relayed] = parties.emsp1.pushes("chargingprofiles", "POST")
            assert relayed.path == "/2.2.1/chargingprofiles/results/after-restart"
            assert relayed.body == {"result": "REJECTED"}
