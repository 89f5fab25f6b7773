"""Store and forward through the hub, with a real CPO and two real eMSPs on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json

from app.hub.alive import check_platforms
from app.hub.clientinfo import MODULE as CLIENTINFO
from tests.conftest import free_port, running_party
from tests.hub.network import (
    Network,
    cdr,
    charging_period,
    evse,
    location,
    network,
    session,
    stamp,
    tariff,
    token,
    wait_for,
)


async def test_location_reaches_both_emsps_unchanged(database_url: str) -> None:
    async with network(database_url) as net:
        body = location()
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=body, headers=net.auth(net.cpo)
        )
        assert response.status_code == 201, response.text
        assert response.json()["status_code"] == 1000
        assert response.headers["OCPI-from-party-id"] == "VRH"

        for emsp, party in ((net.emsp1, "EM1"), (net.emsp2, "EM2")):
            await wait_for(lambda e=emsp: len(e.pushes("locations")) == 1)
            [push] = emsp.pushes("locations")
            # The URL keeps the owner's country_code/party_id; the hub never changes last_updated.
            assert push.method == "PUT" and push.path == "/2.2.1/locations/NL/CPA/LOC1"
            assert push.body["last_updated"] == body["last_updated"]
            assert push.body["evses"][0]["uid"] == "EVSE1"
            # Broadcast: FROM the hub, TO the receiving party.
            assert push.headers["ocpi-from-party-id"] == "VRH"
            assert push.headers["ocpi-to-party-id"] == party

        # A second PUT of the same Location is an update (200), still broadcast.
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"),
            json=location(minutes=1),
            headers=net.auth(net.cpo),
        )
        assert response.status_code == 200
        await wait_for(lambda: len(net.emsp2.pushes("locations")) == 2)


async def test_evse_and_connector_updates_bump_parents(database_url: str) -> None:
    async with network(database_url) as net:
        await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
        )
        patch = {"status": "CHARGING", "last_updated": stamp(5)}
        response = await net.http.patch(
            net.url("receiver/locations/nl/cpa/loc1/EVSE1"), json=patch, headers=net.auth(net.cpo)
        )
        assert response.json()["status_code"] == 1000, response.text
        await wait_for(lambda: len(net.emsp1.pushes("locations", "PATCH")) == 1)
        assert net.emsp1.pushes("locations", "PATCH")[0].path.endswith("/NL/CPA/LOC1/EVSE1")

        stored = (
            await net.http.get(net.url("receiver/locations/NL/CPA/LOC1"), headers=net.auth(net.cpo))
        ).json()["data"]
        assert stored["evses"][0]["status"] == "CHARGING"
        assert stored["last_updated"] == stamp(5) and stored["evses"][0]["last_updated"] == stamp(5)

        # Connector PATCH bumps the EVSE and the Location.
        response = await net.http.patch(
            net.url("receiver/locations/NL/CPA/LOC1/EVSE1/1"),
            json={"max_amperage": 16, "last_updated": stamp(7)},
            headers=net.auth(net.cpo),
        )
        assert response.json()["status_code"] == 1000
        stored = (
            await net.http.get(net.url("sender/locations/LOC1"), headers=net.auth(net.emsp1))
        ).json()["data"]
        assert stored["evses"][0]["connectors"][0]["max_amperage"] == 16
        assert stored["last_updated"] == stamp(7) and stored["evses"][0]["last_updated"] == stamp(7)

        # A new EVSE through PUT on its own URL.
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1/EVSE2"),
            json=evse("EVSE2", minutes=9),
            headers=net.auth(net.cpo),
        )
        assert response.json()["status_code"] == 1000
        one = await net.http.get(
            net.url("sender/locations/LOC1/EVSE2"), headers=net.auth(net.emsp2)
        )
        assert one.json()["data"]["uid"] == "EVSE2"

        # A PATCH without last_updated is refused and changes nothing.
        response = await net.http.patch(
            net.url("receiver/locations/NL/CPA/LOC1/EVSE1"),
            json={"status": "OUTOFORDER"},
            headers=net.auth(net.cpo),
        )
        assert response.json()["status_code"] == 2001
        # PATCH of an unknown Location: 2003 with HTTP 404.
        response = await net.http.patch(
            net.url("receiver/locations/NL/CPA/NOPE"),
            json={"name": "x", "last_updated": stamp(9)},
            headers=net.auth(net.cpo),
        )
        assert response.status_code == 404 and response.json()["status_code"] == 2003


async def test_writes_under_other_ids_are_refused(database_url: str) -> None:
    async with network(database_url) as net:
        cases = [
            # Another party's ids in the URL.
            ("receiver/locations/NL/XXX/LOC1", location(pid="XXX"), net.cpo),
            # The body does not match the URL.
            ("receiver/locations/NL/CPA/LOC1", location("OTHER"), net.cpo),
            ("receiver/locations/NL/CPA/LOC1", location(cc="DE"), net.cpo),
            # An eMSP cannot publish Locations, a CPO cannot publish Tokens.
            ("receiver/locations/NL/EM1/LOC1", location(pid="EM1"), net.emsp1),
            ("receiver/tokens/NL/CPA/TOK1", token(cc="NL", pid="CPA"), net.cpo),
        ]
        for path, body, party in cases:
            response = await net.http.put(net.url(path), json=body, headers=net.auth(party))
            assert response.json()["status_code"] == 2001, (path, response.text)
        # FROM headers naming a party that is not the caller's.
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"),
            json=location(),
            headers=net.auth(net.cpo, from_country_code="DE", from_party_id="EM2"),
        )
        assert response.json()["status_code"] == 2001
        listing = await net.http.get(net.url("sender/locations"), headers=net.auth(net.emsp1))
        assert listing.json()["data"] == [] and listing.headers["X-Total-Count"] == "0"
        assert net.emsp1.pushes() == [] or all(
            c.path.startswith("/2.2.1/hubclientinfo") for c in net.emsp1.pushes()
        )


async def test_sessions_and_cdrs_reach_only_the_token_owner(database_url: str) -> None:
    async with network(database_url) as net:
        response = await net.http.put(
            net.url("receiver/sessions/NL/CPA/S1"), json=session(), headers=net.auth(net.cpo)
        )
        assert response.status_code == 201, response.text
        await wait_for(lambda: len(net.emsp1.pushes("sessions")) == 1)
        # PATCH appends charging periods.
        for minute in (10, 20):
            patch = {
                "kwh": minute / 2,
                "charging_periods": [charging_period(minute, 5)],
                "last_updated": stamp(minute),
            }
            response = await net.http.patch(
                net.url("receiver/sessions/NL/CPA/S1"), json=patch, headers=net.auth(net.cpo)
            )
            assert response.json()["status_code"] == 1000
        await wait_for(lambda: len(net.emsp1.pushes("sessions")) == 3)
        stored = (
            await net.http.get(net.url("receiver/sessions/NL/CPA/S1"), headers=net.auth(net.cpo))
        ).json()["data"]
        assert [p["start_date_time"] for p in stored["charging_periods"]] == [stamp(10), stamp(20)]

        response = await net.http.post(
            net.url("receiver/cdrs"), json=cdr(), headers=net.auth(net.cpo)
        )
        assert response.status_code == 201 and response.json()["status_code"] == 1000
        location_url = response.headers["Location"]
        assert location_url.startswith(net.hub.base_url + "/ocpi/2.2.1/receiver/cdrs/")
        await wait_for(lambda: len(net.emsp1.pushes("cdrs")) == 1)
        assert net.emsp1.pushes("cdrs")[0].method == "POST"
        got = await net.http.get(location_url, headers=net.auth(net.cpo))
        assert got.json()["data"]["id"] == "CDR1"
        # The same CDR again is harmless; a different CDR under the same id is refused.
        again = await net.http.post(net.url("receiver/cdrs"), json=cdr(), headers=net.auth(net.cpo))
        assert again.json()["status_code"] == 1000 and again.headers["Location"] == location_url
        changed = {**cdr(), "total_energy": 11}
        refused = await net.http.post(
            net.url("receiver/cdrs"), json=changed, headers=net.auth(net.cpo)
        )
        assert refused.json()["status_code"] == 2001

        # eMSP 2 got nothing of it, and cannot read it.
        assert net.emsp2.pushes("sessions") == [] and net.emsp2.pushes("cdrs") == []
        assert (await net.http.get(location_url, headers=net.auth(net.emsp2))).status_code == 404
        mine = await net.http.get(net.url("sender/sessions"), headers=net.auth(net.emsp1))
        theirs = await net.http.get(net.url("sender/sessions"), headers=net.auth(net.emsp2))
        assert [s["id"] for s in mine.json()["data"]] == ["S1"]
        assert theirs.json()["data"] == []
        cdrs = await net.http.get(net.url("sender/cdrs"), headers=net.auth(net.emsp1))
        assert [c["id"] for c in cdrs.json()["data"]] == ["CDR1"]


async def test_tokens_and_tariffs(database_url: str) -> None:
    async with network(database_url) as net:
        response = await net.http.put(
            net.url("receiver/tokens/NL/EM1/TOK1?type=RFID"),
            json=token(),
            headers=net.auth(net.emsp1),
        )
        assert response.status_code == 201, response.text
        await wait_for(lambda: len(net.cpo.pushes("tokens")) == 1)
        [push] = net.cpo.pushes("tokens")
        assert push.path == "/2.2.1/tokens/NL/EM1/TOK1" and push.body["uid"] == "TOK1"
        assert json.loads(json.dumps(push.body))["whitelist"] == "ALLOWED"
        patch = {"valid": False, "last_updated": stamp(3)}
        response = await net.http.patch(
            net.url("receiver/tokens/NL/EM1/TOK1"), json=patch, headers=net.auth(net.emsp1)
        )
        assert response.json()["status_code"] == 1000
        await wait_for(lambda: len(net.cpo.pushes("tokens", "PATCH")) == 1)
        tokens = await net.http.get(net.url("sender/tokens"), headers=net.auth(net.cpo))
        assert tokens.json()["data"][0]["valid"] is False

        response = await net.http.put(
            net.url("receiver/tariffs/NL/CPA/T1"), json=tariff(), headers=net.auth(net.cpo)
        )
        assert response.status_code == 201
        await wait_for(lambda: len(net.emsp2.pushes("tariffs")) == 1)
        response = await net.http.delete(
            net.url("receiver/tariffs/NL/CPA/T1"), headers=net.auth(net.cpo)
        )
        assert response.json()["status_code"] == 1000
        await wait_for(lambda: len(net.emsp2.pushes("tariffs", "DELETE")) == 1)
        listing = await net.http.get(net.url("sender/tariffs"), headers=net.auth(net.emsp2))
        assert listing.json()["data"] == []


async def test_get_all_pages_with_every_header(database_url: str) -> None:
    async with network(database_url, ocpi_max_page_size=4) as net:
        for i in range(10):
            await net.http.put(
                net.url(f"receiver/locations/NL/CPA/L{i}"),
                json=location(f"L{i}", minutes=i),
                headers=net.auth(net.cpo),
            )
        seen: list[str] = []
        url: str | None = net.url("sender/locations") + f"?date_from={stamp(2)}&limit=50"
        while url:
            page = await net.http.get(url, headers=net.auth(net.emsp1))
            assert page.headers["X-Total-Count"] == "8" and page.headers["X-Limit"] == "4"
            seen += [loc["id"] for loc in page.json()["data"]]
            link = page.headers.get("Link")
            if link:
                assert "date_from=" in link and link.startswith(f"<{net.hub.base_url}/")
            url = link[1 : link.index(">")] if link else None
        assert seen == [f"L{i}" for i in range(2, 10)]


async def test_directed_messages_and_routing_errors(database_url: str) -> None:
    async with network(database_url) as net:
        # Directed at eMSP 2 only: forwarded at once, the receiver's answer comes back.
        headers = net.auth(net.cpo, to_country_code="DE", to_party_id="EM2")
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC9"), json=location("LOC9"), headers=headers
        )
        assert response.json()["status_code"] == 1000
        assert len(net.emsp2.pushes("locations")) == 1
        assert net.emsp2.pushes("locations")[0].headers["ocpi-from-party-id"] == "CPA"
        assert net.emsp1.pushes("locations") == []

        # The receiver's own error goes back to the sender.
        net.emsp2.refuse_with = 2001
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC9"), json=location("LOC9", 1), headers=headers
        )
        assert response.json()["status_code"] == 2001
        net.emsp2.refuse_with = None

        unknown = net.auth(net.cpo, to_country_code="FR", to_party_id="ZZZ")
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC9"), json=location("LOC9"), headers=unknown
        )
        assert response.json()["status_code"] == 4001

        net.emsp2.delay = 3.0  # the hub waits 2 s
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC9"), json=location("LOC9"), headers=headers
        )
        assert response.json()["status_code"] == 4002
        net.emsp2.delay = 0

        pid = await _platform_id(net, "EM2")
        await net.http.post(f"{net.hub.base_url}/admin/platforms/{pid}/suspend", headers=net.admin)
        response = await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC9"), json=location("LOC9"), headers=headers
        )
        assert response.json()["status_code"] == 4003


async def _platform_id(net: Network, party_id: str) -> int:
    platforms = (
        await net.http.get(f"{net.hub.base_url}/admin/platforms", headers=net.admin)
    ).json()
    return next(p["id"] for p in platforms if p["roles"] and p["roles"][0]["party_id"] == party_id)


async def test_client_info_is_pushed_and_listed(database_url: str) -> None:
    async with network(database_url) as net:
        # eMSP 1 registered first: it was told about eMSP 2 and the CPO as they connected.
        await wait_for(
            lambda: (
                {c.path for c in net.emsp1.pushes(CLIENTINFO)}
                >= {"/2.2.1/hubclientinfo/DE/EM2", "/2.2.1/hubclientinfo/NL/CPA"}
            )
        )
        # eMSP 2 learnt about eMSP 1 when it connected.
        await wait_for(
            lambda: "/2.2.1/hubclientinfo/NL/EM1" in {c.path for c in net.emsp2.pushes(CLIENTINFO)}
        )
        body = next(c.body for c in net.emsp1.pushes(CLIENTINFO) if c.path.endswith("/NL/CPA"))
        assert body["role"] == "CPO" and body["status"] == "CONNECTED"
        assert "ocpi-to-party-id" not in next(iter(net.emsp1.pushes(CLIENTINFO))).headers

        listing = await net.http.get(net.url("hubclientinfo"), headers=net.auth(net.cpo))
        parties = {(c["country_code"], c["party_id"], c["status"]) for c in listing.json()["data"]}
        assert parties == {
            ("NL", "EM1", "CONNECTED"),
            ("DE", "EM2", "CONNECTED"),
            ("NL", "CPA", "CONNECTED"),
        }

        # Suspending a platform is announced.
        pid = await _platform_id(net, "EM2")
        before = len(net.emsp1.pushes(CLIENTINFO))
        await net.http.post(f"{net.hub.base_url}/admin/platforms/{pid}/suspend", headers=net.admin)
        await wait_for(lambda: len(net.emsp1.pushes(CLIENTINFO)) > before)
        assert net.emsp1.pushes(CLIENTINFO)[-1].body["status"] == "SUSPENDED"


async def test_offline_party_gets_latest_data_when_back(database_url: str) -> None:
    async with network(database_url, alive_check_after_seconds=0) as net:
        await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
        )
        await wait_for(lambda: len(net.emsp2.pushes("locations")) == 1)

        # eMSP 2 goes away; the still-alive check marks it OFFLINE.
        net.emsp2.fail_with = 503
        net.emsp2.accepted_tokens_backup = set(net.emsp2.accepted_tokens)  # type: ignore[attr-defined]
        net.emsp2.accepted_tokens.clear()  # its versions endpoint now answers 401
        statuses = await check_platforms(net.ctx)
        assert statuses[await _platform_id(net, "EM2")] == "OFFLINE"

        for minute in (1, 2, 3):
            await net.http.put(
                net.url("receiver/locations/NL/CPA/LOC1"),
                json=location(minutes=minute),
                headers=net.auth(net.cpo),
            )
        await net.http.put(
            net.url("receiver/tariffs/NL/CPA/T1"), json=tariff(), headers=net.auth(net.cpo)
        )
        # (Queued versions of one Location may be superseded by newer ones: wait for the last.)
        await wait_for(lambda: net.emsp1.pushes("locations")[-1].body["last_updated"] == stamp(3))
        pushes_while_away = len(net.emsp2.calls)

        # Back: the check marks it CONNECTED and the hub resends what changed, latest only.
        net.emsp2.fail_with = None
        net.emsp2.accepted_tokens.update(net.emsp2.accepted_tokens_backup)  # type: ignore[attr-defined]
        statuses = await check_platforms(net.ctx)
        assert statuses[await _platform_id(net, "EM2")] == "CONNECTED"
        await wait_for(lambda: len(net.emsp2.pushes("tariffs")) == 1)
        await wait_for(lambda: net.emsp2.pushes("locations")[-1].body["last_updated"] == stamp(3))
        resent = [
            c for c in net.emsp2.calls[pushes_while_away:] if c.path.startswith("/2.2.1/locations")
        ]
        assert [c.body["last_updated"] for c in resent if c.method == "PUT"] == [stamp(3)]


async def test_failed_deliveries_are_retried_then_visible(database_url: str) -> None:
    async with network(database_url, delivery_max_attempts=3) as net:
        net.emsp1.fail_with = 500
        await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
        )
        await wait_for(lambda: len(net.emsp1.pushes("locations")) == 3)
        failed: list[dict] = []
        for _ in range(100):
            deliveries = await net.http.get(
                f"{net.hub.base_url}/admin/deliveries?status=failed", headers=net.admin
            )
            failed = [d for d in deliveries.json() if d["module"] == "locations"]
            if failed:
                break
            await asyncio.sleep(0.05)
        [failed_row] = failed
        assert failed_row["attempts"] == 3 and "gave up" in failed_row["last_error"]
        # An admin can retry it once the receiver is healthy again.
        net.emsp1.fail_with = None
        retried = await net.http.post(
            f"{net.hub.base_url}/admin/deliveries/{failed_row['id']}/retry", headers=net.admin
        )
        assert retried.status_code == 200
        await wait_for(lambda: len(net.emsp1.pushes("locations")) == 4)
        # The receiver refusing a message (2xxx) is final at once.
        net.emsp2.refuse_with = 2001
        await net.http.put(
            net.url("receiver/tariffs/NL/CPA/T1"), json=tariff(), headers=net.auth(net.cpo)
        )
        await wait_for(lambda: len(net.emsp2.pushes("tariffs")) == 1)
        await asyncio.sleep(0.3)
        assert len(net.emsp2.pushes("tariffs")) == 1
        summary = await net.http.get(
            f"{net.hub.base_url}/admin/deliveries/summary", headers=net.admin
        )
        assert summary.json()["delivered"] >= 1


async def test_cpo_locations_are_pulled_after_registration(database_url: str) -> None:
    objects = {
        "locations": [location(f"P{i}", minutes=i) for i in range(25)],
        "tariffs": [tariff()],
    }
    async with network(database_url, cpo_objects=objects) as net:

        def pulled() -> set[str]:
            return {
                call.path.rstrip("/").rsplit("/", 1)[-1] for call in net.emsp1.pushes("locations")
            }

        try:
            await wait_for(lambda: len(pulled()) == 25, timeout=15)
        except AssertionError:
            # What the hub did meanwhile, for whoever reads a failure of this test.
            syncs = await net.http.get(f"{net.hub.base_url}/admin/syncs", headers=net.admin)
            summary = await net.http.get(
                f"{net.hub.base_url}/admin/deliveries/summary", headers=net.admin
            )
            raise AssertionError(
                f"{len(pulled())} of 25 Locations at the eMSP "
                f"({len(net.emsp1.pushes('locations'))} pushes); syncs: {syncs.text}; "
                f"deliveries: {summary.text}"
            ) from None
        # Each once (exactly-once is the outbox's promise).
        assert len(net.emsp1.pushes("locations")) == 25
        await wait_for(lambda: len(net.emsp2.pushes("tariffs")) == 1)
        listing = await net.http.get(
            net.url("sender/locations?limit=100"), headers=net.auth(net.emsp1)
        )
        assert listing.headers["X-Total-Count"] == "25"


async def test_pull_walks_offsets_when_link_is_broken(database_url: str) -> None:
    async with network(database_url) as net:
        other = running_party(
            __import__("tests.peers", fromlist=["FakeParty"]).FakeParty(
                roles=[("CPO", "BE", "CPB")],
                endpoints=[("locations", "SENDER")],
                objects={
                    "locations": [
                        location(f"B{i}", minutes=i, cc="BE", pid="CPB") for i in range(23)
                    ]
                    + [location("FOREIGN", cc="FR", pid="ABC")]
                },
                broken_link=True,
                page_size=5,
            )
        )
        async with other as cpo_b:
            from tests.hub.network import register

            await register(net.http, net.hub, cpo_b)
            await wait_for(
                lambda: (
                    len([c for c in net.emsp1.pushes("locations") if "/BE/CPB/" in c.path]) == 23
                ),
                timeout=15,
            )
        # The object outside the CPO's own roles was ignored.
        assert not any("/FR/ABC/" in c.path for c in net.emsp1.pushes("locations"))
        assert free_port()


async def test_a_slow_receiver_holds_up_nobody_else(database_url: str) -> None:
    async with network(database_url) as net:
        net.emsp1.delay = 1.5
        await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
        )
        await wait_for(lambda: len(net.emsp2.pushes("locations")) == 1)
        started = asyncio.get_running_loop().time()
        await net.http.put(
            net.url("receiver/sessions/NL/CPA/S2"),
            json=session("S2", owner=("DE", "EM2")),
            headers=net.auth(net.cpo),
        )
        await wait_for(lambda: len(net.emsp2.pushes("sessions")) == 1)
        # Delivered while eMSP 1 still keeps the hub waiting on the Location.
        assert asyncio.get_running_loop().time() - started < 1.0
