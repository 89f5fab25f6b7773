"""Who may read and write what, attacked by parties with a valid registration (issue 14).

- A (country_code, party_id) belongs to one platform, whatever the role.
- Directed requests about a Session are relayed only for the eMSP whose token started it.
- Sender interfaces show a party only what is its own or addressed to it.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import httpx

from app.hub import clientinfo
from app.hub.parties.models import Platform
from tests.conftest import invite, running_party, token_header
from tests.hub.network import (
    CPO_ENDPOINTS,
    EMSP_ENDPOINTS,
    Network,
    cdr,
    location,
    network,
    register,
    session,
    tariff,
    token,
    wait_for,
)
from tests.hub.profiles_data import (
    ACCEPTED,
    ProfileParty,
    charging_profile,
    profiles_network,
    set_charging_profile,
)
from tests.peers import FakeParty

CPO_EXTRA = [("commands", "RECEIVER"), ("sessions", "SENDER")]
EMSP_EXTRA = [("tokens", "SENDER"), ("commands", "SENDER")]
# The hub's own parties (defaults of HUB_*, OWN_CPO_* and PAYMENTS_EMSP_*).
HUB, OWN_CPO, PAYMENTS = ("NL", "VRH"), ("NL", "VRC"), ("NL", "VRP")


async def platforms(net: Network) -> list[dict[str, Any]]:
    response = await net.http.get(f"{net.hub.base_url}/admin/platforms", headers=net.admin)
    assert response.status_code == 200
    return list(response.json())


def roles_of(platform: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["role"], r["country_code"], r["party_id"]) for r in platform["roles"]}


async def try_register(net: Network, party: FakeParty) -> dict[str, Any]:
    token_a = await invite(net.http, net.hub, "newcomer")
    response = await party.register_with(net.http, net.hub.versions_url, token_a)
    return dict(response.json())


# --- 14.1: a party id belongs to one platform, whatever the role ------------------------------


async def test_a_party_id_cannot_be_taken_through_another_role(database_url: str) -> None:
    async with network(database_url) as net, AsyncExitStack() as stack:
        before = await platforms(net)

        # Platform F claims the CPO's party id NL*CPA as an eMSP (also lower-case).
        for claimed in (("EMSP", "NL", "CPA"), ("OTHER", "nl", "cpa")):
            thief = await stack.enter_async_context(
                running_party(FakeParty(roles=[claimed], endpoints=EMSP_ENDPOINTS))
            )
            body = await try_register(net, thief)
            assert body["status_code"] == 2001, body
            assert "NL*CPA" in body["status_message"]
            assert "another platform" in body["status_message"]
            assert thief.hub_token is None

        # The hub's own parties, whether or not they exist as platforms yet.
        for cc, pid in (HUB, OWN_CPO, PAYMENTS):
            for role in ("CPO", "EMSP"):
                squatter = await stack.enter_async_context(
                    running_party(FakeParty(roles=[(role, cc, pid)], endpoints=EMSP_ENDPOINTS))
                )
                body = await try_register(net, squatter)
                assert body["status_code"] == 2001, (role, cc, pid, body)
                assert f"{cc}*{pid}" in body["status_message"]
                assert "hub's own" in body["status_message"]

        # A registered platform cannot take it with PUT credentials either; nothing changes.
        credentials = net.emsp1.credentials("new-token-b-" + "y" * 20)
        credentials["roles"].append({**credentials["roles"][0], "party_id": "CPA"})
        net.emsp1.accepted_tokens.add(credentials["token"])
        response = await net.http.put(
            net.url("credentials"), json=credentials, headers=net.auth(net.emsp1)
        )
        assert response.json()["status_code"] == 2001, response.text
        assert "NL*CPA" in response.json()["status_message"]
        still = await net.http.get(net.url("credentials"), headers=net.auth(net.emsp1))
        assert still.json()["status_code"] == 1000  # its token C was not rotated

        # Nor by the hub connecting to it (the party is told to forget the hub again).
        other = await stack.enter_async_context(
            running_party(
                FakeParty(
                    roles=[("EMSP", "NL", "CPA")],
                    endpoints=EMSP_ENDPOINTS,
                    accepted_tokens={"their-token-a"},
                )
            )
        )
        response = await net.http.post(
            f"{net.hub.base_url}/admin/platforms/connect",
            json={"versions_url": f"{other.base_url}/versions", "token_a": "their-token-a"},
            headers=net.admin,
        )
        assert response.status_code == 422, response.text
        assert response.json()["ocpi_status_code"] == 2001
        assert "NL*CPA" in response.json()["detail"]
        assert other.registered_hub is None  # unregistered there again

        # The refused attempts changed no role of anyone.
        after = await platforms(net)
        registered = [roles_of(p) for p in after if p["status"] == "CONNECTED"]
        assert sorted(map(sorted, registered)) == sorted(
            sorted(roles_of(p)) for p in before if p["status"] == "CONNECTED"
        )

        # One platform may of course hold CPO and eMSP roles under one party id.
        both = await stack.enter_async_context(
            running_party(
                FakeParty(
                    roles=[("CPO", "NL", "DUO"), ("EMSP", "NL", "DUO")],
                    endpoints=[*CPO_ENDPOINTS, *EMSP_ENDPOINTS],
                )
            )
        )
        body = await try_register(net, both)
        assert body["status_code"] == 1000, body
        # ... and drop one of them again (PUT), keeping the other.
        credentials = both.credentials("duo-token-b-" + "z" * 20)
        credentials["roles"] = credentials["roles"][:1]
        both.accepted_tokens.add(credentials["token"])
        assert both.hub_token
        response = await net.http.put(
            net.url("credentials"), json=credentials, headers=token_header(both.hub_token)
        )
        assert response.json()["status_code"] == 1000, response.text


async def test_racing_registrations_for_one_party_id_cannot_both_win(database_url: str) -> None:
    async with network(database_url) as net, AsyncExitStack() as stack:
        racers = []
        for role in ("CPO", "EMSP", "OTHER"):
            party = FakeParty(roles=[(role, "NL", "RAC")], endpoints=EMSP_ENDPOINTS)
            racers.append(await stack.enter_async_context(running_party(party)))
        tokens = [await invite(net.http, net.hub, f"racer {n}") for n in range(len(racers))]
        answers = await asyncio.gather(
            *(
                party.register_with(net.http, net.hub.versions_url, token_a)
                for party, token_a in zip(racers, tokens, strict=True)
            )
        )
        codes = sorted(a.json()["status_code"] for a in answers)
        assert codes == [1000, 2001, 2001], [a.text for a in answers]
        holders = [p for p in await platforms(net) if ("NL", "RAC") in {r[1:] for r in roles_of(p)}]
        assert len(holders) == 1


async def test_sessions_and_cdrs_follow_the_role_not_only_the_party_id(
    database_url: str,
) -> None:
    """A CPO-only platform whose party id appears as a token owner gets nothing of it."""
    async with network(database_url) as net, AsyncExitStack() as stack:
        cpx = await stack.enter_async_context(
            running_party(
                FakeParty(roles=[("CPO", "NL", "CPX")], endpoints=[*CPO_ENDPOINTS, *EMSP_ENDPOINTS])
            )
        )
        await register(net.http, net.hub, cpx)
        put = await net.http.put(
            net.url("receiver/sessions/NL/CPA/S9"),
            json=session("S9", owner=("NL", "CPX")),
            headers=net.auth(net.cpo),
        )
        assert put.json()["status_code"] == 1000
        posted = await net.http.post(
            net.url("receiver/cdrs"),
            json=cdr("CDR9", owner=("NL", "CPX")),
            headers=net.auth(net.cpo),
        )
        assert posted.status_code == 201
        location_url = posted.headers["Location"]
        # Something routable afterwards, so that "nothing arrived" is not a matter of time.
        await net.http.put(
            net.url("receiver/sessions/NL/CPA/S1"), json=session("S1"), headers=net.auth(net.cpo)
        )
        await wait_for(lambda: len(net.emsp1.pushes("sessions")) == 1)
        assert cpx.pushes("sessions") == [] and cpx.pushes("cdrs") == []

        for path in ("sender/sessions", "sender/cdrs"):
            listed = await net.http.get(net.url(path), headers=net.auth(cpx))
            assert listed.json()["data"] == [], (path, listed.text)
        refused = await net.http.get(location_url, headers=net.auth(cpx))
        assert refused.status_code == 404
        # Nor are they resent to it when it comes back from OFFLINE.
        [cpx_id] = [p["id"] for p in await platforms(net) if ("CPO", "NL", "CPX") in roles_of(p)]
        async with net.ctx.sessions() as db:
            platform = await db.get(Platform, cpx_id)
            assert platform is not None
            assert (
                await clientinfo.resync(db, net.ctx, platform, datetime(2000, 1, 1, tzinfo=UTC))
                == 0
            )
            await db.rollback()

        # The CDR by its Location: the CPO that posted it and the eMSP it was routed to.
        posted = await net.http.post(
            net.url("receiver/cdrs"), json=cdr("CDR1"), headers=net.auth(net.cpo)
        )
        mine = posted.headers["Location"]
        for reader, status in ((net.cpo, 200), (net.emsp1, 200), (net.emsp2, 404), (cpx, 404)):
            response = await net.http.get(mine, headers=net.auth(reader))
            assert response.status_code == status, (reader.roles, response.text)


# --- 14.2: requests about a Session only for the eMSP whose token started it ------------------


async def seed(net: Network) -> None:
    for path, body, party in (
        ("receiver/locations/NL/CPA/LOC1", location(), net.cpo),
        ("receiver/sessions/NL/CPA/S1", session("S1"), net.cpo),
        # A paid ad hoc session: the token is the hub's own payments eMSP's.
        ("receiver/sessions/NL/CPA/PAID", session("PAID", owner=PAYMENTS), net.cpo),
        ("receiver/tokens/NL/EM1/TOK1", token(), net.emsp1),
    ):
        response = await net.http.put(net.url(path), json=body, headers=net.auth(party))
        assert response.json()["status_code"] == 1000, response.text


def answer_of(response: httpx.Response) -> tuple[int, Any, Any, dict[str, str | None]]:
    body = response.json()
    routing = {
        name: response.headers.get(name)
        for name in ("OCPI-from-country-code", "OCPI-from-party-id", "OCPI-to-party-id")
    }
    return response.status_code, body["status_code"], body.get("data"), routing


async def test_only_the_token_owner_may_stop_a_session_or_set_preferences(
    database_url: str,
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        await seed(net)
        net.cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 30}
        net.cpo.answers["sessions"] = "ACCEPTED"
        stop = net.url("receiver/commands/STOP_SESSION")
        back = f"{net.emsp2.base_url}/2.2.1/commands/STOP_SESSION/1"
        to_cpo = {"to_country_code": "NL", "to_party_id": "CPA"}

        def stop_as(party: FakeParty, session_id: str, **routing: str) -> Any:
            body = {"response_url": back, "session_id": session_id}
            return net.http.post(stop, json=body, headers=net.auth(party, **routing))

        unknown = answer_of(await stop_as(net.emsp2, "NOPE"))
        assert unknown[2]["result"] == "UNKNOWN_SESSION"
        for session_id, routing in (("S1", {}), ("S1", to_cpo), ("PAID", {}), ("PAID", to_cpo)):
            answer = answer_of(await stop_as(net.emsp2, session_id, **routing))
            assert answer == unknown, (session_id, routing)
            answer = answer_of(await stop_as(net.emsp2, "NOPE", **routing))
            assert answer == unknown, ("NOPE", routing)
        assert answer_of(await stop_as(net.emsp1, "PAID", **to_cpo)) == answer_of(
            await stop_as(net.emsp1, "NOPE")
        )
        prefs = {"profile_type": "FAST", "energy_need": 20}

        def prefer_as(party: FakeParty, session_id: str, **routing: str) -> Any:
            return net.http.put(
                net.url(f"sender/sessions/{session_id}/charging_preferences"),
                json=prefs,
                headers=net.auth(party, **routing),
            )

        unknown = answer_of(await prefer_as(net.emsp2, "NOPE"))
        assert unknown[:2] == (404, 2001)
        for session_id, routing in (("S1", {}), ("S1", to_cpo), ("PAID", to_cpo)):
            assert answer_of(await prefer_as(net.emsp2, session_id, **routing)) == unknown
            assert answer_of(await prefer_as(net.emsp2, "NOPE", **routing)) == unknown
        # None of it reached the CPO.
        assert net.cpo.pushes("commands") == []
        assert not [c for c in net.cpo.calls if "charging_preferences" in c.path]

        # The token's own eMSP is relayed as before.
        answer = await stop_as(net.emsp1, "S1")
        assert answer.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
        [call] = net.cpo.pushes("commands")
        assert call.headers["ocpi-from-party-id"] == "EM1"
        answer = await prefer_as(net.emsp1, "S1", **to_cpo)
        assert answer.json()["data"] == "ACCEPTED"

        # "An eMSP sending a StartSession SHALL only use Token that are owned by this eMSP".
        start = {
            "response_url": back,
            "token": token(),
            "location_id": "LOC1",
            "evse_uid": "EVSE1",
        }
        for command in ("START_SESSION", "RESERVE_NOW"):
            body = dict(start)
            if command == "RESERVE_NOW":
                body |= {"expiry_date": "2030-01-01T00:00:00Z", "reservation_id": "R1"}
            response = await net.http.post(
                net.url(f"receiver/commands/{command}"), json=body, headers=net.auth(net.emsp2)
            )
            assert response.json()["status_code"] == 2001, response.text
            assert "NL*EM1" in response.json()["status_message"]
        assert len(net.cpo.pushes("commands")) == 1

        # A reservation is cancelled through the hub only by the eMSP that made it.
        reserve = {**start, "expiry_date": "2030-01-01T00:00:00Z", "reservation_id": "R1"}
        response = await net.http.post(
            net.url("receiver/commands/RESERVE_NOW"), json=reserve, headers=net.auth(net.emsp1)
        )
        assert response.json()["data"]["result"] == "ACCEPTED"
        cancel = {"response_url": back, "reservation_id": "R1"}
        response = await net.http.post(
            net.url("receiver/commands/CANCEL_RESERVATION"),
            json=cancel,
            headers=net.auth(net.emsp2),
        )
        assert response.json()["status_code"] == 2001
        assert len(net.cpo.pushes("commands")) == 2


async def test_charging_profiles_only_for_the_token_owner(database_url: str) -> None:
    async with profiles_network(database_url) as net, AsyncExitStack() as stack:
        for session_id, owner in (("S1", ("NL", "EM1")), ("PAID", PAYMENTS)):
            response = await net.http.put(
                net.url(f"receiver/sessions/NL/CPA/{session_id}"),
                json=session(session_id, owner),
                headers=net.auth(net.cpo),
            )
            assert response.json()["status_code"] == 1000
        url = f"{net.emsp2.base_url}/2.2.1/profiles/1"
        to_cpo = {"to_country_code": "NL", "to_party_id": "CPA"}

        async def ask(party: Any, method: str, session_id: str, **routing: str) -> Any:
            target = net.url(f"receiver/chargingprofiles/{session_id}")
            headers = net.auth(party, **routing)
            if method == "PUT":
                return await net.http.put(target, json=set_charging_profile(url), headers=headers)
            params: dict[str, Any] = {"response_url": url}
            if method == "GET":
                params["duration"] = 900
            return await net.http.request(method, target, params=params, headers=headers)

        for method in ("PUT", "GET", "DELETE"):
            unknown = answer_of(await ask(net.emsp2, method, "NOPE"))
            assert unknown[2] == {"result": "UNKNOWN_SESSION", "timeout": 0}
            for session_id in ("S1", "PAID"):
                for routing in ({}, to_cpo):
                    got = answer_of(await ask(net.emsp2, method, session_id, **routing))
                    assert got == unknown, (method, session_id, routing)
                    got = answer_of(await ask(net.emsp2, method, "NOPE", **routing))
                    assert got == unknown, (method, "NOPE", routing)
        assert not [c for c in net.cpo.calls if "chargingprofiles" in c.path]

        # An SCSP: the hub does not look up Sessions for it; the CPO it names decides.
        scsp = await stack.enter_async_context(
            running_party(
                ProfileParty(
                    roles=[("SCSP", "NL", "SC1")],
                    endpoints=[("chargingprofiles", "SENDER")],
                )
            )
        )
        await register(net.http, net.hub, scsp)
        got = answer_of(await ask(scsp, "PUT", "S1"))
        assert got[2] == {"result": "UNKNOWN_SESSION", "timeout": 0}
        assert not [c for c in net.cpo.calls if "chargingprofiles" in c.path]
        response = await ask(scsp, "PUT", "S1", **to_cpo)
        assert response.json()["data"] == ACCEPTED
        [call] = net.cpo.pushes("chargingprofiles", "PUT")
        assert call.headers["ocpi-from-party-id"] == "SC1"
        assert call.body["charging_profile"] == charging_profile()

        # The token's own eMSP is relayed.
        response = await ask(net.emsp1, "PUT", "S1")
        assert response.json()["data"] == ACCEPTED
        assert len(net.cpo.pushes("chargingprofiles", "PUT")) == 2


# --- 14.3: Sender interfaces show a party only its own or what is addressed to it --------------


async def test_sender_interfaces_show_only_what_is_yours(database_url: str) -> None:
    async with (
        network(
            database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
        ) as net,
        AsyncExitStack() as stack,
    ):
        await seed(net)
        await net.http.put(
            net.url("receiver/tokens/DE/EM2/TOK2"),
            json=token("TOK2", cc="DE", pid="EM2"),
            headers=net.auth(net.emsp2),
        )
        await net.http.put(
            net.url("receiver/tariffs/NL/CPA/T1"), json=tariff(), headers=net.auth(net.cpo)
        )
        cpo2 = await stack.enter_async_context(
            running_party(FakeParty(roles=[("CPO", "BE", "CPB")], endpoints=CPO_ENDPOINTS))
        )
        await register(net.http, net.hub, cpo2)
        await net.http.put(
            net.url("receiver/locations/BE/CPB/LOC2"),
            json=location("LOC2", cc="BE", pid="CPB"),
            headers=net.auth(cpo2),
        )

        async def listed(party: FakeParty, module: str, key: str = "id") -> list[str]:
            response = await net.http.get(net.url(f"sender/{module}"), headers=net.auth(party))
            assert response.json()["status_code"] == 1000, response.text
            return sorted(str(o[key]) for o in response.json()["data"])

        # Tokens go to CPOs; an eMSP gets its own at most.
        assert await listed(net.cpo, "tokens", "uid") == ["TOK1", "TOK2"]
        assert await listed(net.emsp2, "tokens", "uid") == ["TOK2"]
        assert await listed(net.emsp1, "tokens", "uid") == ["TOK1"]
        # Sessions: only those of the caller's own tokens (the CPO pulls none of its own here).
        assert await listed(net.emsp1, "sessions") == ["S1"]
        assert await listed(net.emsp2, "sessions") == []
        assert await listed(net.cpo, "sessions") == []
        # Locations and Tariffs are for eMSP-like roles; a CPO sees its own.
        assert await listed(net.emsp2, "locations") == ["LOC1", "LOC2"]
        assert await listed(cpo2, "locations") == ["LOC2"]
        assert await listed(net.cpo, "locations") == ["LOC1"]
        assert await listed(cpo2, "tariffs") == []
        assert await listed(net.emsp2, "tariffs") == ["T1"]
        for path in ("LOC1", "LOC1/EVSE1", "LOC1/EVSE1/1"):
            response = await net.http.get(
                net.url(f"sender/locations/{path}"), headers=net.auth(cpo2)
            )
            assert response.status_code == 404, (path, response.text)
            response = await net.http.get(
                net.url(f"sender/locations/{path}"),
                headers=net.auth(cpo2, to_country_code="NL", to_party_id="CPA"),
            )
            assert response.status_code == 404, (path, response.text)
            response = await net.http.get(
                net.url(f"sender/locations/{path}"), headers=net.auth(net.emsp2)
            )
            assert response.status_code == 200, (path, response.text)

        # Real-time authorization is the CPOs' question: an eMSP learns nothing of others' tokens
        # (not even from the whitelist when the owner is silent).
        net.emsp1.answers["tokens"] = {"allowed": "ALLOWED", "token": token()}
        for delay in (0.0, 3.0):
            net.emsp1.delay = delay
            response = await net.http.post(
                net.url("sender/tokens/TOK1/authorize"), headers=net.auth(net.emsp2)
            )
            assert response.status_code == 404, response.text
            assert response.json()["status_code"] == 2004
        assert not [c for c in net.emsp1.calls if "authorize" in c.path]
