"""What the two OCPP versions share: the CSMS side of the ``ocpp`` package's ChargePoint with the
error handling OCPP-J asks for, and a WebSocket adapter for Starlette."""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

import ocpp.messages
from ocpp.exceptions import NotImplementedError as OcppNotImplemented
from ocpp.exceptions import NotSupportedError, OCPPError, PropertyConstraintViolationError
from ocpp.messages import CallError, MessageType, unpack
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.ocpi.schemas.common import format_datetime

log = logging.getLogger("voltroam.ocpp")

# The ocpp package validates every payload against its JSON schema in the default thread pool
# (ASYNC_VALIDATION). A payload of an OCPP message takes tens of microseconds to validate, and
# under the GIL the thread runs no faster than the event loop: profiled under bench_ocpp, the
# hand-off (submit, futures, waking the loop) cost ten times the validation itself and a third
# of the CSMS's CPU. Validated inline, on the event loop.
ocpp.messages.ASYNC_VALIDATION = False

# OCPP 1.6 spells two error codes differently from 2.0.1 (and from the package's exceptions).
V16_CODES = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}


# Labels of voltroam_ocpp_messages.
INBOUND, OUTBOUND = "inbound", "outbound"
OK, ERROR = "ok", "error"
# A frame that is not OCPP-J at all, and an action the charger's OCPP version does not define.
INVALID_ACTION, OTHER_ACTION = "invalid", "other"
# How every CALLERROR frame starts (ocpp's CallError.to_json writes no spaces).
CALLERROR_PREFIX = f"[{int(MessageType.CallError)},"


# The labelled children of voltroam_ocpp_messages, by label values (``labels()`` costs a lock
# and a tuple of strings on every call). Bounded: versions x known actions x 2 x 2.
_COUNTERS: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}


class Disconnected(Exception):
    """The charger closed the WebSocket."""


