"""The broker between hub instances: request/reply, timeout, an instance nobody runs.

The same checks run on the in-process broker and, when Redis answers, on the Redis one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from app.hub.broker import (
    Broker,
    BrokerTimeout,
    InstanceUnreachable,
    LocalBroker,
    RedisBroker,
    RemoteFailure,
    new_instance_id,
)

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


async def redis_answers(url: str = REDIS_URL) -> bool:
    from redis import asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest.fixture(params=["local", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Broker]]:
    if request.param == "redis" and not await redis_answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    started: list[Broker] = []

    def build() -> Broker:
        instance = new_instance_id()
        broker: Broker = (
            LocalBroker(instance) if request.param == "local" else RedisBroker(instance, REDIS_URL)
        )
        started.append(broker)
        return broker

    yield build
    for broker in started:
        await broker.stop()


async def test_request_reaches_the_other_instance_and_the_reply_comes_back(
    make: Callable[[], Broker],
) -> None:
    a, b = make(), make()
    seen: list[dict[str, Any]] = []

    async def echo(payload: dict[str, Any]) -> dict[str, Any]:
        seen.append(payload)
        return {"echo": payload["n"], "by": b.instance_id}

    b.on("echo", echo)
    await a.start()
    await b.start()
    replies = await asyncio.gather(
        *(a.request(b.instance_id, "echo", {"n": n}, timeout=5) for n in range(20))
    )
    # Each request got its own answer (correlation ids), from b.
    assert [r["echo"] for r in replies] == list(range(20))
    assert {r["by"] for r in replies} == {b.instance_id}
    assert sorted(p["n"] for p in seen) == list(range(20))


async def test_timeout_when_the_handler_is_too_slow(make: Callable[[], Broker]) -> None:
    a, b = make(), make()

    async def slow(payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {}

    b.on("slow", slow)
    await a.start()
    await b.start()
    with pytest.raises(BrokerTimeout):
        await a.request(b.instance_id, "slow", {}, timeout=0.2)
    # BrokerTimeout is a TimeoutError: callers of a charger see the usual exception.
    with pytest.raises(TimeoutError):
        await a.request(b.instance_id, "slow", {}, timeout=0.2)


async def test_unknown_instance_and_failing_handler(make: Callable[[], Broker]) -> None:
    a, b = make(), make()

    async def broken(payload: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("boom")

    b.on("broken", broken)
    await a.start()
    await b.start()
    with pytest.raises(InstanceUnreachable):
        await a.request(new_instance_id(), "echo", {}, timeout=1)
    with pytest.raises(RemoteFailure, match="boom"):
        await a.request(b.instance_id, "broken", {}, timeout=2)
    with pytest.raises(RemoteFailure, match="no handler"):
        await a.request(b.instance_id, "missing", {}, timeout=2)
    await b.stop()
    with pytest.raises(InstanceUnreachable):
        await a.request(b.instance_id, "broken", {}, timeout=1)
