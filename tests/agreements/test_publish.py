"""Locations with publish: false go only to eMSPs that own a token in publish_allowed_to."""

from __future__ import annotations

from typing import Any

import pytest

from app.hub.agreements import publish_matches
from tests.agreements.network import agreed_network
from tests.agreements.test_enforcement import CPA, get_all, loc, put, received, settle
from tests.hub.network import token


def private(location_id: str, allowed: list[dict[str, Any]]) -> dict[str, Any]:
    return {**loc(location_id, CPA), "publish": False, "publish_allowed_to": allowed}


@pytest.mark.parametrize(
    ("allowed", "matches"),
    [
        ({"uid": "tok-em1", "type": "RFID"}, True),
        ({"uid": "TOK-EM1", "type": "APP_USER"}, False),
        ({"visual_number": "NL-EM1-CTOK-EM1", "issuer": "Example eMSP"}, True),
        ({"visual_number": "NL-EM1-CTOK-EM1", "issuer": "Someone else"}, False),
        ({"group_id": "fleet-7"}, True),
        ({"group_id": "fleet-8"}, False),
        ({}, False),
    ],
)
def test_all_set_fields_of_one_publish_token_must_match(
    allowed: dict[str, Any], matches: bool
) -> None:
    tok = {**token("TOK-EM1"), "visual_number": "NL-EM1-CTOK-EM1", "group_id": "FLEET-7"}
    assert publish_matches(allowed, tok) is matches


async def test_private_locations_reach_only_their_token_owners(database_url: str) -> None:
    async with agreed_network(database_url) as net:
        r = await put(net, net.emsp1, "receiver/tokens/NL/EM1/TOK-EM1", token("TOK-EM1"))
        assert r.json()["status_code"] == 1000
        body = private("LP", [{"uid": "TOK-EM1", "type": "RFID"}])
        r = await put(net, net.cpo1, "receiver/locations/NL/CPA/LP", body)
        assert r.json()["status_code"] == 1000, r.text
        await put(net, net.cpo1, "receiver/locations/NL/CPA/L1", loc("L1", CPA))
        await settle(net)
        assert received(net.emsp1, "locations") == {"LP", "L1"}
        assert received(net.emsp2, "locations") == received(net.emsp3, "locations") == {"L1"}
        # EVSE updates of the private Location follow the same rule.
        patch = await net.http.patch(
            net.url("receiver/locations/NL/CPA/LP/EVSE1"),
            json={"status": "CHARGING", "last_updated": "2026-01-01T13:00:00Z"},
            headers=net.auth(net.cpo1),
        )
        assert patch.json()["status_code"] == 1000
        await settle(net)
        assert len(net.emsp1.pushes("locations")) == 3
        assert received(net.emsp2, "locations") == {"L1"}
        # Pulls: the same.
        assert await get_all(net, net.emsp1, "locations") == {"LP", "L1"}
        assert await get_all(net, net.emsp2, "locations") == {"L1"}
        assert await get_all(net, net.cpo1, "locations") == {"LP", "L1"}
        one = await net.http.get(net.url("sender/locations/LP"), headers=net.auth(net.emsp2))
        assert one.status_code == 404 and one.json()["status_code"] == 2003
        one = await net.http.get(net.url("sender/locations/LP"), headers=net.auth(net.emsp1))
        assert one.json()["status_code"] == 1000
        # The hub's pay pages never show it to the public.
        page = await net.http.get(f"{net.hub.base_url}/pay/EVSE1?cpo=NL*CPA")
        # (L1 has an EVSE1 too: its page is the only one shown.)
        assert page.status_code == 200 and "Location L1" in page.text
        assert "Location LP" not in page.text


async def test_activation_sends_private_locations_only_to_token_owners(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await put(net, net.emsp1, "receiver/tokens/NL/EM1/TOK-EM1", token("TOK-EM1"))
        await put(
            net,
            net.cpo1,
            "receiver/locations/NL/CPA/LP",
            private("LP", [{"uid": "TOK-EM1", "type": "RFID"}]),
        )
        await put(net, net.cpo1, "receiver/locations/NL/CPA/L1", loc("L1", CPA))
        await net.agree("NL*CPA", "NL*EM1", "active")
        await net.agree("NL*CPA", "DE*EM2", "active")
        await settle(net)
        assert received(net.emsp1, "locations") == {"LP", "L1"}
        assert received(net.emsp2, "locations") == {"L1"}
