"""Messages between hub instances (DESIGN.md: "Anything that has to reach a charger connected to
another instance goes through a small broker interface").

A broker carries requests addressed to one instance (by its id) and brings the reply back. Each
instance registers a handler per topic; a request names the instance, the topic and a JSON payload,
and waits for the handler's JSON answer up to a timeout.

- ``LocalBroker``: in-process, the default. Instances in the same process (tests run several) find
  each other through a process-wide registry; payloads still go through JSON so both brokers
  behave alike.
- ``RedisBroker`` (``REDIS_URL`` set): each instance subscribes to its own channel; a request is
  published to the target's channel with a correlation id and the caller's channel, and the reply
  comes back on the caller's channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

log = logging.getLogger("voltroam.broker")

Payload = dict[str, Any]
Handler = Callable[[Payload], Awaitable[Payload]]

CHANNEL_PREFIX = "voltroam:instance:"


class BrokerError(Exception):
    """The request could not be answered."""


class InstanceUnreachable(BrokerError):
    """No instance with that id is listening (it stopped or died)."""


class BrokerTimeout(BrokerError, TimeoutError):
    """No reply within the timeout."""


class RemoteFailure(BrokerError):
    """The handler on the other instance raised, or it has no handler for the topic."""


def new_instance_id() -> str:
    return uuid.uuid4().hex


class Broker(ABC):
    """Request/reply between instances; subclasses move the bytes."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self._handlers: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def on(self, topic: str, handler: Handler) -> None:
        self._handlers[topic] = handler

    def off(self, topic: str) -> None:
        self._handlers.pop(topic, None)

    @abstractmethod
    async def start(self) -> None:
        """Begin receiving requests addressed to this instance."""

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    @abstractmethod
    async def request(
        self, instance_id: str, topic: str, payload: Payload, timeout: float
    ) -> Payload:
        """Ask ``instance_id``'s handler of ``topic``; raises InstanceUnreachable, BrokerTimeout
        or RemoteFailure."""

    async def _dispatch(self, topic: str, payload: Payload) -> Payload:
        """Run this instance's handler; failures become an ``error`` reply."""
        handler = self._handlers.get(topic)
        if handler is None:
            return {"__error__": f"no handler for {topic!r} on instance {self.instance_id}"}
        try:
            return _json_copy(await handler(payload))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("broker handler %s failed", topic)
            return {"__error__": f"{topic} failed on instance {self.instance_id}: {exc!r}"}

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _json_copy(payload: Payload) -> Payload:
    copied: Payload = json.loads(json.dumps(payload))
    return copied


def _unwrap(reply: Payload) -> Payload:
    if "__error__" in reply:
        raise RemoteFailure(str(reply["__error__"]))
    return reply


class LocalBroker(Broker):
    """Instances of this process only."""

    _instances: ClassVar[dict[str, LocalBroker]] = {}

    async def start(self) -> None:
        LocalBroker._instances[self.instance_id] = self

    async def stop(self) -> None:
        LocalBroker._instances.pop(self.instance_id, None)
        await super().stop()

    async def request(
        self, instance_id: str, topic: str, payload: Payload, timeout: float
    ) -> Payload:
        target = LocalBroker._instances.get(instance_id)
        if target is None:
            raise InstanceUnreachable(instance_id)
        try:
            reply = await asyncio.wait_for(target._dispatch(topic, _json_copy(payload)), timeout)
        except TimeoutError:
            raise BrokerTimeout(f"{topic} to {instance_id}: no reply in {timeout} s") from None
        return _unwrap(reply)


class RedisBroker(Broker):
    """Redis pub/sub: one channel per instance, replies matched by correlation id."""

    def __init__(self, instance_id: str, url: str) -> None:
        super().__init__(instance_id)
        self.url = url
        self.channel = CHANNEL_PREFIX + instance_id
        self._pending: dict[str, asyncio.Future[Payload]] = {}
        self._redis: Any = None
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from redis import asyncio as aioredis

        self._redis = aioredis.from_url(self.url)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # Subscribed before start() returns: a request to this instance cannot be lost once the
        # instance announced itself.
        await self._pubsub.subscribe(self.channel)
        self._listener = asyncio.create_task(self._listen(), name="broker-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        await super().stop()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(InstanceUnreachable("the broker stopped"))
        self._pending.clear()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.unsubscribe()
                await self._pubsub.aclose()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()

    async def request(
        self, instance_id: str, topic: str, payload: Payload, timeout: float
    ) -> Payload:
        correlation = uuid.uuid4().hex
        future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = future
        message = {
            "kind": "request",
            "id": correlation,
            "reply_to": self.channel,
            "topic": topic,
            "payload": payload,
        }
        # redis is imported by start() (a RedisBroker only): a hub without REDIS_URL never loads it.
        from redis.exceptions import RedisError

        try:
            try:
                listeners = await self._redis.publish(
                    CHANNEL_PREFIX + instance_id, json.dumps(message)
                )
            except (OSError, RedisError) as exc:
                raise InstanceUnreachable(f"{instance_id}: Redis unavailable ({exc})") from None
            if not listeners:
                raise InstanceUnreachable(instance_id)
            try:
                reply = await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise BrokerTimeout(f"{topic} to {instance_id}: no reply in {timeout} s") from None
        finally:
            self._pending.pop(correlation, None)
        return _unwrap(reply)

    async def _listen(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarted or the connection dropped: try again
                log.exception("broker: reading from Redis failed")
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    await self._pubsub.subscribe(self.channel)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                data = json.loads(message["data"])
            except (TypeError, ValueError):
                log.warning("broker: dropped an unreadable message")
                continue
            if data.get("kind") == "request":
                self._spawn(self._answer(data))
            elif data.get("kind") == "reply":
                future = self._pending.get(str(data.get("id")))
                if future is not None and not future.done():
                    future.set_result(data.get("payload") or {})

    async def _answer(self, data: Payload) -> None:
        reply = await self._dispatch(str(data.get("topic")), data.get("payload") or {})
        message = {"kind": "reply", "id": data.get("id"), "payload": reply}
        try:
            await self._redis.publish(str(data.get("reply_to")), json.dumps(message))
        except Exception:
            log.exception("broker: could not send the reply to %s", data.get("reply_to"))


def make_broker(redis_url: str, instance_id: str) -> Broker:
    if redis_url:
        return RedisBroker(instance_id, redis_url)
    return LocalBroker(instance_id)


__all__ = [
    "Broker",
    "BrokerError",
    "BrokerTimeout",
    "InstanceUnreachable",
    "LocalBroker",
    "RedisBroker",
    "RemoteFailure",
    "make_broker",
    "new_instance_id",
]
