"""2.3.0 fields travel from a 2.3.0 sender to 2.3.0 receivers; 2.2.1 and 2.1.1 receivers get
the closest legal form (issue 17)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import RunningServer, running_party, token_header
from tests.peers import FakeParty
from tests.peers211 import Party211
from tests.peers230 import Party230
from tests.versions.network import (
    CPO_ENDPOINTS,
    EMSP_ENDPOINTS,
    T0,
    T1,
    T2,
    admin,
    emsp221,
    eventually,
    invite_as,
    token_221,
)

CONNECTOR_230 = {
    "id": "1",
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 32,
    "tariff_ids": ["T1"],
    "last_updated": T0,
}
# A 2.3.0 Location (mod_locations.asciidoc, 2.3.0) with Parking, a help phone, EVSE parking
# links, accepted service providers and an extension field ("Non-specified JSON fields").
LOCATION_230: dict[str, Any] = {
    "country_code": "DE",
    "party_id": "CPC",
    "id": "LOC9",
    "publish": True,
    "name": "Parkhaus Mitte",
    "address": "Hauptstrasse 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DEU",
    "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
    "parking_type": "PARKING_GARAGE",
    "evses": [
        {
            "uid": "E1",
            "evse_id": "DE*CPC*E1",
            "status": "AVAILABLE",
            "connectors": [CONNECTOR_230],
            "parking": [{"parking_id": "P1", "evse_position": "LEFT"}],
            "accepted_service_providers": ["NL*EMA", "DE*EMC"],
            "last_updated": T0,
        }
    ],
    "parking_places": [
        {
            "id": "P1",
            "physical_reference": "B1",
            "vehicle_types": ["PERSONAL_VEHICLE"],
            "reservation_required": False,
            "restricted_to_type": True,
        }
    ],
    "help_phone": "+49 30 1234567",
    "x_voltroam_test": {"kept": True},
    "time_zone": "Europe/Berlin",
    "last_updated": T0,
}


def cdr_230(cdr_id: str) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "CPC",
        "id": cdr_id,
        "start_date_time": T1,
        "end_date_time": T2,
        "cdr_token": {
            "country_code": "NL",
            "party_id": "EMA",
            "uid": "UID1",
            "type": "RFID",
            "contract_id": "NL-EMA-C00000001",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC9",
            "address": "Hauptstrasse 1",
            "city": "Berlin",
            "country": "DEU",
            "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
            "evse_uid": "E1",
            "evse_id": "DE*CPC*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {"start_date_time": T1, "dimensions": [{"type": "ENERGY", "volume": 10}]}
        ],
        "total_cost": {
            "before_taxes": 4.0,
            "taxes": [{"name": "MwSt", "percentage": 19, "amount": 0.76}],
        },
        "total_energy": 10,
        "total_time": 1,
        "last_updated": T2,
    }


async def test_2_3_0_fields_reach_2_3_0_receivers_and_the_closest_form_the_others(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with (
        running_party(emsp221("NL", "EMA")) as emsp2,
        running_party(Party230(roles=[("EMSP", "DE", "EMC")], endpoints=EMSP_ENDPOINTS)) as emsp3,
        running_party(Party211("EMSP", "BE", "EMB")) as emsp1,
        running_party(Party230(roles=[("CPO", "DE", "CPC")], endpoints=CPO_ENDPOINTS)) as cpo,
    ):
        for party, name, declared in (
            (emsp2, "E2", {}),
            (emsp3, "E3", {}),
            (emsp1, "E1", {"role": "EMSP"}),
            (cpo, "C3", {}),
        ):
            registered = await party.register_with(
                http, hub.versions_url, await invite_as(http, hub, name, **declared)
            )
            assert registered.json()["status_code"] == 1000, registered.text
        put = await http.put(
            cpo.hub_url("locations", "RECEIVER", "DE/CPC/LOC9"),
            json=LOCATION_230,
            headers=cpo.auth(),
        )
        assert put.json()["status_code"] == 1000, put.text

        [loc3] = await eventually(lambda: emsp3.pushes("locations"))
        [place] = loc3.body["parking_places"]
        assert {k: place[k] for k in LOCATION_230["parking_places"][0]} == (
            LOCATION_230["parking_places"][0]
        )
        assert loc3.body["help_phone"] == "+49 30 1234567"
        assert loc3.body["x_voltroam_test"] == {"kept": True}
        evse = loc3.body["evses"][0]
        assert evse["accepted_service_providers"] == ["NL*EMA", "DE*EMC"]
        assert evse["parking"] == [{"parking_id": "P1", "evse_position": "LEFT"}]

        [loc2] = await eventually(lambda: emsp2.pushes("locations"))
        for field in ("parking_places", "help_phone", "x_voltroam_test"):
            assert field not in loc2.body
        assert "parking" not in loc2.body["evses"][0]
        [loc1] = await eventually(lambda: emsp1.received("locations", "PUT"))
        assert loc1.body["type"] == "PARKING_GARAGE" and "help_phone" not in loc1.body

        # A 2.3.0 eMSP pulling from the hub gets the 2.3.0 fields too.
        got = (await http.get(emsp3.hub_url("locations", "SENDER"), headers=emsp3.auth())).json()
        assert got["status_code"] == 1000, got
        [pulled] = [loc for loc in got["data"] if loc["id"] == "LOC9"]
        assert pulled["help_phone"] == "+49 30 1234567" and pulled["parking_places"]

        # An EVSE PUT on its own keeps its 2.3.0 fields too, beside the Location's.
        evse2 = {
            **LOCATION_230["evses"][0],
            "uid": "E2",
            "evse_id": "DE*CPC*E2",
            "accepted_service_providers": ["DE*EMC"],
            "parking": [],
        }
        put = await http.put(
            cpo.hub_url("locations", "RECEIVER", "DE/CPC/LOC9/E2"), json=evse2, headers=cpo.auth()
        )
        assert put.json()["status_code"] == 1000, put.text
        [_, evse_push] = await eventually(
            lambda: len(emsp3.pushes("locations")) == 2 and emsp3.pushes("locations")
        )
        assert evse_push.path == "/2.3.0/locations/DE/CPC/LOC9/E2"
        assert evse_push.body["accepted_service_providers"] == ["DE*EMC"]
        got = (await http.get(emsp3.hub_url("locations", "SENDER"), headers=emsp3.auth())).json()
        [pulled] = [loc for loc in got["data"] if loc["id"] == "LOC9"]
        assert [e.get("accepted_service_providers") for e in pulled["evses"]] == [
            ["NL*EMA", "DE*EMC"],
            ["DE*EMC"],
        ]
        assert pulled["help_phone"] == "+49 30 1234567"

        # The same Location PUT whole in 2.2.1 form has none of them: they go for everybody.
        put = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/receiver/locations/DE/CPC/LOC9",
            json={**loc2.body, "name": "Parkhaus Mitte (2.2.1)"},
            headers=cpo.auth(),
        )
        assert put.json()["status_code"] == 1000, put.text
        [_, _, again] = await eventually(
            lambda: len(emsp3.pushes("locations")) == 3 and emsp3.pushes("locations")
        )
        assert again.body["name"] == "Parkhaus Mitte (2.2.1)"
        assert "help_phone" not in again.body and not again.body.get("parking_places")
        # Tax amounts: a 2.3.0 CDR to a 2.2.1 eMSP carries incl_vat (exact); its names stay
        # for 2.3.0 receivers.
        put = await http.put(
            f"{hub.base_url}/ocpi/2.2.1/receiver/tokens/NL/EMA/UID1",
            json=token_221("NL", "EMA", "UID1", "NL-EMA-C00000001"),
            headers=token_header(emsp2.hub_token or ""),
        )
        assert put.json()["status_code"] == 1000, put.text
        post = await http.post(
            cpo.hub_url("cdrs", "RECEIVER"), json=cdr_230("CDR9"), headers=cpo.auth()
        )
        assert post.json()["status_code"] == 1000, post.text
        [cdr] = await eventually(lambda: emsp2.pushes("cdrs"))
        assert Decimal(str(cdr.body["total_cost"]["excl_vat"])) == Decimal("4.0")
        assert Decimal(str(cdr.body["total_cost"]["incl_vat"])) == Decimal("4.76")


async def test_party_connect_to_a_2_3_0_cpo_pulls_its_2_3_0_fields(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with (
        running_party(Party230(roles=[("EMSP", "DE", "EMC")], endpoints=EMSP_ENDPOINTS)) as emsp3,
        running_party(Party230(roles=[("CPO", "DE", "CPC")], endpoints=CPO_ENDPOINTS)) as cpo,
        running_party(FakeParty()) as other,
    ):
        # (2.3.0 credentials list the parties reachable through the hub: one is there first.)
        await other.register_with(http, hub.versions_url, await invite_as(http, hub, "C2"))
        registered = await emsp3.register_with(
            http, hub.versions_url, await invite_as(http, hub, "E3")
        )
        assert registered.json()["status_code"] == 1000, registered.text
        cpo.versions = ["2.2.1", "2.3.0"]
        cpo.accepted_tokens.add("their-token-a")
        cpo.objects = {"locations": [LOCATION_230]}
        connected = await admin(
            http,
            hub,
            "POST",
            "/admin/platforms/connect",
            {"versions_url": f"{cpo.base_url}/versions", "token_a": "their-token-a"},
        )
        assert connected.status_code == 201, connected.text
        assert connected.json()["version"] == "2.3.0"  # the highest both speak
        # The hub's 2.3.0 credentials: hub_party_id, and the eMSP it reaches as a role.
        assert cpo.registered_hub is not None
        assert cpo.registered_hub["hub_party_id"] == "NLVRH"
        reachable = {(r["role"], r["party_id"]) for r in cpo.registered_hub["roles"]}
        assert reachable == {("CPO", "CPA"), ("EMSP", "EMC")}
        [loc] = await eventually(lambda: emsp3.pushes("locations"))
        assert loc.body["help_phone"] == "+49 30 1234567"
        assert loc.body["parking_places"][0]["id"] == "P1"
