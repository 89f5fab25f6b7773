"""The hub's own CPO seen in every version; a version upgrade by credentials PUT; party connect
to a 2.1.1 CPO (issue 17)."""

from __future__ import annotations

import secrets
from decimal import Decimal

import httpx

from tests.conftest import RunningServer, running_party, token_header
from tests.peers import FakeParty
from tests.peers211 import Party211, auth_211
from tests.peers230 import Party230
from tests.versions.network import (
    EMSP_ENDPOINTS,
    LOCATION_211,
    TARIFF_211,
    admin,
    emsp221,
    eventually,
    invite_as,
)

OWN_TARIFF = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.30, "step_size": 1},
                {"type": "FLAT", "price": 1.00, "step_size": 1},
            ]
        }
    ],
}
OWN_LOCATION = {
    "name": "Depot",
    "address": "Stationsplein 1",
    "city": "Amsterdam",
    "country": "NLD",
    "coordinates": {"latitude": "52.378900", "longitude": "4.900000"},
    "time_zone": "Europe/Amsterdam",
    "tariff_ids": ["T1"],
}


def _prices(tariff: dict) -> list[Decimal]:
    return [Decimal(str(c["price"])) for e in tariff["elements"] for c in e["price_components"]]


async def test_the_own_cpo_is_seen_by_partners_of_all_three_versions(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with (
        running_party(emsp221("NL", "EMA")) as emsp2,
        running_party(Party230(roles=[("EMSP", "DE", "EMC")], endpoints=EMSP_ENDPOINTS)) as emsp3,
        running_party(Party211("EMSP", "BE", "EMB")) as emsp1,
    ):
        for party, name, declared in (
            (emsp2, "E2", {}),
            (emsp3, "E3", {}),
            (emsp1, "E1", {"role": "EMSP"}),
        ):
            token_a = await invite_as(http, hub, name, **declared)
            registered = await party.register_with(http, hub.versions_url, token_a)
            assert registered.json()["status_code"] == 1000, registered.text
        put = await admin(http, hub, "PUT", "/admin/own-cpo/tariffs/T1", OWN_TARIFF)
        assert put.status_code == 200, put.text
        put = await admin(http, hub, "PUT", "/admin/own-cpo/locations/LOC1", OWN_LOCATION)
        assert put.status_code == 200, put.text

        [loc2] = await eventually(lambda: emsp2.pushes("locations"))
        assert loc2.path == "/2.2.1/locations/NL/VRC/LOC1" and loc2.body["country_code"] == "NL"
        [loc3] = await eventually(lambda: emsp3.pushes("locations"))
        assert loc3.path == "/2.3.0/locations/NL/VRC/LOC1" and loc3.body["party_id"] == "VRC"
        [loc1] = await eventually(lambda: emsp1.received("locations", "PUT"))
        assert loc1.path == "/2.1.1/locations/NL/VRC/LOC1"
        assert "country_code" not in loc1.body and loc1.body["type"] == "UNKNOWN"
        assert loc1.body["postal_code"] == ""  # required in 2.1.1; the hub's Location has none

        # Money keeps its value in every version (2.1.1 and 2.2.1 prices excl. VAT).
        [t2] = await eventually(lambda: emsp2.pushes("tariffs"))
        [t3] = await eventually(lambda: emsp3.pushes("tariffs"))
        [t1] = await eventually(lambda: emsp1.received("tariffs", "PUT"))
        assert _prices(t2.body) == _prices(t3.body) == _prices(t1.body)
        assert _prices(t1.body) == [Decimal("0.30"), Decimal("1.00")]
        assert t3.body["tax_included"] == "NO" and "type" not in t1.body

        # The 2.1.1 eMSP pulls the Locations from the hub, in 2.1.1 form.
        got = (await emsp1.call(http, "GET", "locations")).json()
        assert got["status_code"] == 1000, got
        assert [(loc["id"], "country_code" in loc) for loc in got["data"]] == [("LOC1", False)]


async def test_a_2_2_1_party_upgrades_to_2_3_0_by_a_credentials_put(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with running_party(emsp221("NL", "EMA")) as emsp, running_party(FakeParty()) as cpo:
        # (2.3.0 credentials list the parties reachable through the hub: a CPO is there.)
        await cpo.register_with(http, hub.versions_url, await invite_as(http, hub, "C"))
        emsp.versions = ["2.2.1"]
        await emsp.register_with(http, hub.versions_url, await invite_as(http, hub, "E"))
        [platform] = [
            p
            for p in (await admin(http, hub, "GET", "/admin/platforms")).json()
            if p["name"] == "E"
        ]
        assert platform["version"] == "2.2.1"
        # The party now speaks 2.3.0 too and moves to it: credentials PUT to the 2.3.0 URL.
        emsp.versions = ["2.2.1", "2.3.0"]
        new_b = secrets.token_urlsafe(32)
        emsp.accepted_tokens.add(new_b)
        response = await http.put(
            f"{hub.base_url}/ocpi/2.3.0/credentials",
            json=emsp.credentials(new_b),
            headers=token_header(emsp.hub_token or ""),
        )
        body = response.json()
        assert body["status_code"] == 1000, body
        assert body["data"]["hub_party_id"] == "NLVRH"
        [platform] = [
            p
            for p in (await admin(http, hub, "GET", "/admin/platforms")).json()
            if p["name"] == "E"
        ]
        assert platform["version"] == "2.3.0"
        assert any(e["url"].endswith("/2.3.0/locations") for e in platform["endpoints"])


async def test_party_connect_to_a_2_1_1_cpo_pulls_its_locations_in_2_1_1(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    async with (
        running_party(emsp221("NL", "EMA")) as emsp,
        running_party(Party211("CPO", "BE", "BEC")) as cpo,
    ):
        await emsp.register_with(http, hub.versions_url, await invite_as(http, hub, "E"))
        cpo.accepted_tokens.add("their-token-a")
        cpo.objects = {"locations": [LOCATION_211], "tariffs": [TARIFF_211]}
        # Without the role, 2.1.1 cannot be used: the spec's 3002, saying why.
        refused = await admin(
            http,
            hub,
            "POST",
            "/admin/platforms/connect",
            {"versions_url": f"{cpo.base_url}/versions", "token_a": "their-token-a"},
        )
        assert refused.status_code == 422 and refused.json()["ocpi_status_code"] == 3002
        assert "role" in refused.json()["detail"]
        connected = await admin(
            http,
            hub,
            "POST",
            "/admin/platforms/connect",
            {
                "versions_url": f"{cpo.base_url}/versions",
                "token_a": "their-token-a",
                "role": "CPO",
                "name": "Old CPO",
            },
        )
        assert connected.status_code == 201, connected.text
        platform = connected.json()
        assert platform["version"] == "2.1.1"
        assert [(r["role"], r["country_code"], r["party_id"]) for r in platform["roles"]] == [
            ("CPO", "BE", "BEC")
        ]
        # The hub POSTed its credentials in 2.1.1 form, with token A as it is.
        [post] = [c for c in cpo.calls if c.method == "POST" and "/credentials" in c.path]
        assert post.headers["authorization"] == "Token their-token-a"
        assert post.body["party_id"] == "VRH" and "roles" not in post.body
        # The pull after registration: the CPO's Location reaches the 2.2.1 eMSP.
        [loc] = await eventually(lambda: emsp.pushes("locations"))
        assert loc.path == "/2.2.1/locations/BE/BEC/LOC1"
        assert loc.body["country_code"] == "BE" and loc.body["time_zone"] == "Europe/Brussels"
        [tariff] = await eventually(lambda: emsp.pushes("tariffs"))
        assert _prices(tariff.body) == [Decimal("0.2512"), Decimal("1.5")]
        # The hub calls the CPO with the token it was given, unencoded.
        pulls = [c for c in cpo.calls if c.method == "GET" and "locations" in c.path]
        assert pulls and all(c.headers["authorization"] == f"Token {c.token}" for c in pulls)
        assert all(c.token in cpo.accepted_tokens for c in pulls)
        assert auth_211("x") == {"Authorization": "Token x"}
