"""Ids travel as exactly one percent-encoded path segment; ids no encoding can carry are refused
(issue 14.4).

CiString ids are "printable ASCII" (types.asciidoc): ``a?b=c``, ``a#b``, ``a%b``, ``..\\..\\x`` and
``a b`` are valid ids, and every URL the hub builds from them must carry each as one segment
(RFC 3986: a segment is ``*pchar``, everything else percent-encoded). The peers record the request
target as it arrived on the wire (ASGI ``raw_path``), not the path their framework decoded.
``.`` and ``..`` are path steps that URL normalisation removes (``%2E`` is an unreserved character
and is decoded), and an id with a ``/`` is two segments: those are refused with 2001 and change
nothing.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from tests.hub.network import (
    Network,
    cdr,
    evse,
    location,
    network,
    session,
    stamp,
    tariff,
    token,
)
from tests.hub.network import wait_for as eventually
from tests.hub.profiles_data import set_charging_profile
from tests.peers import FakeParty

IDS = ["a?b=c", "a#b", "a%b", "..\\..\\x", "a b"]
REFUSED = [".", ".."]
TARIFFS = "/2.2.1/tariffs/NL/CPA/"

# RFC 3986 section 3.3: segment = *pchar; pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
PCHAR_SEGMENT = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+$")

CPO_EXTRA = [("commands", "RECEIVER"), ("sessions", "SENDER"), ("chargingprofiles", "RECEIVER")]
EMSP_EXTRA = [("tokens", "SENDER")]


def q(value: str) -> str:
    """How a careful client puts an id in a URL."""
    return quote(value, safe="")


def dotted(value: str) -> str:
    """Every character percent-encoded (``%2E%2E`` for ``..``), as a hostile client sends it."""
    return "".join(f"%{ord(c):02X}" for c in value)


def arrivals(party: FakeParty, method: str, prefix: str, ids: list[str], suffix: str = "") -> int:
    """How many requests arrived whose target is ``prefix``, then each id as one valid segment,
    then ``suffix``."""
    count = 0
    for call in party.calls:
        if call.method != method or not call.raw_path.startswith(prefix):
            continue
        rest = call.raw_path[len(prefix) :]
        if suffix:
            if not rest.endswith(suffix):
                continue
            rest = rest[: -len(suffix)]
        segments = rest.split("/")
        if all(PCHAR_SEGMENT.match(s) for s in segments) and [unquote(s) for s in segments] == ids:
            count += 1
    return count


def weird_location(location_id: str) -> dict[str, Any]:
    body = location(location_id)
    body["evses"] = [{**evse(), "uid": location_id}]
    body["evses"][0]["connectors"][0]["id"] = location_id
    return body


async def call(net: Network, party: FakeParty, method: str, path: str, **kwargs: Any) -> Any:
    headers = net.auth(party, **kwargs.pop("routing", {}))
    response = await net.http.request(method, net.url(path), headers=headers, **kwargs)
    return response.json()


async def test_ids_reach_partners_as_one_encoded_segment(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        net.cpo.answers["sessions"] = "ACCEPTED"
        net.cpo.answers["chargingprofiles"] = {"result": "ACCEPTED", "timeout": 30}
        net.emsp1.answers["tokens"] = {"allowed": "ALLOWED"}
        cpo, emsp = net.cpo, net.emsp1
        to_emsp2 = {"to_country_code": "DE", "to_party_id": "EM2"}
        for n, id_ in enumerate(IDS):
            loc = f"receiver/locations/NL/CPA/{q(id_)}"
            # Location, EVSE and Connector pushes: broadcast through the outbox.
            assert (await call(net, cpo, "PUT", loc, json=weird_location(id_)))[
                "status_code"
            ] == 1000
            own = await call(net, cpo, "GET", f"{loc}/{q(id_)}/{q(id_)}")
            assert own["data"]["id"] == id_, own
            patch = {"status": "CHARGING", "last_updated": stamp(n + 1)}
            assert (await call(net, cpo, "PATCH", f"{loc}/{q(id_)}", json=patch))[
                "status_code"
            ] == 1000
            connector_patch = {"max_voltage": 400, "last_updated": stamp(n + 1)}
            assert (await call(net, cpo, "PATCH", f"{loc}/{q(id_)}/{q(id_)}",
                               json=connector_patch))["status_code"] == 1000  # fmt: skip
            # A directed push: forwarded at once to the named eMSP.
            directed = await call(net, cpo, "PUT", loc, json=weird_location(id_), routing=to_emsp2)
            assert directed["status_code"] == 1000, directed
            # Tariffs: PUT and DELETE.
            tariff_url = f"receiver/tariffs/NL/CPA/{q(id_)}"
            assert (await call(net, cpo, "PUT", tariff_url, json=tariff(id_)))[
                "status_code"
            ] == 1000
            # (The PUT has left before the DELETE is queued, which would supersede it.)
            await eventually(lambda i=id_: arrivals(emsp, "PUT", TARIFFS, [i]) == 1)
            assert (await call(net, cpo, "DELETE", tariff_url))["status_code"] == 1000
            # A Token (to the CPO, with ?type=) and its real-time authorization (to the eMSP).
            put_token = await call(net, emsp, "PUT", f"receiver/tokens/NL/EM1/{q(id_)}",
                                   json=token(id_))  # fmt: skip
            assert put_token["status_code"] == 1000, put_token
            authorized = await call(net, cpo, "POST", f"sender/tokens/{q(id_)}/authorize")
            assert authorized["data"] == {"allowed": "ALLOWED"}, authorized
            # A Session (to the token's eMSP), its charging preferences and profiles (to the CPO).
            assert (await call(net, cpo, "PUT", f"receiver/sessions/NL/CPA/{q(id_)}",
                               json=session(id_)))["status_code"] == 1000  # fmt: skip
            prefs = {"profile_type": "FAST"}
            answer = await call(net, emsp, "PUT", f"sender/sessions/{q(id_)}/charging_preferences",
                                json=prefs)  # fmt: skip
            assert answer["data"] == "ACCEPTED", answer
            profile = set_charging_profile(f"{emsp.base_url}/2.2.1/chargingprofiles/x{n}")
            answer = await call(net, emsp, "PUT", f"receiver/chargingprofiles/{q(id_)}",
                                json=profile)  # fmt: skip
            assert answer["data"]["result"] == "ACCEPTED", answer
            # A GET of one object the hub does not hold, relayed to the CPO the headers name.
            await call(net, emsp, "GET", f"sender/locations/{q('Z' + id_)}",
                       routing={"to_country_code": "NL", "to_party_id": "CPA"})  # fmt: skip

        # What arrived, as it arrived: each id exactly once, as one encoded segment.
        await eventually(lambda: len(emsp.pushes("locations")) == 3 * len(IDS))
        await eventually(lambda: len(emsp.pushes("tariffs")) == 2 * len(IDS))
        await eventually(lambda: len(emsp.pushes("sessions")) == len(IDS))
        await eventually(lambda: len(cpo.pushes("tokens")) == len(IDS))
        for id_ in IDS:
            base = "/2.2.1/locations/NL/CPA/"
            assert arrivals(emsp, "PUT", base, [id_]) == 1, (id_, emsp.calls)
            assert arrivals(emsp, "PATCH", base, [id_, id_]) == 1, id_
            assert arrivals(emsp, "PATCH", base, [id_, id_, id_]) == 1, id_
            assert arrivals(net.emsp2, "PUT", base, [id_]) == 2, id_  # broadcast + directed
            assert arrivals(emsp, "PUT", TARIFFS, [id_]) == 1, id_
            assert arrivals(emsp, "DELETE", TARIFFS, [id_]) == 1, id_
            assert arrivals(cpo, "PUT", "/2.2.1/tokens/NL/EM1/", [id_]) == 1, id_
            assert arrivals(emsp, "POST", "/2.2.1/tokens/", [id_], "/authorize") == 1, id_
            assert arrivals(emsp, "PUT", "/2.2.1/sessions/NL/CPA/", [id_]) == 1, id_
            prefs_suffix = "/charging_preferences"
            assert arrivals(cpo, "PUT", "/2.2.1/sessions/", [id_], prefs_suffix) == 1, id_
            assert arrivals(cpo, "PUT", "/2.2.1/chargingprofiles/", [id_]) == 1, id_
            assert arrivals(cpo, "GET", "/2.2.1/locations/", ["Z" + id_]) >= 1, id_


async def test_ids_no_url_can_carry_are_refused_and_change_nothing(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        cpo, emsp = net.cpo, net.emsp1
        good = location("GOOD")
        put = await call(net, cpo, "PUT", "receiver/locations/NL/CPA/GOOD", json=good)
        assert put["status_code"] == 1000
        await eventually(lambda: len(emsp.pushes("locations")) == 1)
        stored = await call(net, cpo, "GET", "receiver/locations/NL/CPA/GOOD")
        queued = await net.http.get(f"{net.hub.base_url}/admin/deliveries", headers=net.admin)
        before = len(queued.json())
        connector = good["evses"][0]["connectors"][0]
        cases: list[tuple[FakeParty, str, str, dict[str, Any] | None, str]] = []
        for bad in [*REFUSED, "a/b"]:
            # In a body: (party, method, path, body, the field the message must name).
            cases += [
                (cpo, "PUT", "receiver/locations/NL/CPA/GOOD",
                 location("GOOD") | {"evses": [{**evse(), "uid": bad}]}, "evses.0.uid"),
                (cpo, "PUT", "receiver/locations/NL/CPA/GOOD/EVSE1",
                 {**evse(), "connectors": [{**connector, "id": bad}]}, "connectors.0.id"),
                (cpo, "PUT", "receiver/locations/NL/CPA/GOOD",
                 location("GOOD") | {"id": bad}, "id"),
                (cpo, "POST", "receiver/cdrs", cdr(bad), "id"),
                (emsp, "PUT", "receiver/tokens/NL/EM1/T2", token("T2") | {"uid": bad}, "uid"),
            ]  # fmt: skip
        for bad in REFUSED:
            # In the URL, percent-encoded so that no client normalises it away first.
            at = dotted(bad)
            cases += [
                (cpo, "PUT", f"receiver/locations/NL/CPA/{at}", location(bad), "location_id"),
                (cpo, "PATCH", f"receiver/locations/NL/CPA/GOOD/{at}",
                 {"status": "CHARGING", "last_updated": stamp(9)}, "evse_uid"),
                (cpo, "GET", f"receiver/locations/NL/CPA/GOOD/EVSE1/{at}", None, "connector_id"),
                (cpo, "PUT", f"receiver/tariffs/NL/CPA/{at}", tariff(bad), "tariff_id"),
                (cpo, "PUT", f"receiver/sessions/NL/CPA/{at}", session(bad), "session_id"),
                (cpo, "POST", f"sender/tokens/{at}/authorize", None, "token_uid"),
                (emsp, "PUT", f"receiver/tokens/NL/EM1/{at}", token(bad), "token_uid"),
                (emsp, "GET", f"sender/locations/{at}", None, "location_id"),
                (emsp, "PUT", f"sender/sessions/{at}/charging_preferences",
                 {"profile_type": "FAST"}, "session_id"),
                (emsp, "PUT", f"receiver/chargingprofiles/{at}",
                 set_charging_profile(f"{emsp.base_url}/2.2.1/x"), "session_id"),
            ]  # fmt: skip
        for party, method, path, body, field in cases:
            answer = await call(net, party, method, path, json=body)
            assert answer["status_code"] == 2001, (method, path, answer)
            assert field in answer["status_message"], (field, answer)

        # Nothing was stored, changed or queued.
        again = await call(net, cpo, "GET", "receiver/locations/NL/CPA/GOOD")
        assert again["data"] == stored["data"]
        queued = await net.http.get(f"{net.hub.base_url}/admin/deliveries", headers=net.admin)
        assert len(queued.json()) == before, queued.json()
        assert len(emsp.pushes("locations")) == 1 and not cpo.pushes("tokens")
