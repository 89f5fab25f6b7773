"""Open routing of real-time authorization: the hub finds the token's owner among the eMSPs
the CPO has an agreement with."""

from __future__ import annotations

from typing import Any

import httpx

from tests.agreements.network import Agreed, agreed_network
from tests.hub.network import token
from tests.peers import FakeParty


def info(allowed: str, cc: str = "FR", pid: str = "EM3") -> dict[str, Any]:
    return {"allowed": allowed, "token": token("RF-1", cc, pid)}


async def authorize(net: Agreed, cpo: FakeParty, uid: str = "RF-1") -> httpx.Response:
    return await net.http.post(
        net.url(f"sender/tokens/{uid}/authorize"),
        json={"location_id": "LOC1"},
        headers=net.auth(cpo),
    )


def asked(party: FakeParty, uid: str = "RF-1") -> int:
    return len([c for c in party.calls if c.path.endswith(f"/tokens/{uid}/authorize")])


async def test_the_owner_is_found_among_three(database_url: str) -> None:
    async with agreed_network(database_url) as net:
        net.emsp1.refuse_with = 2004
        net.emsp2.answers["tokens"] = info("NOT_ALLOWED", "DE", "EM2")
        net.emsp3.answers["tokens"] = info("ALLOWED")
        net.emsp3.delay = 0.3
        response = await authorize(net, net.cpo1)
        body = response.json()
        assert body["status_code"] == 1000, body
        assert body["data"]["allowed"] == "ALLOWED"
        # The answer says who owns the token.
        assert response.headers["OCPI-from-country-code"] == "FR"
        assert response.headers["OCPI-from-party-id"] == "EM3"
        assert response.headers["OCPI-to-party-id"] == "CPA"
        assert (asked(net.emsp1), asked(net.emsp2), asked(net.emsp3)) == (1, 1, 1)
        call = next(c for c in net.emsp3.calls if c.path.endswith("/authorize"))
        assert call.body["location_id"] == "LOC1"
        assert call.headers.get("ocpi-from-party-id") == "CPA"
        # Remembered: the next question goes to the owner only.
        again = await authorize(net, net.cpo1)
        assert again.json()["data"]["allowed"] == "ALLOWED"
        assert (asked(net.emsp1), asked(net.emsp2), asked(net.emsp3)) == (1, 1, 2)


async def test_the_most_specific_refusal_wins(database_url: str) -> None:
    async with agreed_network(database_url) as net:
        net.emsp1.refuse_with = 2004
        net.emsp2.answers["tokens"] = info("NOT_ALLOWED", "DE", "EM2")
        net.emsp3.answers["tokens"] = info("BLOCKED")
        response = await authorize(net, net.cpo1)
        assert response.json()["data"]["allowed"] == "BLOCKED"
        assert response.headers["OCPI-from-party-id"] == "EM3"


async def test_nobody_knows_the_token(database_url: str) -> None:
    async with agreed_network(database_url) as net:
        for emsp in net.emsps:
            emsp.refuse_with = 2004
        response = await authorize(net, net.cpo1)
        assert response.json()["status_code"] == 2004
        assert all(asked(e) == 1 for e in net.emsps)


async def test_a_slow_emsp_does_not_hold_the_answer(database_url: str) -> None:
    async with agreed_network(database_url) as net:
        net.emsp1.delay = 4
        net.emsp2.refuse_with = 2004
        net.emsp3.answers["tokens"] = info("ALLOWED")
        response = await authorize(net, net.cpo1)
        assert response.json()["data"]["allowed"] == "ALLOWED"


async def test_only_emsps_with_an_agreement_are_asked(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await net.agree("NL*CPA", "NL*EM1", "active")
        await net.agree("NL*CPA", "FR*EM3", "active", modules=["locations"])
        for emsp in net.emsps:
            emsp.answers["tokens"] = info("ALLOWED")
        response = await authorize(net, net.cpo1)
        assert response.headers["OCPI-from-party-id"] == "EM1"
        assert (asked(net.emsp1), asked(net.emsp2), asked(net.emsp3)) == (1, 0, 0)
        # A CPO with no agreement at all: an unknown token, nobody asked.
        response = await authorize(net, net.cpo2)
        assert response.json()["status_code"] == 2004
        assert (asked(net.emsp1), asked(net.emsp2), asked(net.emsp3)) == (1, 0, 0)
