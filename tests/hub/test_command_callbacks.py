"""A command leaves while its callback is written, and the hub remembers the callbacks it
opened: a result posted before that write commits still finds it, and what the hub remembers
is never trusted over the database (a callback timed out meanwhile, e.g. by another instance,
is not answered twice)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from app.hub.relay import service as relay
from app.hub.relay.models import Callback, CallbackStatus
from app.ocpi.headers import PartyRef
from tests.hub.network import network
from tests.hub.test_realtime import CPO_EXTRA, EMSP_EXTRA, post_result, seed, start_session
from tests.hub.test_result_relay import SLOW_POLL, results, start


async def test_a_result_before_the_callback_is_committed_waits_for_it(database_url: str) -> None:
    async with network(database_url, **SLOW_POLL) as net:
        receiver: Any = SimpleNamespace(
            platform=SimpleNamespace(id=None), ref=PartyRef("NL", "CPA")
        )
        values = relay.callback_values(
            kind="command",
            action="START_SESSION",
            subject="LOC1",
            requester_platform_id=None,
            requester=PartyRef("NL", "EM1"),
            receiver=receiver,
            original_url="http://127.0.0.1:9/result",
        )
        async with net.ctx.sessions() as writer, net.ctx.sessions() as reader:
            written = relay.open_callback_meanwhile(writer, net.ctx, values)
            # Looked up before the write ran at all.
            found = asyncio.create_task(relay.find(reader, "command", values["public_id"], net.ctx))
            callback = await written
            seen = await found
        assert seen is not None and seen.id == callback.id
        assert not net.ctx.callbacks.pending
        # Another instance (no memory of it) finds it in the database.
        async with net.ctx.sessions() as session:
            fresh = await relay.find(session, "command", values["public_id"])
        assert fresh is not None and fresh.id == callback.id


async def test_a_callback_timed_out_meanwhile_is_not_answered_again(database_url: str) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=CPO_EXTRA,
        extra_emsp_endpoints=EMSP_EXTRA,
        **SLOW_POLL,
    ) as net:
        await seed(net)
        hub_url = await start(net, "late")
        public_id = hub_url.rsplit("/", 1)[1]
        assert net.ctx.callbacks.get(public_id) is not None
        # As another instance's expire_due would (this instance still remembers it waiting).
        async with net.ctx.sessions() as session:
            await session.exec(
                update(Callback)  # type: ignore[call-overload]
                .where(col(Callback.public_id) == public_id)
                .values(status=CallbackStatus.TIMED_OUT)
            )
            await session.commit()
        ack = await post_result(net.http, net.cpo, hub_url, "ACCEPTED")
        assert ack.json()["status_code"] == 1000
        net.ctx.notify_outbox()
        await asyncio.sleep(0.5)
        assert results(net) == []
        assert net.ctx.callbacks.get(public_id) is None


async def test_a_rejected_command_closes_its_callback(database_url: str) -> None:
    async with network(
        database_url, extra_cpo_endpoints=CPO_EXTRA, extra_emsp_endpoints=EMSP_EXTRA
    ) as net:
        await seed(net)
        net.cpo.answers["commands"] = {"result": "REJECTED", "timeout": 30}
        original = f"{net.emsp1.base_url}/2.2.1/commands/START_SESSION/rejected"
        response = await net.http.post(
            net.url("receiver/commands/START_SESSION"),
            json=start_session(net, original),
            headers=net.auth(net.emsp1),
        )
        assert response.json()["data"]["result"] == "REJECTED"
        # Written once the eMSP has the answer.
        for _ in range(200):
            async with net.ctx.sessions() as session:
                rows = (await session.exec(select(Callback).order_by(col(Callback.id)))).all()
            if rows and rows[-1].status == CallbackStatus.ANSWERED:
                break
            await asyncio.sleep(0.05)
        assert rows[-1].status == CallbackStatus.ANSWERED
        assert rows[-1].expires_at is None
        assert net.ctx.callbacks.get(rows[-1].public_id) is None
