"""A 2.1.1 CPO roams through the hub with a 2.2.1 and a 2.3.0 eMSP (issue 17)."""

from __future__ import annotations

from decimal import Decimal

import httpx

from tests.conftest import RunningServer, running_party, token_header
from tests.peers211 import Party211
from tests.peers230 import Party230
from tests.versions.network import (
    EMSP_ENDPOINTS,
    LOCATION_211,
    TARIFF_211,
    admin,
    cdr_211,
    emsp221,
    eventually,
    invite_as,
    session_211,
    token_221,
)


async def test_versions_list_all_three(hub: RunningServer, http: httpx.AsyncClient) -> None:
    token_a = await invite_as(http, hub, "Anyone")
    auth = token_header(token_a)
    versions = (await http.get(hub.versions_url, headers=auth)).json()["data"]
    assert {v["version"]: v["url"] for v in versions} == {
        "2.1.1": f"{hub.base_url}/ocpi/2.1.1",
        "2.2.1": f"{hub.base_url}/ocpi/2.2.1",
        "2.3.0": f"{hub.base_url}/ocpi/2.3.0",
    }
    v211 = (await http.get(f"{hub.base_url}/ocpi/2.1.1", headers=auth)).json()["data"]
    assert v211["version"] == "2.1.1"
    assert all("role" not in e for e in v211["endpoints"])
    assert {e["identifier"] for e in v211["endpoints"]} == {
        "credentials",
        "locations",
        "tariffs",
        "tokens",
        "sessions",
        "cdrs",
        "commands",
    }
    v230 = (await http.get(f"{hub.base_url}/ocpi/2.3.0", headers=auth)).json()["data"]
    assert v230["version"] == "2.3.0"
    assert all(e["url"].startswith(f"{hub.base_url}/ocpi/2.3.0/") for e in v230["endpoints"])
    assert ("hubclientinfo", "SENDER") in {(e["identifier"], e["role"]) for e in v230["endpoints"]}


