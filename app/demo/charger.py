"""A simulated OCPP 1.6J charger for the demo, built on the ``ocpp`` package's ChargePoint.

It boots, reports its connector Available, heartbeats, and charges when the CSMS asks it to:
RemoteStartTransaction -> StartTransaction and a MeterValues every second; RemoteStopTransaction
-> StopTransaction, Available again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DemoCharger(ChargePoint):
    # Energy the simulated car takes per second (a fast demo, not a real charging curve).
    WH_PER_TICK = 100

    def __init__(self, charge_point_id: str, connection: Any) -> None:
        super().__init__(charge_point_id, connection, response_timeout=30)
        self.meter = 0
        self.transaction_id: int | None = None
        self.charging = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._meter_task: asyncio.Task[None] | None = None

    def _later(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def boot(self) -> None:
        await self.call(
            call.BootNotification(charge_point_model="Demo AC 22", charge_point_vendor="Voltroam")
        )
        await self._status("Available")

    async def _status(self, status: str) -> None:
        await self.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status=status)
        )

    @on("RemoteStartTransaction")
    async def remote_start(self, id_tag: str, **_: Any) -> call_result.RemoteStartTransaction:
        if self.transaction_id is not None:
            return call_result.RemoteStartTransaction(status="Rejected")
        self._later(self._start(id_tag))
        return call_result.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    async def remote_stop(self, transaction_id: int, **_: Any) -> call_result.RemoteStopTransaction:
        if transaction_id != self.transaction_id:
            return call_result.RemoteStopTransaction(status="Rejected")
        self._later(self._stop())
        return call_result.RemoteStopTransaction(status="Accepted")

    async def _start(self, id_tag: str) -> None:
        await asyncio.sleep(0.3)  # the driver plugs in
        await self._status("Preparing")
        answer = await self.call(
            call.StartTransaction(
                connector_id=1, id_tag=id_tag, meter_start=self.meter, timestamp=_now()
            )
        )
        if answer.id_tag_info.get("status") != "Accepted":
            await self._status("Available")
            return
        self.transaction_id = answer.transaction_id
        self.idle.clear()
        self.charging.set()
        await self._status("Charging")
        self._meter_task = asyncio.create_task(self._meter_loop())

    async def _meter_loop(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.meter += self.WH_PER_TICK
            await self.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=self.transaction_id,
                    meter_value=[
                        {
                            "timestamp": _now(),
                            "sampledValue": [
                                {
                                    "value": str(self.meter),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                }
                            ],
                        }
                    ],
                )
            )

    async def _stop(self) -> None:
        if self._meter_task is not None:
            self._meter_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._meter_task
        await self.call(
            call.StopTransaction(
                meter_stop=self.meter, timestamp=_now(), transaction_id=self.transaction_id or 0
            )
        )
        self.transaction_id = None
        self.charging.clear()
        await self._status("Finishing")
        await self._status("Available")
        self.idle.set()

    async def run(self) -> None:
        """Serve the CSMS's calls until the connection closes."""
        with contextlib.suppress(ConnectionClosed):
            await self.start()

    async def close(self) -> None:
        for task in [*self._tasks, *([self._meter_task] if self._meter_task else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def connect_charger(
    ws_base: str, charge_point_id: str, password: str
) -> tuple[DemoCharger, asyncio.Task[None], Any]:
    """Open the WebSocket (ocpp1.6, HTTP Basic), start the charger's loop and boot it."""
    basic = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    connection = await connect(
        f"{ws_base}/{charge_point_id}",
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers={"Authorization": f"Basic {basic}"},
    )
    charger = DemoCharger(charge_point_id, connection)
    task = asyncio.create_task(charger.run())
    await charger.boot()
    return charger, task, connection
