"""Two pushes creating the same object at once (a CPO that resends a PUT whose answer was slow,
while the first is still being stored): both are answered, one object is stored, nothing fails."""

from __future__ import annotations

import asyncio

from tests.hub.network import cdr, evse, location, network, tariff, wait_for


async def test_simultaneous_first_puts_of_one_location_are_all_accepted(database_url: str) -> None:
    async with network(database_url) as net:
        headers = net.auth(net.cpo)
        url = net.url("receiver/locations/NL/CPA/LOC9")
        bodies = [location("LOC9", minutes=m) for m in range(6)]
        answers = await asyncio.gather(
            *(net.http.put(url, json=body, headers=headers) for body in bodies)
        )
        for answer in answers:
            assert answer.json()["status_code"] == 1000, answer.text
        # One of them created it (201), the others stored new versions of it.
        assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
        # One Location: the version stored last (the hub keeps the order its pushes committed).
        page = await net.http.get(net.url("sender/locations"), headers=net.auth(net.emsp1))
        assert page.headers["X-Total-Count"] == "1", page.text
        kept = page.json()["data"][0]["last_updated"]
        assert kept in {body["last_updated"] for body in bodies}
        # Each eMSP gets them in that order, so it ends with the same version.
        for emsp in (net.emsp1, net.emsp2):
            await wait_for(
                lambda emsp=emsp: (
                    bool(emsp.pushes("locations"))
                    and emsp.pushes("locations")[-1].body["last_updated"] == kept
                )
            )
        # And the first EVSE PUT after them updates that one Location.
        new_evse = evse("EVSE1", status="CHARGING", minutes=10)
        answer = await net.http.put(f"{url}/EVSE1", json=new_evse, headers=headers)
        assert answer.json()["status_code"] == 1000, answer.text


async def test_simultaneous_first_puts_of_one_tariff_are_all_accepted(database_url: str) -> None:
    async with network(database_url) as net:
        headers = net.auth(net.cpo)
        url = net.url("receiver/tariffs/NL/CPA/T9")
        bodies = [tariff("T9", minutes=m) for m in range(6)]
        answers = await asyncio.gather(
            *(net.http.put(url, json=body, headers=headers) for body in bodies)
        )
        for answer in answers:
            assert answer.json()["status_code"] == 1000, answer.text
        page = await net.http.get(net.url("sender/tariffs"), headers=net.auth(net.emsp1))
        assert page.headers["X-Total-Count"] == "1", page.text


async def test_one_cdr_posted_several_times_at_once_is_stored_and_sent_once(
    database_url: str,
) -> None:
    async with network(database_url) as net:
        body = cdr("CDR9")
        answers = await asyncio.gather(
            *(
                net.http.post(net.url("receiver/cdrs"), json=body, headers=net.auth(net.cpo))
                for _ in range(4)
            )
        )
        for answer in answers:
            assert answer.json()["status_code"] == 1000, answer.text
            assert answer.headers["Location"] == answers[0].headers["Location"]
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [
            (a.status_code, a.headers, a.text) for a in answers
        ]
        await wait_for(lambda: len(net.emsp1.pushes("cdrs")) == 1)
        await asyncio.sleep(0.5)  # a second delivery would have left by now
        assert len(net.emsp1.pushes("cdrs")) == 1


async def test_two_different_cdrs_under_one_id_at_once_one_is_refused(database_url: str) -> None:
    async with network(database_url) as net:
        first, second = cdr("CDR8"), cdr("CDR8")
        second["total_energy"] = 99
        answers = await asyncio.gather(
            *(
                net.http.post(net.url("receiver/cdrs"), json=body, headers=net.auth(net.cpo))
                for body in (first, second)
            )
        )
        codes = sorted(a.json()["status_code"] for a in answers)
        assert codes == [1000, 2001], [a.text for a in answers]
        await wait_for(lambda: len(net.emsp1.pushes("cdrs")) == 1)