async def test_a_2_1_1_cpo_roams_with_2_2_1_and_2_3_0_emsps(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with (
        running_party(emsp221("NL", "EMA")) as emsp,
        running_party(Party230(roles=[("EMSP", "DE", "EMC")], endpoints=EMSP_ENDPOINTS)) as emsp3,
        running_party(Party211("CPO", "BE", "BEC")) as cpo,
    ):
        assert (
            await emsp.register_with(http, hub.versions_url, await invite_as(http, hub, "E2"))
        ).json()["status_code"] == 1000
        registered = await emsp3.register_with(
            http, hub.versions_url, await invite_as(http, hub, "E3")
        )
        assert registered.json()["status_code"] == 1000, registered.text
        # 2.3.0 credentials: the hub named by hub_party_id, the parties it reaches as roles.
        creds3 = registered.json()["data"]
        assert creds3["hub_party_id"] == "NLVRH"
        assert ("EMSP", "NL", "EMA") in {
            (r["role"], r["country_code"], r["party_id"]) for r in creds3["roles"]
        }
        token_a = await invite_as(http, hub, "Old CPO", role="CPO")
        registered = await cpo.register_with(http, hub.versions_url, token_a)
        assert registered.json()["status_code"] == 1000, registered.text
        # 2.1.1 credentials: one party, the hub's, at the top level.
        creds = registered.json()["data"]
        assert (creds["country_code"], creds["party_id"]) == ("NL", "VRH") and "roles" not in creds
        platforms = (await admin(http, hub, "GET", "/admin/platforms")).json()
        versions = {p["name"]: p["version"] for p in platforms}
        assert versions["Old CPO"] == "2.1.1" and versions["E3"] == "2.3.0"
        assert versions["E2"] == "2.2.1"
        # The hub calls the 2.1.1 CPO back with the token as it is (no Base64).
        assert any(c.path == "/versions" for c in cpo.calls)

        # Both eMSPs push a token (a 2.1.1 CPO names it by auth_id only).
        put = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/receiver/tokens/NL/EMA/UID1",
            json=token_221("NL", "EMA", "UID1", "NL-EMA-C00000001"),
            headers=token_header(emsp.hub_token or ""),
        )
        assert put.json()["status_code"] == 1000, put.text
        put = await http.put(
            emsp3.hub_url("tokens", "RECEIVER", "DE/EMC/UID2"),
            json=token_221("DE", "EMC", "UID2", "DE-EMC-C00000002"),
            headers=emsp3.auth(),
        )
        assert put.json()["status_code"] == 1000, put.text
        # ... which reach the 2.1.1 CPO in 2.1.1 form (auth_id, no country_code/party_id).
        tokens = await eventually(
            lambda: len(cpo.received("tokens", "PUT")) == 2 and cpo.received("tokens", "PUT")
        )
        by_uid = {c.body["uid"]: c for c in tokens}
        assert by_uid["UID1"].path == "/2.1.1/tokens/NL/EMA/UID1"
        assert by_uid["UID1"].body["auth_id"] == "NL-EMA-C00000001"
        assert "country_code" not in by_uid["UID1"].body
        # No 2.2.1-only headers to a 2.1.1 partner, and the token as it is.
        headers = by_uid["UID2"].headers
        assert not any(
            h.startswith("ocpi-") or h in ("x-request-id", "x-correlation-id") for h in headers
        )
        assert headers["authorization"] == f"Token {by_uid['UID2'].token}"

        # The CPO's Location reaches both eMSPs, each in its version.
        put = await cpo.call(http, "PUT", "locations", "BE/BEC/LOC1", LOCATION_211)
        assert put.json()["status_code"] == 1000, put.text
        [loc2] = await eventually(lambda: emsp.pushes("locations"))
        assert loc2.path == "/2.2.1/locations/BE/BEC/LOC1"
        assert loc2.body["country_code"] == "BE" and loc2.body["party_id"] == "BEC"
        assert loc2.body["parking_type"] == "ON_STREET" and loc2.body["publish"] is True
        assert loc2.body["evses"][0]["connectors"][0]["tariff_ids"] == ["11"]
        assert loc2.headers["ocpi-from-party-id"] == "VRH"
        [loc3] = await eventually(lambda: emsp3.pushes("locations"))
        assert loc3.path == "/2.3.0/locations/BE/BEC/LOC1"
        assert loc3.body["evses"][0]["connectors"][0]["max_voltage"] == 220

        # The Tariff: prices excl. VAT keep their value in every version.
        put = await cpo.call(http, "PUT", "tariffs", "BE/BEC/11", TARIFF_211)
        assert put.json()["status_code"] == 1000, put.text
        [tariff2] = await eventually(lambda: emsp.pushes("tariffs"))
        prices = [c["price"] for e in tariff2.body["elements"] for c in e["price_components"]]
        assert [Decimal(str(p)) for p in prices] == [Decimal("0.2512"), Decimal("1.5")]
        [tariff3] = await eventually(lambda: emsp3.pushes("tariffs"))
        assert tariff3.body["tax_included"] == "NO"
        prices3 = [c["price"] for e in tariff3.body["elements"] for c in e["price_components"]]
        assert [Decimal(str(p)) for p in prices3] == [Decimal("0.2512"), Decimal("1.5")]

        # Sessions go to the token's eMSP only, found by the auth_id.
        put = await cpo.call(
            http, "PUT", "sessions", "BE/BEC/S1", session_211("S1", "NL-EMA-C00000001")
        )
        assert put.json()["status_code"] == 1000, put.text
        put = await cpo.call(
            http, "PUT", "sessions", "BE/BEC/S2", session_211("S2", "DE-EMC-C00000002")
        )
        assert put.json()["status_code"] == 1000, put.text
        [s1] = await eventually(lambda: emsp.pushes("sessions"))
        assert s1.path == "/2.2.1/sessions/BE/BEC/S1"
        assert s1.body["cdr_token"] == {
            "country_code": "NL",
            "party_id": "EMA",
            "uid": "UID1",
            "type": "RFID",
            "contract_id": "NL-EMA-C00000001",
        }
        assert (s1.body["location_id"], s1.body["evse_uid"], s1.body["connector_id"]) == (
            "LOC1",
            "3256",
            "1",
        )
        assert Decimal(str(s1.body["total_cost"]["excl_vat"])) == Decimal("2.87")
        assert "incl_vat" not in s1.body["total_cost"]
        [s2] = await eventually(lambda: emsp3.pushes("sessions"))
        assert s2.path == "/2.3.0/sessions/BE/BEC/S2"
        assert Decimal(str(s2.body["total_cost"]["before_taxes"])) == Decimal("2.87")

        # A CDR POST: to the token's eMSP, total_cost a number becomes excl. VAT.
        post = await cpo.call(http, "POST", "cdrs", body=cdr_211("CDR1", "DE-EMC-C00000002"))
        assert post.json()["status_code"] == 1000, post.text
        [cdr] = await eventually(lambda: emsp3.pushes("cdrs"))
        assert cdr.body["cdr_token"]["uid"] == "UID2"
        assert cdr.body["cdr_location"]["evse_id"] == "BE-BEC-E041503001"
        assert Decimal(str(cdr.body["total_cost"]["before_taxes"])) == Decimal("5.27")
        assert emsp.pushes("cdrs") == []

        # A Session naming a contract nobody pushed: the spec's 2002, nothing stored.
        unknown = await cpo.call(
            http, "PUT", "sessions", "BE/BEC/S3", session_211("S3", "XX-XXX-NOBODY")
        )
        assert unknown.status_code == 200 and unknown.json()["status_code"] == 2002

        # The 2.1.1 CPO reads back its Locations from the hub, in 2.1.1 form.
        got = (await cpo.call(http, "GET", "locations")).json()
        assert got["status_code"] == 1000, got
        [mine] = got["data"]
        assert mine["id"] == "LOC1" and mine["type"] == "ON_STREET" and "country_code" not in mine
        assert mine["evses"][0]["connectors"][0]["tariff_id"] == "11"


