"""Nothing crosses a missing agreement, on any path the hub exposes.

Two CPOs (NL*CPA, BE*CPB), three eMSPs (NL*EM1, DE*EM2, FR*EM3), AGREEMENTS_DEFAULT=closed, and
agreements in every state:

    NL*CPA x NL*EM1  active              BE*CPB x NL*EM1  proposed
    NL*CPA x DE*EM2  suspended           BE*CPB x DE*EM2  (none: the closed default)
    NL*CPA x FR*EM3  ended               BE*CPB x FR*EM3  active for locations and tariffs only
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.agreements.network import Agreed, agreed_network
from tests.hub.network import cdr, location, session, stamp, tariff, token, wait_for
from tests.peers import FakeParty

CPA, CPB = ("NL", "CPA"), ("BE", "CPB")
EM1, EM2, EM3 = ("NL", "EM1"), ("DE", "EM2"), ("FR", "EM3")
ACCEPTED = {"result": "ACCEPTED", "timeout": 30}


def party_id(cc_pid: tuple[str, str]) -> str:
    return f"{cc_pid[0]}*{cc_pid[1]}"


async def setup_agreements(net: Agreed) -> None:
    await net.agree("NL*CPA", "NL*EM1", "active")
    await net.agree("NL*CPA", "DE*EM2", "active")
    await net.agree("NL*CPA", "DE*EM2", "suspended")
    await net.agree("NL*CPA", "FR*EM3", "active")
    await net.agree("NL*CPA", "FR*EM3", "ended")
    await net.agree("BE*CPB", "NL*EM1", "proposed")
    await net.agree("BE*CPB", "FR*EM3", "active", modules=["locations", "tariffs"])


def loc(location_id: str, owner: tuple[str, str]) -> dict[str, Any]:
    return location(location_id, cc=owner[0], pid=owner[1])


def tar(tariff_id: str, owner: tuple[str, str]) -> dict[str, Any]:
    return {**tariff(tariff_id), "country_code": owner[0], "party_id": owner[1]}


def sess(session_id: str, cpo: tuple[str, str], emsp: tuple[str, str]) -> dict[str, Any]:
    return {**session(session_id, owner=emsp), "country_code": cpo[0], "party_id": cpo[1]}


def a_cdr(
    cdr_id: str, cpo: tuple[str, str], emsp: tuple[str, str], session_id: str
) -> dict[str, Any]:
    return {
        **cdr(cdr_id, owner=emsp),
        "country_code": cpo[0],
        "party_id": cpo[1],
        "session_id": session_id,
    }


async def put(net: Agreed, who: FakeParty, path: str, body: Any, **routing: str) -> httpx.Response:
    return await net.http.put(net.url(path), json=body, headers=net.auth(who, **routing))


async def push_everything(net: Agreed) -> None:
    for cpo, owner in ((net.cpo1, CPA), (net.cpo2, CPB)):
        cc, pid = owner
        r = await put(net, cpo, f"receiver/locations/{cc}/{pid}/L-{pid}", loc(f"L-{pid}", owner))
        assert r.json()["status_code"] == 1000, r.text
        r = await put(net, cpo, f"receiver/tariffs/{cc}/{pid}/T-{pid}", tar(f"T-{pid}", owner))
        assert r.json()["status_code"] == 1000, r.text
    for emsp, owner in ((net.emsp1, EM1), (net.emsp2, EM2), (net.emsp3, EM3)):
        cc, pid = owner
        r = await put(
            net, emsp, f"receiver/tokens/{cc}/{pid}/TOK-{pid}", token(f"TOK-{pid}", cc, pid)
        )
        assert r.json()["status_code"] == 1000, r.text


def received(party: FakeParty, module: str) -> set[str]:
    return {c.path.rstrip("/").split("/")[-1] for c in party.pushes(module)}


async def settle(net: Agreed) -> None:
    """Every queued push has left (delivered, or not queued at all)."""

    async def idle() -> bool:
        response = await net.http.get(
            f"{net.hub.base_url}/admin/deliveries/summary", headers=net.admin
        )
        counts = response.json()
        return not counts.get("pending") and not counts.get("sending")

    for _ in range(200):
        if await idle():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("deliveries did not settle")


async def get_all(net: Agreed, who: FakeParty, module: str, key: str = "id") -> set[str]:
    response = await net.http.get(net.url(f"sender/{module}"), headers=net.auth(who))
    body = response.json()
    assert body["status_code"] == 1000, response.text
    return {str(item[key]) for item in body["data"]}


async def test_broadcasts_and_get_all_follow_agreements(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await setup_agreements(net)
        await push_everything(net)
        await settle(net)
        # Pushes: only across active agreements, only for the modules they cover.
        assert received(net.emsp1, "locations") == {"L-CPA"}
        assert received(net.emsp1, "tariffs") == {"T-CPA"}
        assert received(net.emsp2, "locations") == received(net.emsp2, "tariffs") == set()
        assert received(net.emsp3, "locations") == {"L-CPB"}
        assert received(net.emsp3, "tariffs") == {"T-CPB"}
        assert received(net.cpo1, "tokens") == {"TOK-EM1"}
        assert received(net.cpo2, "tokens") == set()
        # GET-all: the same, plus one's own.
        assert await get_all(net, net.emsp1, "locations") == {"L-CPA"}
        assert await get_all(net, net.emsp2, "locations") == set()
        assert await get_all(net, net.emsp3, "tariffs") == {"T-CPB"}
        assert await get_all(net, net.cpo1, "tokens", "uid") == {"TOK-EM1"}
        assert await get_all(net, net.cpo2, "tokens", "uid") == set()
        assert await get_all(net, net.cpo2, "locations") == {"L-CPB"}
        # GET of one Location: unknown across a missing agreement.
        one = await net.http.get(net.url("sender/locations/L-CPA"), headers=net.auth(net.emsp2))
        assert one.status_code == 404 and one.json()["status_code"] == 2003
        one = await net.http.get(net.url("sender/locations/L-CPA"), headers=net.auth(net.emsp1))
        assert one.json()["status_code"] == 1000
        # Metrics count what was held back.
        metrics = (await net.http.get(f"{net.hub.base_url}/metrics")).text
        assert 'voltroam_agreement_refusals_total{kind="push",module="locations"}' in metrics


async def test_directed_requests_across_a_missing_agreement_meet_an_unknown_receiver(
    database_url: str,
) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await setup_agreements(net)
        body = loc("L-CPA", CPA)

        async def directed(to: str) -> dict[str, Any]:
            response = await put(
                net, net.cpo1, "receiver/locations/NL/CPA/L-CPA", body,
                to_country_code=to[:2], to_party_id=to[3:],
            )  # fmt: skip
            return dict(response.json())

        missing = await directed("DE*EM2")
        nobody = await directed("XX*NOP")
        assert missing["status_code"] == nobody["status_code"] == 4001
        # Word for word what a party that does not exist gets.
        assert missing["status_message"].replace("DE*EM2", "XX*NOP") == nobody["status_message"]
        assert (await directed("NL*EM1"))["status_code"] == 1000
        assert not net.emsp2.pushes("locations")


async def test_sessions_and_cdrs_only_across_an_agreement(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await setup_agreements(net)
        ok = await put(net, net.cpo1, "receiver/sessions/NL/CPA/S1", sess("S1", CPA, EM1))
        held = await put(net, net.cpo1, "receiver/sessions/NL/CPA/S2", sess("S2", CPA, EM2))
        # The CPO gets the answer a Session of an unknown eMSP gets: stored.
        assert ok.json()["status_code"] == held.json()["status_code"] == 1000
        posted = await net.http.post(
            net.url("receiver/cdrs"), json=a_cdr("C2", CPA, EM2, "S2"), headers=net.auth(net.cpo1)
        )
        assert posted.json()["status_code"] == 1000
        await settle(net)
        assert received(net.emsp1, "sessions") == {"S1"}
        assert not net.emsp2.pushes("sessions") and not net.emsp2.pushes("cdrs")
        assert await get_all(net, net.emsp2, "sessions") == set()
        assert await get_all(net, net.emsp2, "cdrs") == set()
        # Requests about the Session: what an unknown Session gets.
        prefs = await put(
            net, net.emsp2, "sender/sessions/S2/charging_preferences",
            {"profile_type": "FAST"},
        )  # fmt: skip
        assert prefs.status_code == 404 and prefs.json()["status_code"] == 2001
        stop = await net.http.post(
            net.url("receiver/commands/STOP_SESSION"),
            json={"response_url": "http://127.0.0.1:1/r", "session_id": "S2"},
            headers=net.auth(net.emsp2),
        )
        assert stop.json()["data"]["result"] == "UNKNOWN_SESSION"
        profile = await put(
            net, net.emsp2, "receiver/chargingprofiles/S2",
            {
                "response_url": "http://127.0.0.1:1/p",
                "charging_profile": {
                    "charging_rate_unit": "W",
                    "charging_profile_period": [{"start_period": 0, "limit": 11000}],
                },
            },
        )  # fmt: skip
        assert profile.json()["data"]["result"] == "UNKNOWN_SESSION"
        assert not [
            c for c in net.cpo1.calls if "/commands/" in c.path or "chargingprofiles" in c.path
        ]


async def test_commands_and_authorization(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await setup_agreements(net)
        net.cpo1.answers["commands"] = ACCEPTED
        await push_everything(net)
        await settle(net)

        def start(emsp: tuple[str, str]) -> dict[str, Any]:
            return {
                "response_url": "http://127.0.0.1:1/r",
                "token": token(f"TOK-{emsp[1]}", *emsp),
                "location_id": "L-CPA",
                "evse_uid": "EVSE1",
            }

        ok = await net.http.post(
            net.url("receiver/commands/START_SESSION"), json=start(EM1), headers=net.auth(net.emsp1)
        )
        assert ok.json()["data"]["result"] == "ACCEPTED", ok.text
        # Without OCPI-to: the Location is unknown; naming the CPO: an unknown receiver.
        hidden = await net.http.post(
            net.url("receiver/commands/START_SESSION"), json=start(EM2), headers=net.auth(net.emsp2)
        )
        assert hidden.json()["status_code"] == 2003
        named = await net.http.post(
            net.url("receiver/commands/START_SESSION"),
            json=start(EM2),
            headers=net.auth(net.emsp2, to_country_code="NL", to_party_id="CPA"),
        )
        assert named.json()["status_code"] == 4001
        assert len([c for c in net.cpo1.calls if "/commands/" in c.path]) == 1

        # Real-time authorization: a token of an eMSP without an agreement is unknown.
        async def authorize(cpo: FakeParty, uid: str, **routing: str) -> dict[str, Any]:
            response = await net.http.post(
                net.url(f"sender/tokens/{uid}/authorize"), headers=net.auth(cpo, **routing)
            )
            return dict(response.json())

        assert (await authorize(net.cpo1, "TOK-EM1"))["status_code"] == 1000
        # (Open routing asks NL*EM1, the one eMSP NL*CPA may reach, which does not know it.)
        net.emsp1.refuse_with = 2004
        assert (await authorize(net.cpo1, "TOK-EM2"))["status_code"] == 2004
        directed = await authorize(net.cpo1, "TOK-EM2", to_country_code="DE", to_party_id="EM2")
        assert directed["status_code"] == 2004
        # BE*CPB and FR*EM3 agreed on locations and tariffs only.
        assert (await authorize(net.cpo2, "TOK-EM3"))["status_code"] == 2004
        assert not [c for c in net.emsp2.calls if "authorize" in c.path]
        assert not [c for c in net.emsp3.calls if "authorize" in c.path]


async def test_hubclientinfo_shows_whom_a_party_may_reach(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await setup_agreements(net)

        async def seen(who: FakeParty) -> set[str]:
            response = await net.http.get(net.url("hubclientinfo"), headers=net.auth(who))
            return {f"{i['country_code']}*{i['party_id']}" for i in response.json()["data"]}

        parties = {"NL*CPA", "BE*CPB", "NL*EM1", "DE*EM2", "FR*EM3"}
        assert (await seen(net.emsp1)) & parties == {"NL*CPA", "NL*EM1", "DE*EM2", "FR*EM3"}
        assert (await seen(net.emsp2)) & parties == {"NL*EM1", "DE*EM2", "FR*EM3"}
        assert (await seen(net.emsp3)) & parties == {"BE*CPB", "NL*EM1", "DE*EM2", "FR*EM3"}
        assert (await seen(net.cpo2)) & parties == {"NL*CPA", "BE*CPB", "FR*EM3"}


async def test_suspension_stops_new_data_and_running_sessions_finish(database_url: str) -> None:
    async with agreed_network(database_url) as net:
        # Open by default: everyone exchanges.
        await put(net, net.cpo1, "receiver/sessions/NL/CPA/S1", sess("S1", CPA, EM1))
        await put(net, net.cpo1, "receiver/locations/NL/CPA/L1", loc("L1", CPA))
        await settle(net)
        assert received(net.emsp1, "sessions") == {"S1"}
        assert received(net.emsp1, "locations") == {"L1"}
        await net.agree("NL*CPA", "NL*EM1", "suspended")
        later = {**loc("L1", CPA), "name": "renamed", "last_updated": stamp(5)}
        await put(net, net.cpo1, "receiver/locations/NL/CPA/L1", later)
        await put(net, net.cpo1, "receiver/locations/NL/CPA/L2", loc("L2", CPA))
        # The running Session finishes: its update and its CDR still reach the token's owner.
        patch = await net.http.patch(
            net.url("receiver/sessions/NL/CPA/S1"),
            json={"kwh": 5, "last_updated": stamp(10)},
            headers=net.auth(net.cpo1),
        )
        assert patch.json()["status_code"] == 1000
        await net.http.post(
            net.url("receiver/cdrs"), json=a_cdr("C1", CPA, EM1, "S1"), headers=net.auth(net.cpo1)
        )
        # A new Session does not.
        await put(net, net.cpo1, "receiver/sessions/NL/CPA/S2", sess("S2", CPA, EM1))
        await settle(net)
        assert len(net.emsp1.pushes("locations")) == 1
        assert received(net.emsp1, "sessions") == {"S1"}
        assert len(net.emsp1.pushes("sessions")) == 2
        assert len(net.emsp1.pushes("cdrs")) == 1
        # The other eMSPs still get everything (open default).
        assert received(net.emsp2, "locations") == {"L1", "L2"}


async def test_suspension_drops_what_has_not_left(database_url: str) -> None:
    async with agreed_network(database_url) as net:
        net.emsp1.hold = {("locations", "PUT")}
        await put(net, net.cpo1, "receiver/locations/NL/CPA/L1", loc("L1", CPA))
        await wait_for(lambda: bool(net.emsp1.held))
        # L2 waits behind nothing, but L1's second version waits behind the held first one.
        later = {**loc("L1", CPA), "name": "renamed", "last_updated": stamp(5)}
        await put(net, net.cpo1, "receiver/locations/NL/CPA/L1", later)
        await net.agree("NL*CPA", "NL*EM1", "ended")
        net.emsp1.release.set()
        await settle(net)
        # The one being sent arrived ("within one delivery"); the queued one was dropped.
        assert len(net.emsp1.pushes("locations")) == 1
        dropped = await net.http.get(
            f"{net.hub.base_url}/admin/deliveries?status=dropped", headers=net.admin
        )
        assert any("agreement" in (d.get("last_error") or "") for d in dropped.json())
