"""Two instances on one database: an agreement changed through one holds on the other at its
next request (the agreements are cached with the parties, app/hub/agreements.py)."""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx

from app.core.admin_auth import issue_admin_token
from tests.agreements.network import party
from tests.conftest import RunningServer, running_hub, running_party, token_header
from tests.hub.network import FAST, location, register


async def _agree(http: httpx.AsyncClient, hub: RunningServer, state: str) -> None:
    assert hub.settings is not None
    response = await http.post(
        f"{hub.base_url}/admin/agreements",
        json={"cpo": "NL*CPA", "emsp": "NL*EM1", "state": state},
        headers={"Authorization": f"Bearer {issue_admin_token(hub.settings)}"},
    )
    assert response.status_code == 200, response.text


async def test_an_agreement_changed_on_one_instance_holds_on_the_other(database_url: str) -> None:
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        a = await stack.enter_async_context(
            running_hub(database_url, **FAST, agreements_default="closed")
        )
        b = await stack.enter_async_context(
            running_hub(database_url, **FAST, agreements_default="closed")
        )
        cpo, emsp = party("CPO", "NL", "CPA"), party("EMSP", "NL", "EM1")
        for p in (cpo, emsp):
            await stack.enter_async_context(running_party(p))
            await register(http, a, p)
        assert cpo.hub_token and emsp.hub_token
        pushed = await http.put(
            f"{a.base_url}/ocpi/2.2.1/receiver/locations/NL/CPA/L1",
            json=location("L1", cc="NL", pid="CPA"),
            headers=token_header(cpo.hub_token),
        )
        assert pushed.json()["status_code"] == 1000, pushed.text

        async def status_on_b() -> int:
            one = await http.get(
                f"{b.base_url}/ocpi/2.2.1/sender/locations/L1",
                headers=token_header(emsp.hub_token or ""),
            )
            listed = await http.get(
                f"{b.base_url}/ocpi/2.2.1/sender/locations",
                headers=token_header(emsp.hub_token or ""),
            )
            ids = [item["id"] for item in listed.json()["data"]]
            assert ids == (["L1"] if one.json()["status_code"] == 1000 else []), listed.text
            return int(one.json()["status_code"])

        assert await status_on_b() == 2003  # no agreement yet: unknown
        await _agree(http, a, "active")
        assert await status_on_b() == 1000
        await _agree(http, a, "suspended")
        assert await status_on_b() == 2003
        await _agree(http, a, "active")
        assert await status_on_b() == 1000