class StarletteConnection:
    """The ``recv()`` / ``send(str)`` object the ``ocpp`` ChargePoint expects, over Starlette."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        # Monotonic time of the last frame from the charger (the heartbeat watchdog reads it).
        self.last_rx = time.monotonic()
        self.received = 0

    async def recv(self) -> str:
        try:
            message = await self.websocket.receive()
        except WebSocketDisconnect as exc:
            raise Disconnected from exc
        if message["type"] == "websocket.disconnect":
            raise Disconnected
        self.last_rx = time.monotonic()
        self.received += 1
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            # OCPP-J frames are text; a binary frame is decoded so that it gets a CALLERROR too.
            return data.decode("utf-8", errors="replace")
        return str(text)

    async def send(self, message: str) -> None:
        try:
            await self.websocket.send_text(message)
        except WebSocketDisconnect as exc:
            # Gone while its answer was on the way: a disconnect like any other, not a failure.
            raise Disconnected from exc


def _unique_id(raw: str) -> str:
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        return "-1"
    if isinstance(data, list) and len(data) > 1 and isinstance(data[1], str):
        return data[1]
    return "-1"


class CsmsMixin:
    """Routes a charger's frames; malformed ones and unknown actions get a CALLERROR and the
    connection stays open (the package itself only logs unparsable frames).

    Also the one place where OCPP calls are counted (``voltroam_ocpp_messages``): every call from
    the charger passes through ``route_message`` and every call to it through ``call``.
    """

    _ocpp_version: str
    route_map: dict[str, Any]
    _response_queue: Any

    if TYPE_CHECKING:  # provided by ocpp's ChargePoint, which follows this mixin in the MRO

        async def _handle_call(self, msg: Any) -> Any: ...

    # The actions of the class's OCPP version (set by each ChargePoint class).
    actions: frozenset[str] = frozenset()

    def __init__(self, charge_point_id: str, connection: Any, csms: Any) -> None:
        # ocpp's ChargePoint follows this mixin in the MRO and takes these arguments.
        super().__init__(  # type: ignore[call-arg]
            charge_point_id,
            connection,
            response_timeout=csms.settings.ocpp_response_timeout_seconds,
        )
        self.csms = csms
        self._messages = csms.ctx.metrics.ocpp_messages
        # Set when a CALLERROR goes out: the answer to the charger's call being handled was one.
        self._replied_error = False

    def _count(self, action: str, direction: str, outcome: str) -> None:
        key = (self._ocpp_version, action, direction, outcome)
        counter = _COUNTERS.get(key)
        if counter is None or counter[0] is not self._messages:
            counter = (self._messages, self._messages.labels(*key))
            _COUNTERS[key] = counter
        counter[1].inc()

    def _action_label(self, action: Any) -> str:
        # Only the version's own action names: a charger must not make up label values.
        return action if isinstance(action, str) and action in self.actions else OTHER_ACTION

    async def _send(self, message: str) -> None:
        # The hub sends a CALLERROR only to answer a call of the charger (see route_message).
        if message.startswith(CALLERROR_PREFIX):
            self._replied_error = True
        await super()._send(message)  # type: ignore[misc]

    async def call(
        self,
        payload: Any,
        suppress: bool = True,
        unique_id: Any = None,
        skip_schema_validation: bool = False,
    ) -> Any:
        """ocpp's ChargePoint.call, counted: an answer is "ok"; a CALLERROR (raised, or None when
        suppressed) or no answer in time is "error"."""
        action = type(payload).__name__
        try:
            result = await super().call(  # type: ignore[misc]
                payload,
                suppress=suppress,
                unique_id=unique_id,
                skip_schema_validation=skip_schema_validation,
            )
        except Exception:
            self._count(action, OUTBOUND, ERROR)
            raise
        self._count(action, OUTBOUND, OK if result is not None else ERROR)
        return result

    def _known_action(self, action: str) -> bool:
        return action in self.actions

    def _evse_number(self, value: int, field: str) -> int:
        """An EVSE or connector number from the charger, 0 to OCPP_MAX_EVSES.

        The schemas set no upper bound, and the hub keeps per-EVSE state (statuses, the EVSEs
        of the Location, loops over them): a number above what any charger has is refused with
        a CALLERROR before anything is written ("PropertyConstraintViolation: Payload is
        syntactically correct but at least one field contains an invalid value", OCPP-J 4.2.3).
        """
        limit = self.csms.settings.ocpp_max_evses
        if not 0 <= value <= limit:
            raise PropertyConstraintViolationError(
                description=f"{field} must be between 0 and {limit}",
                details={"field": field, "value": value},
            )
        return value

    def _now(self) -> str:
        return format_datetime(self.csms.now())

    async def send_error(self, unique_id: str, error: OCPPError) -> None:
        code = error.code
        if self._ocpp_version == "1.6":
            code = V16_CODES.get(code, code)
        details = {k: v for k, v in (error.details or {}).items() if k != "ocpp_message"}
        await self._send(CallError(unique_id, code, error.description or "", details).to_json())

    async def route_message(self, raw_msg: str) -> None:
        try:
            msg = unpack(raw_msg)
        except OCPPError as exc:
            log.info("malformed frame: %s", exc)
            self._count(INVALID_ACTION, INBOUND, ERROR)
            await self.send_error(_unique_id(raw_msg), exc)
            return
        if msg.message_type_id != MessageType.Call:
            self._response_queue.put_nowait(msg)
            return
        self._replied_error = False
        outcome = ERROR
        try:
            await self._answer_call(msg)
            outcome = ERROR if self._replied_error else OK
        finally:
            self._count(self._action_label(msg.action), INBOUND, outcome)

    async def _answer_call(self, msg: Any) -> None:
        """Answer one call of the charger: a CALLRESULT, or a CALLERROR (which _send notes)."""
        if not isinstance(msg.action, str) or msg.action not in self.route_map:
            # "NotImplemented: Requested Action is not known by receiver";
            # "NotSupported: Requested Action is recognized but not supported".
            known = isinstance(msg.action, str) and self._known_action(msg.action)
            error: OCPPError = (
                NotSupportedError(details={"cause": f"{msg.action} is not supported"})
                if known
                else OcppNotImplemented(details={"cause": f"Unknown action {msg.action}"})
            )
            if known:
                error.description = "Requested Action is recognized but not supported"
            else:
                error.description = "Requested Action is not known by receiver"
            await self.send_error(str(msg.unique_id), error)
            return
        try:
            await self._handle_call(msg)
        except OCPPError as exc:
            log.info("CALLERROR for %s: %s", msg.action, exc)
            await self.send_error(str(msg.unique_id), exc)
