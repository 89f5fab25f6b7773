"""Bad input gets the OCPI error, changes nothing, and never produces a 500."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, invite, running_party, token_header
from tests.peers import FakeParty

ROLE = {"role": "CPO", "country_code": "NL", "party_id": "BAD", "business_details": {"name": "B"}}


def creds(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "token": "a-valid-token-b-value",
        "url": "http://127.0.0.1:9/versions",
        "roles": [dict(ROLE)],
    }
    body.update(overrides)
    return body


INVALID_BODIES: list[tuple[str, Any]] = [
    ("missing token", {k: v for k, v in creds().items() if k != "token"}),
    ("token too long", creds(token="x" * 65)),
    ("token with a space", creds(token="has space")),
    ("token wrong type", creds(token=12345)),
    ("url too long", creds(url="http://x/" + "a" * 300)),
    ("roles empty", creds(roles=[])),
    ("roles not a list", creds(roles={"role": "CPO"})),
    ("unknown role", creds(roles=[{**ROLE, "role": "DRIVER"}])),
    ("party_id too long", creds(roles=[{**ROLE, "party_id": "ABCD"}])),
    ("country_code too long", creds(roles=[{**ROLE, "country_code": "NLD"}])),
    ("country_code not ascii", creds(roles=[{**ROLE, "country_code": "NÉ"}])),
    ("business name too long", creds(roles=[{**ROLE, "business_details": {"name": "n" * 101}}])),
    (
        "business details missing",
        creds(roles=[{k: v for k, v in ROLE.items() if k != "business_details"}]),
    ),
    ("duplicate role", creds(roles=[ROLE, ROLE])),
    ("body is a list", [creds()]),
    ("body is a string", "credentials"),
    ("body is null", None),
]


@pytest.mark.parametrize(("case", "body"), INVALID_BODIES, ids=[c for c, _ in INVALID_BODIES])
async def test_invalid_credentials_are_2001_and_store_nothing(
    hub: RunningServer, http: httpx.AsyncClient, case: str, body: Any
) -> None:
    token_a = await invite(http, hub)
    url = f"{hub.base_url}/ocpi/2.2.1/credentials"
    response = await http.post(url, json=body, headers=token_header(token_a))
    assert response.status_code == 200, case
    payload = response.json()
    assert payload["status_code"] == 2001, payload
    assert payload["status_message"]
    # Token A still works, so nothing was consumed or stored.
    assert (await http.get(hub.versions_url, headers=token_header(token_a))).status_code == 200


@pytest.mark.parametrize("raw", ["{", "not json", '{"token": "abc",}', "\x00\x01"])
async def test_unparsable_json_is_http_400(
    hub: RunningServer, http: httpx.AsyncClient, raw: str
) -> None:
    token_a = await invite(http, hub)
    url = f"{hub.base_url}/ocpi/2.2.1/credentials"
    headers = {**token_header(token_a), "Content-Type": "application/json"}
    for method in ("POST", "PUT"):
        response = await http.request(method, url, content=raw.encode(), headers=headers)
        assert response.status_code == 400, (method, raw, response.text)
        body = response.json()
        assert body["status_code"] == 2000 and "timestamp" in body


async def test_invalid_put_on_registered_platform_changes_nothing(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    token_a = await invite(http, hub)
    async with running_party(FakeParty()) as party:
        await party.register_with(http, hub.versions_url, token_a)
    token_c = party.hub_token
    assert token_c
    url = f"{hub.base_url}/ocpi/2.2.1/credentials"
    response = await http.put(url, json=creds(token="x" * 65), headers=token_header(token_c))
    assert response.json()["status_code"] == 2001
    # Still registered with the same token.
    assert (await http.get(url, headers=token_header(token_c))).json()["data"]["token"] == token_c


async def test_unknown_ocpi_paths_and_methods_answer_in_ocpi_terms(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    token_a = await invite(http, hub)
    missing = await http.get(f"{hub.base_url}/ocpi/2.2.1/nothing", headers=token_header(token_a))
    assert missing.status_code == 404 and missing.json()["status_code"] == 2000
    patch = await http.patch(
        f"{hub.base_url}/ocpi/2.2.1/credentials", headers=token_header(token_a)
    )
    assert patch.status_code == 405 and patch.json()["status_code"] == 2000


async def test_random_garbage_never_produces_500(
    hub: RunningServer, http: httpx.AsyncClient
) -> None:
    """A small fuzz run over every endpoint with random JSON and random headers."""
    token_a = await invite(http, hub)
    rng = random.Random(2211)

    def garbage(depth: int = 0) -> Any:
        kind = rng.randrange(8 if depth < 3 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return rng.choice([True, False, 0, -1, 1e308, 2**70])
        if kind == 2:
            return "".join(chr(rng.randrange(0, 0x2FF)) for _ in range(rng.randrange(0, 80)))
        if kind == 3:
            return rng.choice(["CPO", "HUB", "NL", "2.2.1", "http://127.0.0.1:9/versions", ""])
        if kind == 4:
            return rng.random()
        if kind == 5:
            return [garbage(depth + 1) for _ in range(rng.randrange(0, 4))]
        keys = [
            "token",
            "url",
            "roles",
            "role",
            "party_id",
            "country_code",
            "business_details",
            "x",
        ]
        return {rng.choice(keys): garbage(depth + 1) for _ in range(rng.randrange(0, 5))}

    targets = [
        ("GET", "/ocpi/versions"),
        ("GET", "/ocpi/2.2.1"),
        ("GET", "/ocpi/2.2.1/credentials"),
        ("POST", "/ocpi/2.2.1/credentials"),
        ("PUT", "/ocpi/2.2.1/credentials"),
        ("DELETE", "/ocpi/2.2.1/credentials"),
        ("POST", "/admin/invitations"),
        ("POST", "/admin/platforms/connect"),
        ("GET", "/admin/platforms/abc"),
    ]
    auth_values = [
        token_header(token_a)["Authorization"],
        "Token " + "\u00e9" * 10,
        "Token ====",
        "Bearer x.y.z",
        "",
    ]
    for _ in range(150):
        method, path = rng.choice(targets)
        headers = {
            "Authorization": rng.choice(auth_values),
            "Content-Type": "application/json",
            "OCPI-to-party-id": rng.choice(["ABC", "", "\u00e9\u00e9", "TOOLONG"]),
            "OCPI-to-country-code": rng.choice(["NL", "X", ""]),
            "X-Request-ID": rng.choice(["", "id", "a b", "x" * 300]),
        }
        raw_headers = {k: v.encode("utf-8") for k, v in headers.items() if v}
        body = (
            json.dumps(garbage()).encode()
            if rng.random() < 0.8
            else bytes(rng.randrange(256) for _ in range(20))
        )
        response = await http.request(
            method, hub.base_url + path, content=body, headers=raw_headers
        )
        assert response.status_code < 500, (method, path, body, response.text)
        if path.startswith("/ocpi"):
            assert "status_code" in response.json()
    # The invitation was never consumed by garbage.
    assert (await http.get(hub.versions_url, headers=token_header(token_a))).status_code == 200


async def test_missing_body_is_2001(hub: RunningServer, http: httpx.AsyncClient) -> None:
    token_a = await invite(http, hub)
    url = f"{hub.base_url}/ocpi/2.2.1/credentials"
    response = await http.post(url, headers=token_header(token_a))
    assert response.status_code == 200 and response.json()["status_code"] == 2001


async def test_garbage_on_every_module_endpoint_never_produces_500(database_url: str) -> None:
    """Random bodies, paths and queries on every module, sent by a registered CPO and eMSP."""
    from tests.hub.network import cdr, location, network, session, tariff, token

    async with network(database_url) as net:
        await net.http.put(
            net.url("receiver/locations/NL/CPA/LOC1"), json=location(), headers=net.auth(net.cpo)
        )
        rng = random.Random(221)
        valid = [
            location(),
            session(),
            token(),
            tariff(),
            cdr(),
            {"last_updated": "2026-01-01T00:00:00Z"},
        ]
        bad_numbers: list[Any] = [1e24, 1e30, -1e30, 10**30, -0.0, "NaN", "Infinity", "1e999999"]

        def numbers_of(body: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
            if isinstance(body, bool):
                return []
            if isinstance(body, int | float):
                return [path]
            items = body.items() if isinstance(body, dict) else enumerate(body)
            if not isinstance(body, dict | list):
                return []
            return [p for k, v in items for p in numbers_of(v, (*path, k))]

        def break_a_number(body: Any) -> Any:
            """One number of a valid body made huge, NaN-like or negative zero."""
            out = json.loads(json.dumps(body))
            paths = numbers_of(out)
            if not paths:
                return out
            *parents, last = rng.choice(paths)
            node = out
            for step in parents:
                node = node[step]
            node[last] = rng.choice(bad_numbers)
            return out

        def mutate(body: Any, depth: int = 0) -> Any:
            if isinstance(body, dict) and body:
                out = dict(body)
                key = rng.choice(list(out))
                choice = rng.randrange(5)
                if choice == 0:
                    del out[key]
                elif choice == 1:
                    out[key] = rng.choice(
                        [None, 1, "x" * 600, [], {}, -1.5, True, "2026-13-01", 1e30, "NaN"]
                    )
                elif depth < 2:
                    out[key] = mutate(out[key], depth + 1)
                return out
            if isinstance(body, list) and body:
                return [mutate(item, depth + 1) for item in body]
            return rng.choice([None, "", "\u00e9" * 40, 10**30, False])

        paths = [
            ("PUT", "receiver/locations/NL/CPA/LOC1"),
            ("PATCH", "receiver/locations/NL/CPA/LOC1"),
            ("PUT", "receiver/locations/NL/CPA/LOC1/EVSE1"),
            ("PATCH", "receiver/locations/NL/CPA/LOC1/EVSE1/1"),
            ("PUT", "receiver/locations/NL/CPA/LOC1/NOPE/1"),
            ("GET", "receiver/locations/NL/CPA/LOC1/EVSE1/9"),
            ("PUT", "receiver/tariffs/NL/CPA/T1"),
            ("DELETE", "receiver/tariffs/NL/CPA/T9"),
            ("PUT", "receiver/sessions/NL/CPA/S1"),
            ("PATCH", "receiver/sessions/NL/CPA/S1"),
            ("POST", "receiver/cdrs"),
            ("POST", "receiver/cdrs"),
            ("PUT", "receiver/tariffs/NL/CPA/T2"),
            ("PUT", "receiver/sessions/NL/CPA/S2"),
            ("GET", "receiver/cdrs/99999999999999999999"),
            ("PUT", "receiver/tokens/NL/EM1/T1?type=NOPE"),
            ("PATCH", "receiver/tokens/NL/EM1/T1"),
            ("POST", "receiver/commands/START_SESSION"),
            ("POST", "receiver/commands/STOP_SESSION"),
            ("POST", "sender/commands/unknown-id"),
            ("POST", "sender/tokens/T1/authorize?type=RFID"),
            ("PUT", "sender/sessions/S1/charging_preferences"),
            ("GET", "sender/locations?offset=-5&limit=abc"),
            ("GET", "sender/locations?date_from=2026-99-99"),
            ("GET", "sender/locations/LOC1/EVSE1/1"),
            ("GET", "hubclientinfo?limit=0"),
            ("PUT", "receiver/chargingprofiles/S1"),
            ("GET", "receiver/chargingprofiles/S1?duration=x"),
            ("DELETE", "receiver/chargingprofiles/S1"),
            ("PUT", "sender/chargingprofiles/S1"),
            ("POST", "sender/chargingprofiles/results/nope"),
        ]
        for _ in range(400):
            method, path = rng.choice(paths)
            party = rng.choice([net.cpo, net.emsp1])
            draw = rng.random()
            if draw < 0.3:
                body = break_a_number(rng.choice(valid))
            elif draw < 0.9:
                body = mutate(rng.choice(valid))
            else:
                body = rng.choice(valid)
            headers = net.auth(party)
            if rng.random() < 0.2:
                headers.update({"OCPI-to-country-code": "DE", "OCPI-to-party-id": "EM2"})
            response = await net.http.request(method, net.url(path), json=body, headers=headers)
            assert response.status_code < 500, (method, path, body, response.text)
            assert "status_code" in response.json()


# --- Numbers (issue 14.5) ------------------------------------------------------------------------
#
# types.asciidoc: "Numbers in OCPI are formatted as JSON numbers [...] 4 decimals and a
# sufficiently large amount of digits". The hub takes |x| < 10^11 and a 32-bit int; anything else
# is bad input: 2001 naming the field, and nothing is stored or announced.

# Values as JSON text, so that the non-standard tokens Python's json module accepts are sent too.
BAD_NUMBERS = [
    "1e24",
    "1e30",
    "-1e30",
    "100000000000",
    "1000000000000000000000000000000",
    '"1e999999"',
    '"NaN"',
    '"Infinity"',
    '"-Infinity"',
    "NaN",
    "Infinity",
    "1e999",
]
BAD_INTS = [*BAD_NUMBERS, "2147483648", "-9223372036854775809"]
FIELD_MARK = "__FIELD__"


def _with(body: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    """A copy of ``body`` with the field at ``path`` replaced by a marker (created if absent)."""
    out = json.loads(json.dumps(body))
    node: Any = out
    for step in path[:-1]:
        if isinstance(node, dict) and step not in node:
            node[step] = {}
        node = node[step]
    node[path[-1]] = FIELD_MARK
    return out


def _number_cases() -> list[tuple[str, str, str, dict[str, Any], tuple[Any, ...], bool]]:
    from tests.hub.network import cdr, charging_period, connector, location, session, stamp, tariff

    with_periods = {**session(), "charging_periods": [charging_period(0, 1)]}
    preferences = {"profile_type": "CHEAP", "energy_need": 20}
    mix = {
        "is_green_energy": True,
        "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": 1}],
        "energy_sources": [{"source": "SOLAR", "percentage": 100}],
    }
    profile = {
        "charging_profile": {
            "charging_rate_unit": "W",
            "duration": 60,
            "charging_profile_period": [{"start_period": 0, "limit": 11000.0}],
        },
        "response_url": "https://scsp.example.com/ocpi/2.2.1/chargingprofiles/S1/1",
    }
    # (module, method, path, valid body, the number's path in it, whether it is an int)
    return [
        ("tariffs", "PUT", "receiver/tariffs/NL/CPA/T1", tariff(), ("elements", 0, "price_components", 0, "price"), False),
        ("tariffs", "PUT", "receiver/tariffs/NL/CPA/T1", tariff(), ("elements", 0, "price_components", 0, "vat"), False),
        ("tariffs", "PUT", "receiver/tariffs/NL/CPA/T1", tariff(), ("elements", 0, "price_components", 0, "step_size"), True),
        ("tariffs", "PUT", "receiver/tariffs/NL/CPA/T1", tariff(), ("elements", 0, "restrictions", "max_kwh"), False),
        ("tariffs", "PUT", "receiver/tariffs/NL/CPA/T1", tariff(), ("elements", 0, "restrictions", "min_duration"), True),
        ("tariffs", "PUT", "receiver/tariffs/NL/CPA/T1", tariff(), ("max_price", "excl_vat"), False),
        ("locations", "PUT", "receiver/locations/NL/CPA/LOC1", location(), ("evses", 0, "connectors", 0, "max_voltage"), True),
        ("locations", "PUT", "receiver/locations/NL/CPA/LOC1/EVSE1/1", connector(), ("max_electric_power",), True),
        ("locations", "PUT", "receiver/locations/NL/CPA/LOC1", {**location(), "energy_mix": mix}, ("energy_mix", "environ_impact", 0, "amount"), False),
        ("sessions", "PUT", "receiver/sessions/NL/CPA/S1", session(), ("kwh",), False),
        ("sessions", "PUT", "receiver/sessions/NL/CPA/S1", session(), ("total_cost", "excl_vat"), False),
        ("sessions", "PUT", "receiver/sessions/NL/CPA/S1", with_periods, ("charging_periods", 0, "dimensions", 0, "volume"), False),
        ("sessions", "PATCH", "receiver/sessions/NL/CPA/S1", {"last_updated": stamp(1)}, ("kwh",), False),
        ("cdrs", "POST", "receiver/cdrs", cdr(), ("total_cost", "excl_vat"), False),
        ("cdrs", "POST", "receiver/cdrs", cdr(), ("total_energy",), False),
        ("cdrs", "POST", "receiver/cdrs", cdr(), ("total_time",), False),
        ("cdrs", "POST", "receiver/cdrs", cdr(), ("charging_periods", 0, "dimensions", 0, "volume"), False),
        ("cdrs", "POST", "receiver/cdrs", cdr(), ("signed_data", "encoding_method_version"), True),
        ("sessions", "PUT", "sender/sessions/S1/charging_preferences", preferences, ("energy_need",), False),
        ("chargingprofiles", "PUT", "receiver/chargingprofiles/S1", profile, ("charging_profile", "charging_profile_period", 0, "limit"), False),
        ("chargingprofiles", "PUT", "receiver/chargingprofiles/S1", profile, ("charging_profile", "duration"), True),
    ]  # fmt: skip


async def test_out_of_range_numbers_are_2001_naming_the_field_and_store_nothing(
    database_url: str,
) -> None:
    from tests.hub.network import network

    async with network(database_url) as net:
        for module, method, path, body, where, is_int in _number_cases():
            party = net.emsp1 if module in ("chargingprofiles",) or "sender/" in path else net.cpo
            template = json.dumps(_with(body, where))
            for value in BAD_INTS if is_int else BAD_NUMBERS:
                raw = template.replace(json.dumps(FIELD_MARK), value)
                headers = {**net.auth(party), "Content-Type": "application/json"}
                response = await net.http.request(
                    method, net.url(path), content=raw.encode(), headers=headers
                )
                case = (method, path, where, value)
                assert response.status_code == 200, (case, response.text)
                answer = response.json()
                assert answer["status_code"] == 2001, (case, answer)
                assert str(where[-1]) in answer["status_message"], (case, answer)
        # Nothing was stored or queued for anyone.
        for module in ("locations", "tariffs"):
            page = await net.http.get(net.url(f"sender/{module}"), headers=net.auth(net.emsp1))
            assert page.headers["X-Total-Count"] == "0", page.text
        for module in ("sessions", "cdrs"):
            page = await net.http.get(net.url(f"sender/{module}"), headers=net.auth(net.emsp1))
            assert page.headers["X-Total-Count"] == "0", page.text
        deliveries = await net.http.get(f"{net.hub.base_url}/admin/deliveries", headers=net.admin)
        pushed = [d for d in deliveries.json() if d["module"] != "hubclientinfo"]
        assert pushed == [], deliveries.text


async def test_numbers_at_the_edge_of_the_range_are_kept_exactly(database_url: str) -> None:
    """The largest number the hub takes comes back as sent; -0 is a JSON number and means 0."""
    from tests.hub.network import network, session, tariff

    async with network(database_url) as net:
        body = {**session(), "kwh": 99999999999.9999, "total_cost": {"excl_vat": -0.0}}
        put = await net.http.put(
            net.url("receiver/sessions/NL/CPA/S1"), json=body, headers=net.auth(net.cpo)
        )
        assert put.json()["status_code"] == 1000, put.text
        got = await net.http.get(net.url("receiver/sessions/NL/CPA/S1"), headers=net.auth(net.cpo))
        assert '"kwh":99999999999.9999' in got.text.replace(" ", ""), got.text
        assert got.json()["data"]["total_cost"] == {"excl_vat": 0}, got.text
        assert '"excl_vat":0}' in got.text.replace(" ", ""), got.text
        low = tariff()
        low["elements"][0]["price_components"][0]["price"] = -99999999999.9999
        put = await net.http.put(
            net.url("receiver/tariffs/NL/CPA/T1"), json=low, headers=net.auth(net.cpo)
        )
        assert put.json()["status_code"] == 1000, put.text


# --- Integers the database cannot hold (issue 14.6) -----------------------------------------------


async def test_integers_beyond_the_database_are_2001_not_500(database_url: str) -> None:
    """offset/limit beyond 64 bits, ids beyond the id column: 2001 in the envelope, on SQLite
    and PostgreSQL alike; the largest values the database holds still work."""
    from tests.hub.network import network

    async with network(database_url) as net:
        too_big = [
            "sender/locations?offset=9223372036854775808",
            "sender/tariffs?offset=99999999999999999999999",
            "sender/tokens?limit=9223372036854775808",
            "sender/sessions?offset=9223372036854775808&limit=1",
            "sender/cdrs?offset=18446744073709551616",
            "hubclientinfo?offset=9223372036854775808",
            "receiver/cdrs/2147483648",
            "receiver/cdrs/99999999999999999999",
            "receiver/chargingprofiles/S1?duration=2147483648"
            "&response_url=https://scsp.example.com/cb",
        ]
        for path in too_big:
            response = await net.http.get(net.url(path), headers=net.auth(net.emsp1))
            assert response.status_code == 200, (path, response.text)
            assert response.json()["status_code"] == 2001, (path, response.text)
        for path in (
            "sender/locations?offset=9223372036854775807",
            "sender/tariffs?offset=2147483648&limit=9223372036854775807",
        ):
            response = await net.http.get(net.url(path), headers=net.auth(net.emsp1))
            assert response.status_code == 200, (path, response.text)
            assert response.json()["status_code"] == 1000 and response.json()["data"] == []
        largest = await net.http.get(net.url("receiver/cdrs/2147483647"), headers=net.auth(net.cpo))
        assert largest.status_code == 404 and largest.json()["status_code"] == 2000
