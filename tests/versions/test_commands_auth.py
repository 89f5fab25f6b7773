"""Commands and real-time authorization across versions (issue 17)."""

from __future__ import annotations

import httpx

from tests.conftest import RunningServer, running_party, token_header
from tests.peers211 import Party211
from tests.peers230 import Party230
from tests.versions.network import (
    CPO_ENDPOINTS,
    LOCATION_211,
    T0,
    emsp221,
    eventually,
    invite_as,
    session_211,
    token_221,
)


async def test_start_session_of_a_2_2_1_emsp_reaches_a_2_1_1_cpo_and_its_result_comes_back(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with (
        running_party(emsp221("NL", "EMA")) as emsp,
        running_party(Party211("CPO", "BE", "BEC")) as cpo,
    ):
        await emsp.register_with(http, hub.versions_url, await invite_as(http, hub, "E2"))
        registered = await cpo.register_with(
            http, hub.versions_url, await invite_as(http, hub, "Old CPO", role="CPO")
        )
        assert registered.json()["status_code"] == 1000, registered.text
        put = await cpo.call(http, "PUT", "locations", "BE/BEC/LOC1", LOCATION_211)
        assert put.json()["status_code"] == 1000, put.text
        # mod_commands.md: the CPO answers with a CommandResponse {result} (no timeout).
        cpo.answers["commands"] = {"result": "ACCEPTED"}
        token = token_221("NL", "EMA", "UID1", "NL-EMA-C00000001")
        start = {
            "response_url": f"{emsp.base_url}/2.2.1/commands/START_SESSION/cb-1",
            "token": token,
            "location_id": "LOC1",
            "evse_uid": "3256",
            "connector_id": "1",
        }
        # No OCPI-to headers: the hub finds the CPO by the Location.
        answer = await http.post(
            f"{hub.base_url}/ocpi/2.2.1/receiver/commands/START_SESSION",
            json=start,
            headers=token_header(emsp.hub_token or ""),
        )
        body = answer.json()
        assert body["status_code"] == 1000, body
        # 2.2.1 needs a timeout: the hub states how long it waits for the 2.1.1 CPO.
        assert body["data"]["result"] == "ACCEPTED" and body["data"]["timeout"] > 0
        [call] = cpo.received("commands", "POST")
        assert call.path == "/2.1.1/commands/START_SESSION"
        assert set(call.body) == {"response_url", "token", "location_id", "evse_uid"}
        assert call.body["token"]["auth_id"] == "NL-EMA-C00000001"
        assert "country_code" not in call.body["token"]
        assert not any(h.startswith("ocpi-") for h in call.headers)
        response_url = call.body["response_url"]
        assert response_url.startswith(f"{hub.base_url}/ocpi/2.1.1/commands/")

        # The CPO POSTs its result (a 2.1.1 CommandResponse) to the hub's response_url.
        result = await http.post(
            response_url,
            json={"result": "ACCEPTED"},
            headers={"Authorization": f"Token {cpo.hub_token}"},
        )
        assert result.json()["status_code"] == 1000, result.text
        [back] = await eventually(lambda: emsp.pushes("commands"))
        assert back.path == "/2.2.1/commands/START_SESSION/cb-1"
        assert back.body["result"] == "ACCEPTED"

        # A command 2.1.1 does not have: NOT_SUPPORTED, as a CPO without it answers.
        cancel = await http.post(
            f"{hub.base_url}/ocpi/2.2.1/receiver/commands/CANCEL_RESERVATION",
            json={"response_url": f"{emsp.base_url}/2.2.1/commands/cb-3", "reservation_id": "R1"},
            headers={
                **token_header(emsp.hub_token or ""),
                "OCPI-to-country-code": "BE",
                "OCPI-to-party-id": "BEC",
            },
        )
        assert cancel.json()["status_code"] == 1000, cancel.text
        assert cancel.json()["data"]["result"] == "NOT_SUPPORTED"
        assert [c.path for c in cpo.received("commands")] == ["/2.1.1/commands/START_SESSION"]

        # What 2.1.1 does not have: ChargingProfiles and charging preferences for its Sessions
        # get the spec's error, and nothing reaches the CPO.
        put = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/receiver/tokens/NL/EMA/UID1",
            json=token,
            headers=token_header(emsp.hub_token or ""),
        )
        assert put.json()["status_code"] == 1000, put.text
        put = await cpo.call(
            http, "PUT", "sessions", "BE/BEC/S1", session_211("S1", "NL-EMA-C00000001")
        )
        assert put.json()["status_code"] == 1000, put.text
        emsp_auth = token_header(emsp.hub_token or "")
        profile = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/receiver/chargingprofiles/S1",
            json={
                "charging_profile": {
                    "charging_rate_unit": "W",
                    "charging_profile_period": [{"start_period": 0, "limit": 11000}],
                },
                "response_url": f"{emsp.base_url}/2.2.1/chargingprofiles/cb-2",
            },
            headers=emsp_auth,
        )
        assert profile.status_code < 500
        assert profile.json()["status_code"] not in (1000, 3000), profile.text
        preferences = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/sender/sessions/S1/charging_preferences",
            json={"profile_type": "FAST", "energy_need": 20},
            headers=emsp_auth,
        )
        assert preferences.status_code < 500
        assert preferences.json()["status_code"] == 2001, preferences.text
        assert [c.path for c in cpo.calls if "charging" in c.path] == []
        # ... and 2.1.1 partners find no HubClientInfo at the hub.
        missing = await cpo.call_url(http, "GET", f"{hub.base_url}/ocpi/2.1.1/hubclientinfo")
        assert missing.status_code == 404 and missing.json()["status_code"] == 2000


