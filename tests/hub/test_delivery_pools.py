"""The delivery worker's connection pool per receiver is closed once the receiver has had no push
for a while (a removed or quiet platform does not keep its sockets until the hub stops)."""

from __future__ import annotations

import math

import pytest

from app.hub.outbox import worker as worker_module
from tests.hub.network import location, network, wait_for


async def test_a_receivers_pool_is_closed_when_idle_and_made_again_when_needed(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with network(database_url) as net:
        worker = net.hub.app.state.background.worker
        url = net.url("receiver/locations/NL/CPA/LOC1")
        answer = await net.http.put(url, json=location(minutes=1), headers=net.auth(net.cpo))
        assert answer.json()["status_code"] == 1000, answer.text
        await wait_for(lambda: len(net.emsp1.pushes("locations")) == 1)
        await wait_for(lambda: len(net.emsp2.pushes("locations")) == 1)
        pools = dict(worker._clients)
        assert len(pools) >= 2  # one per eMSP pushed to

        # Not idle long enough: nothing closed.
        worker._swept = -math.inf
        await worker._close_idle_clients()
        assert worker._clients == pools

        # Idle long enough, but a push still on its way (the hub's own HubClientInfo pushes may
        # still be): that pool stays.
        monkeypatch.setattr(worker_module, "CLIENT_IDLE_SECONDS", 0.0)
        await wait_for(lambda: not any(worker._client_users.values()))
        busy = next(iter(pools))
        worker._client_users[busy] = 1
        worker._swept = -math.inf
        await worker._close_idle_clients()
        assert worker._clients.get(busy) is pools[busy]
        assert all(worker._clients.get(pid) is not pools[pid] for pid in pools if pid != busy)
        assert not pools[busy].http.is_closed
        worker._client_users[busy] = 0

        await wait_for(lambda: not any(worker._client_users.values()))
        worker._swept = -math.inf
        await worker._close_idle_clients()
        # (A push that started meanwhile would have made a new pool, never reused a closed one.)
        assert all(worker._clients.get(pid) is not client for pid, client in pools.items())
        assert all(client.http.is_closed for client in pools.values())

        # The next push to those receivers opens new pools.
        answer = await net.http.put(url, json=location(minutes=2), headers=net.auth(net.cpo))
        assert answer.json()["status_code"] == 1000, answer.text
        await wait_for(lambda: len(net.emsp1.pushes("locations")) == 2)
        await wait_for(lambda: len(net.emsp2.pushes("locations")) == 2)
        assert worker._clients and not any(c.http.is_closed for c in worker._clients.values())
