"""A refused request is never sent again under another URL shape (issue 13.2).

The peers here serve every route twice, the way some frameworks do: once as the spec spells it
and once with a trailing slash. On the canonical route they refuse with HTTP 404 and an OCPI
envelope (the spec's own answer for an unknown Location, 2003, or an unknown Token, 2004); the
trailing-slash twin would accept and act. A hub that guesses at the other spelling after a 404
runs a command the partner refused; it must take the envelope as the answer. Only a GET whose
404 is not an OCPI envelope (a framework's "no such route") may be tried once more with the
other spelling.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import running_party, token_header
from tests.hub.network import Network, location, network, register, session, token
from tests.hub.test_sync_jobs import job_when
from tests.peers import Call, FakeParty, decode_auth, envelope


@dataclass
class SlashTwin(FakeParty):
    """A FakeParty whose routes answer differently with and without a trailing slash.

    ``refusals``: (method, path suffix, OCPI status). A matching request on the canonical URL is
    answered HTTP 404 with that status in an envelope; the same request with a trailing slash
    reaches the normal FakeParty routes (which accept). A status of None answers a plain 404
    without an envelope (a framework's missing route) on the canonical URL instead.
    """

    refusals: list[tuple[str, str, int | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.app = self._twin(self.app)

    def _twin(self, inner: ASGIApp) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                path: str = scope["path"]
                canonical = path.rstrip("/")
                rule = next(
                    (
                        r
                        for r in self.refusals
                        if r[0] == scope["method"] and canonical.endswith(r[1])
                    ),
                    None,
                )
                if rule is not None and path == canonical:
                    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
                    self.calls.append(
                        Call(
                            scope["method"],
                            path,
                            decode_auth(headers.get("authorization")),
                            headers,
                            None,
                            scope.get("raw_path", b"").decode("latin-1"),
                        )
                    )
                    if rule[2] is None:
                        response = JSONResponse({"detail": "Not Found"}, status_code=404)
                    else:
                        response = envelope(None, rule[2], http_status=404)
                    await response(scope, receive, send)
                    return
                if rule is not None:
                    # The twin route: the same handler as the canonical one would be.
                    scope = {**scope, "path": canonical}
            await inner(scope, receive, send)

        return app


def sent(party: FakeParty, method: str, fragment: str) -> list[Call]:
    return [c for c in party.calls if c.method == method and fragment in c.path]


async def platform_id(net: Network, party_id: str) -> int:
    response = await net.http.get(f"{net.hub.base_url}/admin/platforms", headers=net.admin)
    return int(
        next(p["id"] for p in response.json() if any(r["party_id"] == party_id for r in p["roles"]))
    )


async def settled(net: Network, module: str, platform: int, path: str) -> list[dict[str, Any]]:
    """The deliveries of a module to one platform and path, once none of them is open."""
    for _ in range(500):
        response = await net.http.get(f"{net.hub.base_url}/admin/deliveries", headers=net.admin)
        rows = [
            r
            for r in response.json()
            if (r["module"], r["platform_id"], r["path"]) == (module, platform, path)
        ]
        if rows and all(r["status"] not in ("pending", "sending") for r in rows):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"{module} deliveries to platform {platform} still open")


async def put(net: Network, party: FakeParty, path: str, body: dict[str, Any]) -> None:
    response = await net.http.put(net.url(path), json=body, headers=net.auth(party))
    assert response.json()["status_code"] == 1000, response.text


async def test_refused_requests_are_sent_exactly_once(database_url: str) -> None:
    cpo = SlashTwin(
        roles=[("CPO", "DE", "TWC")],
        endpoints=[("commands", "RECEIVER"), ("sessions", "SENDER")],
        refusals=[("POST", "/commands/START_SESSION", 2003)],
        answers={"commands": {"result": "ACCEPTED", "timeout": 30}},
    )
    emsp = SlashTwin(
        roles=[("EMSP", "DE", "TWE")],
        endpoints=[("locations", "RECEIVER"), ("tokens", "SENDER"), ("commands", "SENDER")],
        refusals=[
            ("POST", "/tokens/TWTOK/authorize", 2004),
            ("PUT", "/locations/NL/CPA/LOC1", 2001),
            ("POST", "/commands/STOP_SESSION/1", 2000),
        ],
        answers={"tokens": {"allowed": "ALLOWED", "token": token("TWTOK", "DE", "TWE")}},
    )
    async with (
        network(database_url) as net,
        running_party(cpo),
        running_party(emsp),
    ):
        await register(net.http, net.hub, cpo)
        await register(net.http, net.hub, emsp)
        await put(net, cpo, "receiver/locations/DE/TWC/LOC9", location("LOC9", cc="DE", pid="TWC"))
        twin_session = {**session("S9", owner=("DE", "TWE")), "country_code": "DE"}
        await put(net, cpo, "receiver/sessions/DE/TWC/S9", {**twin_session, "party_id": "TWC"})
        await put(net, emsp, "receiver/tokens/DE/TWE/TWTOK", token("TWTOK", "DE", "TWE"))

        # A command the CPO refuses (2003, HTTP 404): sent once, never run by the twin route.
        response = await net.http.post(
            net.url("receiver/commands/START_SESSION"),
            json={
                "response_url": f"{emsp.base_url}/2.2.1/commands/START_SESSION/0",
                "token": token("TWTOK", "DE", "TWE"),
                "location_id": "LOC9",
                "evse_uid": "EVSE1",
            },
            headers=net.auth(emsp),
        )
        assert response.json()["status_code"] == 2003, response.text
        assert len(sent(cpo, "POST", "/commands/START_SESSION")) == 1

        # A real-time authorization the eMSP refuses (2004, HTTP 404): one request.
        response = await net.http.post(
            net.url("sender/tokens/TWTOK/authorize"), headers=net.auth(cpo)
        )
        assert response.json()["status_code"] == 2004, response.text
        assert len(sent(emsp, "POST", "/tokens/TWTOK/authorize")) == 1

        # A PUT push the eMSP refuses: one attempt, and the delivery is final.
        await put(net, net.cpo, "receiver/locations/NL/CPA/LOC1", location())
        [delivery] = await settled(net, "locations", await platform_id(net, "TWE"), "NL/CPA/LOC1")
        assert delivery["status"] == "failed" and delivery["attempts"] == 1, delivery
        assert len(sent(emsp, "PUT", "/locations/NL/CPA/LOC1")) == 1

        # A command result the eMSP's response_url refuses: posted once.
        response = await net.http.post(
            net.url("receiver/commands/STOP_SESSION"),
            json={
                "response_url": f"{emsp.base_url}/2.2.1/commands/STOP_SESSION/1",
                "session_id": "S9",
            },
            headers=net.auth(emsp),
        )
        assert response.json()["status_code"] == 1000, response.text
        [forwarded] = sent(cpo, "POST", "/commands/STOP_SESSION")
        assert cpo.hub_token
        ack = await net.http.post(
            forwarded.body["response_url"],
            json={"result": "ACCEPTED"},
            headers=token_header(cpo.hub_token),
        )
        assert ack.json()["status_code"] == 1000
        [result] = await settled(net, "commands", await platform_id(net, "TWE"), "")
        assert result["status"] == "failed" and result["attempts"] == 1, result
        assert len(sent(emsp, "POST", "/commands/STOP_SESSION/1")) == 1


async def test_a_get_still_finds_a_route_spelled_the_other_way(database_url: str) -> None:
    """GET is safe to repeat: a plain 404 (no envelope) is tried once with the other spelling."""
    cpo = SlashTwin(
        roles=[("CPO", "DE", "TWC")],
        endpoints=[("locations", "SENDER")],
        refusals=[("GET", "/2.2.1/locations", None)],
        objects={"locations": [location("LOC7", cc="DE", pid="TWC")]},
    )
    async with network(database_url, sync_after_registration=False) as net, running_party(cpo):
        await register(net.http, net.hub, cpo)
        twc = await platform_id(net, "TWC")
        queued = await net.http.post(
            f"{net.hub.base_url}/admin/platforms/{twc}/sync", headers=net.admin
        )
        assert queued.status_code == 202, queued.text
        job = await job_when(net.hub, twc, {"done", "failed"})
        assert job["state"] == "done", job
        assert job["modules"]["locations"]["stored"] == 1, job
        # The canonical URL was "no such route"; its twin (one more GET) answered.
        gets = sent(cpo, "GET", "/2.2.1/locations")
        assert [c.raw_path for c in gets] == ["/2.2.1/locations", "/2.2.1/locations/"]
        response = await net.http.get(net.url("sender/locations/LOC7"), headers=net.auth(net.emsp1))
        assert response.json()["status_code"] == 1000, response.text
        assert response.json()["data"]["id"] == "LOC7"
