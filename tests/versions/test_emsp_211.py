"""A 2.1.1 eMSP roams through the hub with a 2.2.1 CPO (issue 17)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import RunningServer, running_party, token_header
from tests.peers import FakeParty
from tests.peers211 import Party211
from tests.versions.network import CPO_ENDPOINTS, T0, T1, T2, eventually, invite_as

LOCATION_221: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "CPA",
    "id": "LOC2",
    "publish": True,
    "address": "Stationsplein 2",
    "city": "Utrecht",
    "country": "NLD",
    "coordinates": {"latitude": "52.090000", "longitude": "5.110000"},
    "evses": [
        {
            "uid": "E2",
            "evse_id": "NL*CPA*E2",
            "status": "AVAILABLE",
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "max_voltage": 230,
                    "max_amperage": 16,
                    "last_updated": T0,
                }
            ],
            "last_updated": T0,
        }
    ],
    "time_zone": "Europe/Amsterdam",
    "last_updated": T0,
}
CDR_TOKEN = {
    "country_code": "BE",
    "party_id": "EMB",
    "uid": "0123",
    "type": "RFID",
    "contract_id": "BE-EMB-C0123",
}
SESSION_221: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "CPA",
    "id": "S21",
    "start_date_time": T1,
    "kwh": 0,
    "cdr_token": CDR_TOKEN,
    "auth_method": "COMMAND",
    "location_id": "LOC2",
    "evse_uid": "E2",
    "connector_id": "1",
    "currency": "EUR",
    "status": "ACTIVE",
    "last_updated": T1,
}


async def test_a_2_1_1_emsp_starts_a_session_at_a_2_2_1_cpo_and_gets_session_and_cdr(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with (
        running_party(Party211("EMSP", "BE", "EMB")) as emsp,
        running_party(FakeParty(endpoints=list(CPO_ENDPOINTS))) as cpo,
    ):
        registered = await emsp.register_with(
            http, hub.versions_url, await invite_as(http, hub, "Old eMSP", role="EMSP")
        )
        assert registered.json()["status_code"] == 1000, registered.text
        await cpo.register_with(http, hub.versions_url, await invite_as(http, hub, "C"))
        cpo_auth = token_header(cpo.hub_token or "")
        put = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/receiver/locations/NL/CPA/LOC2",
            json=LOCATION_221,
            headers=cpo_auth,
        )
        assert put.json()["status_code"] == 1000, put.text
        token_211 = {
            "uid": "0123",
            "type": "RFID",
            "auth_id": "BE-EMB-C0123",
            "issuer": "EMB",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": T0,
        }
        put = await emsp.call(http, "PUT", "tokens", "BE/EMB/0123", token_211)
        assert put.json()["status_code"] == 1000, put.text

        # mod_commands.md (2.1.1): StartSession {response_url, token, location_id, evse_uid}.
        cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 30}
        answer = await emsp.call(
            http,
            "POST",
            "commands",
            "START_SESSION",
            {
                "response_url": f"{emsp.base_url}/2.1.1/commands/START_SESSION/r1",
                "token": token_211,
                "location_id": "LOC2",
                "evse_uid": "E2",
            },
        )
        body = answer.json()
        assert body["status_code"] == 1000, body
        assert body["data"] == {"result": "ACCEPTED"}  # 2.1.1: no timeout
        [call] = [c for c in cpo.pushes("commands")]
        assert (
            call.body["token"]["country_code"] == "BE" and call.body["token"]["party_id"] == "EMB"
        )
        assert call.body["token"]["contract_id"] == "BE-EMB-C0123"
        result = await http.post(
            call.body["response_url"], json={"result": "ACCEPTED"}, headers=cpo_auth
        )
        assert result.json()["status_code"] == 1000, result.text
        [back] = await eventually(lambda: emsp.received("commands", "POST"))
        assert back.path == "/2.1.1/commands/START_SESSION/r1"
        assert back.body == {"result": "ACCEPTED"}
        assert "ocpi-from-party-id" not in back.headers

        # The CPO's Session and its PATCH reach the 2.1.1 eMSP as whole 2.1.1 Sessions.
        put = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/receiver/sessions/NL/CPA/S21",
            json=SESSION_221,
            headers=cpo_auth,
        )
        assert put.json()["status_code"] == 1000, put.text
        patch = await http.patch(
            f"{hub.base_url}/ocpi/2.2.1/receiver/sessions/NL/CPA/S21",
            json={
                "kwh": 3.25,
                "total_cost": {"excl_vat": 1.3, "incl_vat": 1.57},
                "last_updated": T2,
            },
            headers=cpo_auth,
        )
        assert patch.json()["status_code"] == 1000, patch.text
        sessions = await eventually(
            lambda: len(emsp.received("sessions", "PUT")) == 2 and emsp.received("sessions", "PUT")
        )
        first, second = sessions
        assert first.path == "/2.1.1/sessions/NL/CPA/S21"
        assert (
            first.body["auth_id"] == "BE-EMB-C0123" and first.body["auth_method"] == "AUTH_REQUEST"
        )
        assert (
            first.body["location"]["id"] == "LOC2"
            and first.body["location"]["evses"][0]["uid"] == "E2"
        )
        assert second.body["kwh"] == 3.25 and Decimal(str(second.body["total_cost"])) == Decimal(
            "1.3"
        )

        # The 2.1.1 eMSP pulls its Sessions from the hub in 2.1.1 form.
        got = (await emsp.call(http, "GET", "sessions")).json()
        assert got["status_code"] == 1000, got
        assert [(s["id"], s["auth_id"], s["location"]["id"]) for s in got["data"]] == [
            ("S21", "BE-EMB-C0123", "LOC2")
        ]