async def test_2_1_1_patches_of_a_session_and_a_tariff(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with (
        running_party(emsp221("NL", "EMA")) as emsp,
        running_party(Party211("CPO", "BE", "BEC")) as cpo,
    ):
        await emsp.register_with(http, hub.versions_url, await invite_as(http, hub, "E2"))
        await cpo.register_with(
            http, hub.versions_url, await invite_as(http, hub, "Old CPO", role="CPO")
        )
        put = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/receiver/tokens/NL/EMA/UID1",
            json=token_221("NL", "EMA", "UID1", "NL-EMA-C00000001"),
            headers=token_header(emsp.hub_token or ""),
        )
        assert put.json()["status_code"] == 1000, put.text
        session = session_211("S1", "NL-EMA-C00000001")
        session["charging_periods"] = [
            {
                "start_date_time": "2026-11-29T10:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 2}],
            }
        ]
        put = await cpo.call(http, "PUT", "sessions", "BE/BEC/S1", session)
        assert put.json()["status_code"] == 1000, put.text
        # mod_sessions.md (2.1.1): a PATCH replaces charging_periods; no last_updated needed.
        periods = [
            *session["charging_periods"],
            {
                "start_date_time": "2026-11-29T10:30:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 3}],
            },
        ]
        patch = await cpo.call(
            http, "PATCH", "sessions", "BE/BEC/S1", {"kwh": 5, "charging_periods": periods}
        )
        assert patch.json()["status_code"] == 1000, patch.text
        pushed = await eventually(
            lambda: len(emsp.pushes("sessions")) == 2 and emsp.pushes("sessions")
        )
        assert pushed[1].method == "PATCH"
        # 2.2.1 appends: only the new period goes on.
        assert [p["start_date_time"] for p in pushed[1].body["charging_periods"]] == [
            "2026-11-29T10:30:00Z"
        ]
        assert pushed[1].body["kwh"] == 5 and "last_updated" in pushed[1].body

        # mod_tariffs.md (2.1.1) has a Tariff PATCH; 2.2.1 has none: the hub stores and sends
        # the whole Tariff with the fields replaced.
        put = await cpo.call(http, "PUT", "tariffs", "BE/BEC/11", TARIFF_211)
        assert put.json()["status_code"] == 1000, put.text
        patch = await cpo.call(
            http,
            "PATCH",
            "tariffs",
            "BE/BEC/11",
            {
                "elements": [
                    {"price_components": [{"type": "ENERGY", "price": 0.31, "step_size": 1}]}
                ],
                "last_updated": "2026-11-29T12:00:00Z",
            },
        )
        assert patch.json()["status_code"] == 1000, patch.text
        tariffs = await eventually(
            lambda: len(emsp.pushes("tariffs")) == 2 and emsp.pushes("tariffs")
        )
        assert tariffs[1].method == "PUT" and tariffs[1].body["id"] == "11"
        assert tariffs[1].body["currency"] == "EUR" and tariffs[1].body["country_code"] == "BE"
        [component] = tariffs[1].body["elements"][0]["price_components"]
        assert Decimal(str(component["price"])) == Decimal("0.31")
