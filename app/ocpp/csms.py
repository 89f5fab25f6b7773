"""The CSMS: WebSocket connections of chargers, their state, and calls to them.

One instance per app (``app.state.csms``). Connections live in this process; everything that
matters (chargers, transactions, commands in flight) is in the database, so a restarted hub
carries on when the chargers reconnect.

Several hub instances may share the database: a charger is connected to one of them, recorded in
``Charger.instance_id`` (valid while that instance's lease is, app/hub/cluster). ``Csms.call`` is
the one way to reach a charger: over the local WebSocket when this instance holds it, otherwise as
a request through the broker to the instance that does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ocpp.charge_point import camel_to_snake_case, remove_nones, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.messages import CallError
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.websockets import WebSocket

from app.core.dbtypes import utcnow
from app.hub.broker import BrokerTimeout, InstanceUnreachable
from app.hub.cluster import service as cluster
from app.hub.context import HubContext
from app.hub.parties import service as parties
from app.ocpp import identity
from app.ocpp import remote as remote_requests
from app.ocpp.bridge import AuthResult, Bridge
from app.ocpp.meters import Meters
from app.ocpp.models import Charger, OcppTransaction, RemoteRequest
from app.ocpp.own_cpo import OwnCpo
from app.ocpp.protocol import Disconnected, StarletteConnection
from app.ocpp.service import get_charger, valid_id, verify_password
from app.ocpp.settings import OcppSettings
from app.ocpp.versions import CALLS, HANDLERS, SUBPROTOCOLS

log = logging.getLogger("voltroam.ocpp.csms")


class ChargerNotConnected(Exception):
    pass


class CallRefused(Exception):
    """The call cannot be made: unknown action for the version, or a bad payload."""


@dataclass
class Link:
    charge_point_id: str
    version: str
    handler: Any
    connection: StarletteConnection
    websocket: WebSocket
    db_seen: float = field(default_factory=time.monotonic)


class Csms:
    def __init__(self, ctx: HubContext, settings: OcppSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or OcppSettings()
        identity.reserve(ctx, self.settings)
        self.bridge = Bridge(ctx, self.settings)
        # What chargers' messages and connections may hold of the connection pool at once: a
        # storm of them waits here, in order and without a deadline, instead of failing after
        # the pool's 30 s checkout timeout (which chargers received as InternalError), and
        # leaves the rest of the pool to OCPI requests and workers.
        self.db_slots = asyncio.Semaphore(self.settings.ocpp_db_concurrency)
        self.meters = Meters(ctx, self.settings, self.bridge, self.db_slots)
        # The own CPO is one of the hub's local parties: OCPI requests addressed to it come here
        # (answered REJECTED while the CSMS is not running).
        ctx.local_parties.register(OwnCpo(self))
        self.connections: dict[str, Link] = {}
        # Read when Prometheus scrapes: never out of step with the connections held.
        ctx.metrics.chargers_connected.set_function(lambda: len(self.connections))
        self._watchdog: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.running = False
        # The ocpp package logs every frame at INFO: only worth it when debugging.
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("ocpp").setLevel(logging.WARNING)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        # The own CPO party is created with the first charger, Location or Tariff (a hub without
        # chargers advertises no empty CPO); once it exists it is repaired and kept CONNECTED.
        async with self.ctx.sessions() as session:
            exists = await parties.local_platform(session, identity.KEY) is not None
        if exists:
            await identity.ensure_own_cpo(self.ctx, self.settings)
        self.ctx.broker.on("ocpp.call", self._call_for_other_instance)
        self.ctx.broker.on("ocpp.drop", self._drop_for_other_instance)
        self._watchdog = asyncio.create_task(self._watch(), name="ocpp-watchdog")
        self.spawn(self.meters.run(), "ocpp-meters")
        self.running = True

    async def stop(self) -> None:
        self.ctx.broker.off("ocpp.call")
        self.ctx.broker.off("ocpp.drop")
        self.running = False
        tasks = [*self._tasks, *([self._watchdog] if self._watchdog else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for link in list(self.connections.values()):
            with contextlib.suppress(Exception):
                await link.websocket.close(code=1001)
        # Readings still in memory (a clean shutdown loses none).
        try:
            await self.meters.flush()
        except Exception:
            log.exception("meter values not written at shutdown")

    def spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[Any] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def now() -> datetime:
        return utcnow()

    @contextlib.asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """A session for the work of one charger message or connection (one of db_slots)."""
        async with self.db_slots, self.ctx.sessions() as session:
            yield session

    # --- connections ------------------------------------------------------------------------

    async def _admit(self, charge_point_id: str, authorization: str | None) -> Charger | None:
        """Security profile 1/2: HTTP Basic with the charger's id as user name. Returns the
        charger's row as read (detached), None when refused."""
        async with self.db() as session:
            charger = await get_charger(session, charge_point_id)
            if charger is None:
                if not self.settings.ocpp_allow_unknown_chargers:
                    log.warning("refused unknown charger %s", charge_point_id)
                    return None
                charger = Charger(charge_point_id=charge_point_id)
                session.add(charger)
                await session.commit()
                return charger
        if charger.password_hash is None:
            return charger
        # scrypt (tens of ms in a thread), with no database session held.
        password = _basic_password(authorization, charge_point_id)
        if password is None or not await verify_password(password, charger.password_hash):
            log.warning("refused charger %s: bad credentials", charge_point_id)
            return None
        return charger

    async def serve(self, websocket: WebSocket, charge_point_id: str) -> None:
        offered = list(websocket.scope.get("subprotocols") or [])
        subprotocol = next((p for p in SUBPROTOCOLS if p in offered), None)
        if subprotocol is None or not valid_id(charge_point_id):
            # Refused before the upgrade: the charger gets HTTP 403.
            await websocket.close(code=1002)
            return
        admitted = await self._admit(charge_point_id, websocket.headers.get("authorization"))
        if admitted is None:
            await websocket.close(code=1008)
            return
        await websocket.accept(subprotocol=subprotocol)
        version = SUBPROTOCOLS[subprotocol]
        connection = StarletteConnection(websocket)
        handler_cls = HANDLERS[version]
        handler = handler_cls(charge_point_id, connection, self)
        link = Link(charge_point_id, version, handler, connection, websocket)
        previous = self.connections.get(charge_point_id)
        self.connections[charge_point_id] = link
        if previous is not None:
            # A charger that reconnects before its old socket timed out: the new one wins.
            with contextlib.suppress(Exception):
                await previous.websocket.close(code=1000)
        previous_holder = await self._connected(admitted, version)
        if previous_holder not in (None, self.ctx.instance_id):
            # Back on this instance while the one it left may still keep its old socket.
            self.spawn(self._tell_drop(previous_holder, charge_point_id), f"drop-{charge_point_id}")
        try:
            await handler.start()
        except Disconnected:
            pass
        except Exception:
            log.exception("connection of %s failed", charge_point_id)
        finally:
            try:
                await self.meters.settle(charge_point_id)
            except Exception:
                log.exception("meter values of %s not written; retried later", charge_point_id)
            if self.connections.get(charge_point_id) is link:
                del self.connections[charge_point_id]
                with contextlib.suppress(Exception):
                    await self._gone(charge_point_id, version)

    async def _connected(self, charger: Charger, version: str) -> str | None:
        """Record the charger (its row as ``_admit`` read it) as held by this instance, in one
        UPDATE; returns the instance that held it before."""
        now = utcnow()
        async with self.db() as session:
            await session.exec(
                update(Charger)
                .where(col(Charger.charge_point_id) == charger.charge_point_id)
                .values(
                    connected=True,
                    instance_id=self.ctx.instance_id,
                    ocpp_version=version,
                    last_seen_at=now,
                    connected_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            await self.meters.connected(session, charger.charge_point_id)
            previous = charger.instance_id
            charger.connected = True
            charger.instance_id = self.ctx.instance_id
            charger.ocpp_version = version
            if charger.location_id is not None:
                # Only a charger at a Location has EVSEs to show (re-read: as of now).
                located = await get_charger(session, charger.charge_point_id)
                if located is not None:
                    await self.bridge.show_charger(session, located)
        log.info("%s connected (OCPP %s)", charger.charge_point_id, version)
        return previous

    async def _gone(self, charge_point_id: str, version: str) -> None:
        """Record the charger as gone unless another instance holds it by now."""
        me = self.ctx.instance_id
        async with self.db() as session:
            # Conditional: the charger may have reconnected to another instance meanwhile.
            gone = await session.exec(
                update(Charger)
                .where(
                    col(Charger.charge_point_id) == charge_point_id,
                    or_(col(Charger.instance_id) == me, col(Charger.instance_id).is_(None)),
                )
                .values(connected=False, instance_id=None, last_seen_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if gone.rowcount != 1:
                return
            charger = await get_charger(session, charge_point_id)
            if charger is None:
                return
            await self.bridge.show_charger(session, charger)
            log.info("%s gone (OCPP %s)", charge_point_id, version)

    async def _tell_drop(self, instance_id: str, charge_point_id: str) -> None:
        with contextlib.suppress(Exception):
            await self.ctx.broker.request(
                instance_id, "ocpp.drop", {"charge_point_id": charge_point_id}, timeout=5.0
            )

    async def _drop_for_other_instance(self, message: dict[str, Any]) -> dict[str, Any]:
        link = self.connections.get(str(message.get("charge_point_id")))
        if link is not None:
            log.info("%s reconnected to another instance: closing", link.charge_point_id)
            # Forget it first: its disconnect must not mark the charger gone.
            del self.connections[link.charge_point_id]
            with contextlib.suppress(Exception):
                await link.websocket.close(code=1000)
        return {"dropped": link is not None}

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ocpp_watchdog_seconds)
            try:
                await self.watch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("OCPP watchdog round failed")

    async def watch_once(self) -> None:
        """Drop silent chargers, mark chargers nobody holds as gone, fail overdue commands."""
        await identity.touch(self.ctx)
        grace = (
            self.settings.ocpp_heartbeat_interval_seconds
            * self.settings.ocpp_heartbeat_grace_factor
        )
        mono = time.monotonic()
        for link in list(self.connections.values()):
            if mono - link.connection.last_rx > grace:
                log.warning("%s missed its heartbeats: closing", link.charge_point_id)
                with contextlib.suppress(Exception):
                    await link.websocket.close(code=1001)
        fresh = [
            cp
            for cp, link in self.connections.items()
            if mono - link.db_seen > self.settings.ocpp_heartbeat_interval_seconds / 2
        ]
        now = utcnow()
        async with self.ctx.sessions() as session:
            for start in range(0, len(fresh), 500):
                chunk = fresh[start : start + 500]
                await session.exec(
                    update(Charger)
                    .where(col(Charger.charge_point_id).in_(chunk))
                    .values(last_seen_at=now)
                )
                for cp in chunk:
                    if cp in self.connections:
                        self.connections[cp].db_seen = mono
            await session.commit()
            stale = (
                await session.exec(
                    select(Charger).where(
                        col(Charger.connected).is_(True),
                        col(Charger.last_seen_at) < now - timedelta(seconds=grace),
                    )
                )
            ).all()
            live = await cluster.live_instance_ids(session) if stale else set()
            for charger in stale:
                if charger.charge_point_id in self.connections:
                    continue
                holder = charger.instance_id
                if holder is not None and holder != self.ctx.instance_id and holder in live:
                    continue  # another instance holds it and watches it
                # Conditional: with several instances only one marks it gone (and pushes that).
                gone = await session.exec(
                    update(Charger)
                    .where(
                        col(Charger.id) == charger.id,
                        col(Charger.connected).is_(True),
                        col(Charger.instance_id).is_(None)
                        if holder is None
                        else col(Charger.instance_id) == holder,
                    )
                    .values(connected=False, instance_id=None)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
                if gone.rowcount != 1:
                    continue
                await session.refresh(charger)
                await self.bridge.show_charger(session, charger)
            overdue = (
                await session.exec(
                    select(RemoteRequest).where(
                        col(RemoteRequest.open).is_(True),
                        col(RemoteRequest.kind).in_(["START_SESSION", "STOP_SESSION"]),
                        col(RemoteRequest.expires_at) <= now,
                    )
                )
            ).all()
            for remote in overdue:
                await remote_requests.answer(
                    session,
                    self.ctx,
                    remote,
                    "FAILED",
                    "The charger did not act on the request in time",
                )
            if overdue:
                await session.commit()
                self.ctx.notify_outbox()

    # --- used by the handlers ---------------------------------------------------------------

    async def charger(self, session: AsyncSession, charge_point_id: str) -> Charger:
        charger = await get_charger(session, charge_point_id)
        if charger is None:  # deleted while connected
            raise OCPPError(details={"cause": "charger no longer registered"})
        return charger

    async def booted(
        self,
        charge_point_id: str,
        version: str,
        *,
        vendor: str | None,
        model: str | None,
        serial: str | None,
        firmware: str | None,
    ) -> None:
        async with self.db() as session:
            done = await session.exec(
                update(Charger)
                .where(col(Charger.charge_point_id) == charge_point_id)
                .values(
                    ocpp_version=version,
                    vendor=(vendor or "")[:64] or None,
                    model=(model or "")[:64] or None,
                    serial_number=(serial or "")[:64] or None,
                    firmware_version=(firmware or "")[:64] or None,
                    last_seen_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        if done.rowcount != 1:  # deleted while connected
            raise OCPPError(details={"cause": "charger no longer registered"})

    async def status(self, charge_point_id: str, evse: int, ocpi_status: str) -> None:
        async with self.db() as session:
            charger = await self.charger(session, charge_point_id)
            await self.bridge.set_evse_status(session, charger, evse, ocpi_status)

    async def status_all(self, charge_point_id: str, ocpi_status: str) -> None:
        async with self.db() as session:
            charger = await self.charger(session, charge_point_id)
            for number in self.bridge.evse_numbers(charger):
                await self.bridge.set_evse_status(session, charger, number, ocpi_status)
                await session.refresh(charger)

    async def authorize(self, charge_point_id: str, id_tag: str, evse: int | None) -> AuthResult:
        async with self.db() as session:
            charger = await self.charger(session, charge_point_id)
            return await self.bridge.authorize(session, charger, id_tag, evse)

    async def transaction_by_start(
        self, session: AsyncSession, charge_point_id: str, start_key: str
    ) -> OcppTransaction | None:
        return (
            await session.exec(
                select(OcppTransaction).where(
                    OcppTransaction.charge_point_id == charge_point_id,
                    OcppTransaction.start_key == start_key,
                )
            )
        ).first()

    # --- calls to chargers ------------------------------------------------------------------

    def version_of(self, charge_point_id: str) -> str:
        """The OCPP version of a charger connected to this instance."""
        link = self.connections.get(charge_point_id)
        if link is None:
            raise ChargerNotConnected(charge_point_id)
        return link.version

    async def holder(self, charge_point_id: str) -> tuple[str, str] | None:
        """(instance id, OCPP version) of the live instance that holds the charger, or None."""
        link = self.connections.get(charge_point_id)
        if link is not None:
            return self.ctx.instance_id, link.version
        async with self.ctx.sessions() as session:
            charger = await get_charger(session, charge_point_id)
            if (
                charger is None
                or not charger.connected
                or charger.instance_id is None
                or charger.instance_id == self.ctx.instance_id
                or not await cluster.is_live(session, charger.instance_id)
            ):
                return None
            return charger.instance_id, charger.ocpp_version or "1.6"

    async def reachable(self, charge_point_id: str) -> str | None:
        """The OCPP version of the charger when some instance holds it, else None."""
        held = await self.holder(charge_point_id)
        return held[1] if held is not None else None

    async def call(
        self, charge_point_id: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Send one OCPP call (payload as in the OCPP spec, camelCase) and return the answer,
        through whichever instance holds the charger.

        Raises ChargerNotConnected (nobody holds it), CallRefused, OCPPError (the charger's
        CALLERROR) or TimeoutError.
        """
        if charge_point_id in self.connections:
            return await self._call_here(charge_point_id, action, payload)
        held = await self.holder(charge_point_id)
        if held is None:
            raise ChargerNotConnected(charge_point_id)
        request = {"charge_point_id": charge_point_id, "action": action, "payload": payload}
        try:
            reply = await self.ctx.broker.request(
                held[0], "ocpp.call", request, self.settings.ocpp_response_timeout_seconds + 5
            )
        except InstanceUnreachable:
            raise ChargerNotConnected(charge_point_id) from None
        except BrokerTimeout as exc:
            raise TimeoutError(str(exc)) from None
        return _answer_from(charge_point_id, reply)

    async def _call_for_other_instance(self, request: dict[str, Any]) -> dict[str, Any]:
        """The broker handler of ``ocpp.call``: make the call here and say how it went."""
        try:
            answer = await self._call_here(
                str(request["charge_point_id"]), str(request["action"]), request["payload"]
            )
        except ChargerNotConnected:
            return {"error": "not_connected"}
        except CallRefused as exc:
            return {"error": "refused", "message": str(exc)}
        except OCPPError as exc:
            return {
                "error": "ocpp",
                "code": exc.code,
                "description": exc.description,
                "details": exc.details,
            }
        except TimeoutError:
            return {"error": "timeout"}
        return {"answer": answer}

    async def _call_here(
        self, charge_point_id: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        link = self.connections.get(charge_point_id)
        if link is None:
            raise ChargerNotConnected(charge_point_id)
        if action not in CALLS[link.version].admin_calls:
            raise CallRefused(f"{action} is not a call the hub makes in OCPP {link.version}")
        module = call16 if link.version == "1.6" else call201
        try:
            request = getattr(module, action)(**camel_to_snake_case(payload))
        except TypeError as exc:
            raise CallRefused(f"{action}: {exc}") from None
        # A CALLERROR from the charger is raised as OCPPError; no answer as TimeoutError.
        result = await link.handler.call(request, suppress=False)
        answer: dict[str, Any] = snake_to_camel_case(remove_nones(_as_dict(result)))
        return answer


def _answer_from(charge_point_id: str, reply: dict[str, Any]) -> dict[str, Any]:
    """The holding instance's reply to ``ocpp.call``, raised as the local call would have."""
    error = reply.get("error")
    if error is None:
        answer: dict[str, Any] = reply.get("answer") or {}
        return answer
    if error == "not_connected":
        raise ChargerNotConnected(charge_point_id)
    if error == "refused":
        raise CallRefused(str(reply.get("message")))
    if error == "timeout":
        raise TimeoutError(f"{charge_point_id} did not answer in time")
    raised = CallError(
        "", str(reply.get("code")), reply.get("description"), reply.get("details")
    ).to_exception()
    raise raised


def _as_dict(result: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(result) and not isinstance(result, type):
        return asdict(result)
    return dict(result or {})


def _basic_password(header: str | None, charge_point_id: str) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or user != charge_point_id:
        return None
    return password
