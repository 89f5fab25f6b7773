"""Every OCPI path the hub exposes, walked for each CPO/eMSP pair: data crosses exactly where an
active agreement covers the module (two CPOs, three eMSPs, agreements in every state)."""

from __future__ import annotations

from typing import Any

from tests.agreements.network import Agreed, agreed_network
from tests.agreements.test_enforcement import (
    ACCEPTED,
    a_cdr,
    get_all,
    loc,
    push_everything,
    put,
    received,
    sess,
    settle,
    setup_agreements,
)
from tests.hub.network import token
from tests.peers import FakeParty

# Each probe and the module whose agreement it needs ("any": some module).
PROBES = {
    "locations pushed": "locations",
    "tariffs pushed": "tariffs",
    "tokens pushed": "tokens",
    "locations GET-all": "locations",
    "tariffs GET-all": "tariffs",
    "tokens GET-all": "tokens",
    "location GET one": "locations",
    "location directed PUT": "locations",
    "token directed PUT": "tokens",
    "session routed": "sessions",
    "cdr routed": "cdrs",
    "START_SESSION": "commands",
    "authorize": "tokens",
    "hubclientinfo": "any",
    "charging preferences": "sessions",
    "chargingprofiles": "chargingprofiles",
}
# The agreements of setup_agreements(): (CPO, eMSP) -> modules it lets through.
EVERY = set(PROBES.values())
FLOWS: dict[tuple[str, str], set[str]] = {
    ("CPA", "EM1"): EVERY,
    ("CPA", "EM2"): set(),
    ("CPA", "EM3"): set(),
    ("CPB", "EM1"): set(),
    ("CPB", "EM2"): set(),
    ("CPB", "EM3"): {"locations", "tariffs", "any"},
}


def ref(party: FakeParty) -> tuple[str, str]:
    _role, cc, pid = party.roles[0]
    return cc, pid


def status(response: Any) -> int:
    return int(response.json()["status_code"])


async def probe(net: Agreed, cpo: FakeParty, emsp: FakeParty) -> dict[str, bool]:
    (ccc, cpid), (ecc, epid) = ref(cpo), ref(emsp)
    to_cpo = {"to_country_code": ccc, "to_party_id": cpid}
    to_emsp = {"to_country_code": ecc, "to_party_id": epid}
    seen: dict[str, bool] = {
        "locations pushed": f"L-{cpid}" in received(emsp, "locations"),
        "tariffs pushed": f"T-{cpid}" in received(emsp, "tariffs"),
        "tokens pushed": f"TOK-{epid}" in received(cpo, "tokens"),
        "locations GET-all": f"L-{cpid}" in await get_all(net, emsp, "locations"),
        "tariffs GET-all": f"T-{cpid}" in await get_all(net, emsp, "tariffs"),
        "tokens GET-all": f"TOK-{epid}" in await get_all(net, cpo, "tokens", "uid"),
    }
    one = await net.http.get(
        net.url(f"sender/locations/L-{cpid}"), headers=net.auth(emsp, **to_cpo)
    )
    seen["location GET one"] = status(one) == 1000
    directed = await put(
        net, cpo, f"receiver/locations/{ccc}/{cpid}/D-{epid}", loc(f"D-{epid}", (ccc, cpid)),
        **to_emsp,
    )  # fmt: skip
    seen["location directed PUT"] = status(directed) == 1000 and f"D-{epid}" in received(
        emsp, "locations"
    )
    directed = await put(
        net, emsp, f"receiver/tokens/{ecc}/{epid}/D-{cpid}", token(f"D-{cpid}", ecc, epid),
        **to_cpo,
    )  # fmt: skip
    seen["token directed PUT"] = status(directed) == 1000
    session_id = f"S-{cpid}-{epid}"
    await put(
        net, cpo, f"receiver/sessions/{ccc}/{cpid}/{session_id}",
        sess(session_id, (ccc, cpid), (ecc, epid)),
    )  # fmt: skip
    await net.http.post(
        net.url("receiver/cdrs"),
        json=a_cdr(f"C-{cpid}-{epid}", (ccc, cpid), (ecc, epid), session_id),
        headers=net.auth(cpo),
    )
    await settle(net)
    seen["session routed"] = session_id in received(emsp, "sessions")
    seen["cdr routed"] = bool(
        [c for c in emsp.pushes("cdrs") if c.body and c.body.get("id") == f"C-{cpid}-{epid}"]
    )
    start = await net.http.post(
        net.url("receiver/commands/START_SESSION"),
        json={
            "response_url": "http://127.0.0.1:1/r",
            "token": token(f"TOK-{epid}", ecc, epid),
            "location_id": f"L-{cpid}",
        },
        headers=net.auth(emsp),
    )
    seen["START_SESSION"] = status(start) == 1000 and start.json()["data"]["result"] == "ACCEPTED"
    authorized = await net.http.post(
        net.url(f"sender/tokens/TOK-{epid}/authorize"), headers=net.auth(cpo, **to_emsp)
    )
    seen["authorize"] = status(authorized) == 1000
    infos = await net.http.get(net.url("hubclientinfo"), headers=net.auth(emsp))
    seen["hubclientinfo"] = any(
        (i["country_code"], i["party_id"], i["role"]) == (ccc, cpid, "CPO")
        for i in infos.json()["data"]
    )
    prefs = await put(
        net, emsp, f"sender/sessions/{session_id}/charging_preferences", {"profile_type": "FAST"}
    )
    seen["charging preferences"] = status(prefs) == 1000
    profile = await put(
        net, emsp, f"receiver/chargingprofiles/{session_id}",
        {
            "response_url": "http://127.0.0.1:1/p",
            "charging_profile": {
                "charging_rate_unit": "W",
                "charging_profile_period": [{"start_period": 0, "limit": 11000}],
            },
        },
    )  # fmt: skip
    seen["chargingprofiles"] = status(profile) == 1000 and profile.json()["data"]["result"] == (
        "ACCEPTED"
    )
    return seen


async def test_every_path_for_every_pair(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await setup_agreements(net)
        for cpo in net.cpos:
            cpo.answers.update(
                {"commands": ACCEPTED, "chargingprofiles": ACCEPTED, "sessions": None}
            )
        await push_everything(net)
        await settle(net)
        wrong: list[str] = []
        for cpo in net.cpos:
            for emsp in net.emsps:
                pair = (ref(cpo)[1], ref(emsp)[1])
                for name, crossed in (await probe(net, cpo, emsp)).items():
                    expected = PROBES[name] in FLOWS[pair]
                    if crossed != expected:
                        wrong.append(f"{pair} {name}: crossed={crossed}, expected {expected}")
        assert wrong == []
