"""Peers build the hub's URLs from its version details in both ways seen in the field (13.5).

The 2.2.1-d2 examples join an endpoint URL and an id with a slash; a CPO built on a common Python
OCPI library concatenates (``endpoint_url + "NL/CPA/LOC1"``), which only works when the endpoint
URL ends with a slash. Both peers here read the hub's endpoints from its version details and use
them the way they do with every partner; every push, pull and command must arrive, and what the
hub hands back (Link, Location, response_url) stays in the canonical form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.hub.network import (
    Network,
    cdr,
    connector,
    location,
    network,
    session,
    stamp,
    token,
    wait_for,
)
from tests.peers import FakeParty

CPO_EXTRA = [("commands", "RECEIVER"), ("sessions", "SENDER")]
EMSP_EXTRA = [("tokens", "SENDER"), ("commands", "SENDER")]


def concatenate(url: str, *parts: str) -> str:
    """What the library does: the endpoint URL with the rest appended as it is."""
    return url + "/".join(parts)


def join_with_slash(url: str, *parts: str) -> str:
    """What the spec's examples suggest: a slash between the endpoint URL and the rest."""
    return url + "".join("/" + p for p in parts)


JOINERS = {"concatenating": concatenate, "slash-joining": join_with_slash}


async def endpoints(net: Network, party: FakeParty) -> dict[tuple[str, str], str]:
    """The hub's endpoints as the party reads them: versions, then the 2.2.1 details."""
    versions = (await net.http.get(net.hub.versions_url, headers=net.auth(party))).json()["data"]
    details_url = next(v["url"] for v in versions if v["version"] == "2.2.1")
    details = (await net.http.get(details_url, headers=net.auth(party))).json()["data"]
    return {(e["identifier"], e["role"]): e["url"] for e in details["endpoints"]}


def ok(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["status_code"] == 1000, (response.request.url, response.text)
    return body


@pytest.mark.parametrize("joiner", list(JOINERS))
async def test_both_ways_of_building_urls_reach_the_hub(database_url: str, joiner: str) -> None:
    join: Callable[..., str] = JOINERS[joiner]
    async with network(
        database_url,
        extra_cpo_endpoints=CPO_EXTRA,
        extra_emsp_endpoints=EMSP_EXTRA,
        ocpi_max_page_size=1,
    ) as net:
        base = f"{net.hub.base_url}/ocpi/2.2.1"
        cpo_urls = await endpoints(net, net.cpo)
        emsp_urls = await endpoints(net, net.emsp1)
        locations = cpo_urls[("locations", "RECEIVER")]
        cpo = net.auth(net.cpo)

        # PUT and PATCH of a Location, an EVSE and a Connector; GET of the CPO's own copy.
        ok(await net.http.put(join(locations, "NL", "CPA", "LOC1"), json=location(), headers=cpo))
        ok(await net.http.put(join(locations, "NL", "CPA", "LOC2"), json=location("LOC2"),
                              headers=cpo))  # fmt: skip
        patch = {"status": "CHARGING", "last_updated": stamp(5)}
        ok(await net.http.patch(join(locations, "NL", "CPA", "LOC1", "EVSE1"), json=patch,
                                headers=cpo))  # fmt: skip
        ok(await net.http.put(join(locations, "NL", "CPA", "LOC1", "EVSE1", "2"),
                              json=connector("2", 6), headers=cpo))  # fmt: skip
        own = ok(await net.http.get(join(locations, "NL", "CPA", "LOC1", "EVSE1"), headers=cpo))
        assert own["data"]["status"] == "CHARGING" and len(own["data"]["connectors"]) == 2
        await wait_for(lambda: len(net.emsp1.pushes("locations")) == 4)

        # Tokens: the eMSP pushes, the CPO asks for a real-time authorization.
        tokens = emsp_urls[("tokens", "RECEIVER")]
        ok(await net.http.put(join(tokens, "NL", "EM1", "TOK1"), json=token(),
                              headers=net.auth(net.emsp1)))  # fmt: skip
        net.emsp1.answers["tokens"] = {"allowed": "ALLOWED"}
        authorize = join(cpo_urls[("tokens", "SENDER")], "TOK1", "authorize")
        assert ok(await net.http.post(authorize, headers=cpo))["data"] == {"allowed": "ALLOWED"}

        # GET-all, straight from the advertised URL: pages of one, Link headers canonical.
        listing = emsp_urls[("locations", "SENDER")]
        first = await net.http.get(listing, headers=net.auth(net.emsp1))
        assert [d["id"] for d in ok(first)["data"]] == ["LOC2"]
        link = first.headers["Link"]
        assert link.startswith(f"<{base}/sender/locations?"), link
        following = link[1 : link.index(">")]
        second = await net.http.get(following, headers=net.auth(net.emsp1))
        assert [d["id"] for d in ok(second)["data"]] == ["LOC1"]
        one = ok(await net.http.get(join(listing, "LOC1", "EVSE1", "2"),
                                    headers=net.auth(net.emsp1)))  # fmt: skip
        assert one["data"]["id"] == "2"

        # Sessions and a CDR POSTed to the collection URL; its Location is canonical.
        sessions = cpo_urls[("sessions", "RECEIVER")]
        ok(await net.http.put(join(sessions, "NL", "CPA", "S1"), json=session(), headers=cpo))
        posted = await net.http.post(cpo_urls[("cdrs", "RECEIVER")], json=cdr(), headers=cpo)
        assert ok(posted) and posted.status_code == 201
        cdr_url = posted.headers["Location"]
        assert urlsplit(cdr_url).path.startswith("/ocpi/2.2.1/receiver/cdrs/")
        assert "//" not in urlsplit(cdr_url).path
        assert ok(await net.http.get(cdr_url, headers=cpo))["data"]["id"] == "CDR1"
        await wait_for(lambda: len(net.emsp1.pushes("cdrs")) == 1)

        # A command: forwarded to the CPO with a canonical response_url, its result relayed.
        net.cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 30}
        commands = emsp_urls[("commands", "RECEIVER")]
        original = f"{net.emsp1.base_url}/2.2.1/commands/START_SESSION/1"
        body = {"response_url": original, "token": token(), "location_id": "LOC1",
                "evse_uid": "EVSE1"}  # fmt: skip
        answer = ok(await net.http.post(join(commands, "START_SESSION"), json=body,
                                        headers=net.auth(net.emsp1)))  # fmt: skip
        assert answer["data"]["result"] == "ACCEPTED"
        [forwarded] = net.cpo.pushes("commands")
        hub_url = forwarded.body["response_url"]
        assert urlsplit(hub_url).path.startswith("/ocpi/2.2.1/sender/commands/")
        assert "//" not in urlsplit(hub_url).path
        ok(await net.http.post(hub_url, json={"result": "ACCEPTED"}, headers=cpo))
        await wait_for(lambda: any(c.path.endswith("/START_SESSION/1")
                                   for c in net.emsp1.pushes("commands")))  # fmt: skip


async def test_version_details_end_module_urls_with_a_slash(database_url: str) -> None:
    async with network(database_url) as net:
        urls = await endpoints(net, net.cpo)
        base = f"{net.hub.base_url}/ocpi/2.2.1/"
        assert urls[("locations", "RECEIVER")] == base + "receiver/locations/"
        assert all(url.startswith(base) and url.endswith("/") for url in urls.values())