async def test_a_2_1_1_emsp_token_is_authorized_at_a_2_3_0_cpo(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with (
        running_party(Party211("EMSP", "NL", "EMB")) as emsp,
        running_party(Party230(roles=[("CPO", "DE", "CPC")], endpoints=CPO_ENDPOINTS)) as cpo,
    ):
        registered = await emsp.register_with(
            http, hub.versions_url, await invite_as(http, hub, "Old eMSP", role="EMSP")
        )
        assert registered.json()["status_code"] == 1000, registered.text
        registered = await cpo.register_with(
            http, hub.versions_url, await invite_as(http, hub, "C3")
        )
        assert registered.json()["status_code"] == 1000, registered.text
        # mod_tokens.md (2.1.1): a Token has auth_id, no country_code/party_id.
        token = {
            "uid": "012345678",
            "type": "RFID",
            "auth_id": "NL-EMB-C12345678",
            "issuer": "EMB mobility",
            "valid": True,
            "whitelist": "NEVER",
            "last_updated": T0,
        }
        put = await emsp.call(http, "PUT", "tokens", "NL/EMB/012345678", token)
        assert put.json()["status_code"] == 1000, put.text
        [pushed] = await eventually(lambda: cpo.pushes("tokens"))
        assert pushed.path == "/2.3.0/tokens/NL/EMB/012345678"
        assert pushed.body["contract_id"] == "NL-EMB-C12345678"
        assert pushed.body["country_code"] == "NL"

        # The 2.3.0 CPO asks in real time; the 2.1.1 eMSP answers in 2.1.1.
        emsp.answers["tokens"] = {
            "allowed": "ALLOWED",
            "location": {"location_id": "L1", "evse_uids": ["E1"], "connector_ids": ["1"]},
        }
        asked = await http.post(
            cpo.hub_url("tokens", "SENDER", "012345678/authorize"),
            json={"location_id": "L1", "evse_uids": ["E1"]},
            headers=cpo.auth(),
        )
        body = asked.json()
        assert body["status_code"] == 1000, body
        assert body["data"]["allowed"] == "ALLOWED"
        # 2.3.0 AuthorizationInfo carries the Token (the hub's stored one).
        assert body["data"]["token"]["uid"] == "012345678"
        assert body["data"]["token"]["contract_id"] == "NL-EMB-C12345678"
        [call] = emsp.received("tokens", "POST")
        assert call.path == "/2.1.1/tokens/012345678/authorize"
        assert call.body == {"location_id": "L1", "evse_uids": ["E1"], "connector_ids": []}
        assert not any(h.startswith("ocpi-") for h in call.headers)
