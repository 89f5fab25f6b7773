"""A CPO's CommandResult goes to the eMSP's response_url right after the hub commits it, its
outbox row the fallback: sent once when the eMSP answered, again by the outbox rules (same
X-Request-ID) when it did not, and through the queue when the direct way does not apply."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import col, select

from app.hub.outbox.models import Delivery, DeliveryStatus
from tests.hub.network import Network, network, wait_for
from tests.hub.test_realtime import CPO_EXTRA, EMSP_EXTRA, post_result, relayed_url, seed
from tests.hub.test_realtime import start_session as start_body
from tests.peers import Call

# The worker would not poll within the test: what arrives was sent at once.
SLOW_POLL = {"delivery_poll_seconds": 30.0}


async def result_rows(net: Network) -> list[Delivery]:
    async with net.ctx.sessions() as session:
        rows = await session.exec(
            select(Delivery)
            .where(col(Delivery.module) == "commands", col(Delivery.url).is_not(None))
            .order_by(col(Delivery.id))
        )
        return list(rows.all())


async def rows_are(net: Network, expected: list[tuple[str, int]]) -> bool:
    return [(r.status, r.attempts) for r in await result_rows(net)] == expected


async def until(check: Any, timeout: float = 10.0) -> None:
    """Wait for an async condition."""
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def start(net: Network, ref: str) -> str:
    """START_SESSION through the hub; the hub's response_url the CPO was given."""
    net.cpo.answers["commands"] = {"result": "ACCEPTED", "timeout": 30}
    original = f"{net.emsp1.base_url}/2.2.1/commands/START_SESSION/{ref}"
    response = await net.http.post(
        net.url("receiver/commands/START_SESSION"),
        json=start_body(net, original),
        headers=net.auth(net.emsp1),
    )
    assert response.json()["data"]["result"] == "ACCEPTED", response.text
    return relayed_url(net.cpo, "START_SESSION")


def results(net: Network) -> list[Call]:
    return net.emsp1.pushes("commands", "POST")


async def test_a_result_is_sent_at_once_and_its_row_closed(database_url: str) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=CPO_EXTRA,
        extra_emsp_endpoints=EMSP_EXTRA,
        **SLOW_POLL,
    ) as net:
        await seed(net)
        hub_url = await start(net, "once")
        ack = await post_result(net.http, net.cpo, hub_url, "ACCEPTED")
        assert ack.json()["status_code"] == 1000
        # Long before the worker's next poll.
        await wait_for(lambda: len(results(net)) == 1, timeout=10)
        [call] = results(net)
        assert call.path.endswith("/commands/START_SESSION/once")
        assert call.body["result"] == "ACCEPTED"
        # Routed as from the CPO to the eMSP, with the ids of its outbox row.
        assert call.headers["ocpi-from-party-id"] == "CPA"
        assert call.headers["ocpi-to-party-id"] == "EM1"
        await until(lambda: rows_are(net, [(DeliveryStatus.DELIVERED, 1)]))
        [row] = await result_rows(net)
        assert call.headers["x-request-id"] == row.request_id
        # The worker finds nothing left to send.
        net.ctx.notify_outbox()
        await asyncio.sleep(0.5)
        assert len(results(net)) == 1


async def test_an_unknown_outcome_is_repeated_by_the_outbox_rules(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        await seed(net)
        hub_url = await start(net, "again")
        # The eMSP's server fails: the hub cannot know whether the result was taken.
        net.emsp1.fail_with = 503
        ack = await post_result(net.http, net.cpo, hub_url, "ACCEPTED")
        assert ack.json()["status_code"] == 1000
        await wait_for(lambda: len(results(net)) == 1)
        net.emsp1.fail_with = None
        await wait_for(lambda: len(results(net)) == 2)
        await until(lambda: rows_are(net, [(DeliveryStatus.DELIVERED, 2)]))
        first, second = results(net)
        assert first.body == second.body
        for header in ("x-request-id", "x-correlation-id"):
            assert first.headers[header] == second.headers[header]
        await asyncio.sleep(0.3)
        assert len(results(net)) == 2


async def test_a_second_result_waits_for_the_first_and_goes_through_the_queue(
    database_url: str,
) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=CPO_EXTRA,
        extra_emsp_endpoints=EMSP_EXTRA,
        # The held attempt ends long after the test released it.
        delivery_lease_seconds=20.0,
        ocpi_timeout_seconds=20.0,
    ) as net:
        await seed(net)
        hub_url = await start(net, "twice")
        # The eMSP holds the first result: it is on its way when the second comes in.
        net.emsp1.hold = {("commands", "POST")}
        ack = await post_result(net.http, net.cpo, hub_url, "ACCEPTED")
        assert ack.json()["status_code"] == 1000
        await wait_for(lambda: len(net.emsp1.held) == 1)
        ack = await post_result(net.http, net.cpo, hub_url, "FAILED")
        assert ack.json()["status_code"] == 1000
        await asyncio.sleep(0.5)
        # Not sent beside the first: rows of one response_url leave in order.
        assert len(results(net)) == 1
        net.emsp1.release.set()
        await wait_for(lambda: len(results(net)) == 2)
        assert [c.body["result"] for c in results(net)] == ["ACCEPTED", "FAILED"]
        await until(
            lambda: rows_are(net, [(DeliveryStatus.DELIVERED, 1), (DeliveryStatus.DELIVERED, 1)])
        )
