"""The OCPP versions the CSMS speaks: for each, its WebSocket subprotocol, the handlers of what
the charger sends (v16.py, v201.py) and the builder of what the hub sends (calls16.py,
calls201.py)."""

from __future__ import annotations

from typing import Any

from app.ocpp.calls import OutboundCalls
from app.ocpp.calls16 import CALLS16
from app.ocpp.calls201 import CALLS201
from app.ocpp.v16 import V16ChargePoint
from app.ocpp.v201 import V201ChargePoint

# Subprotocol -> version, in the order the hub prefers them.
SUBPROTOCOLS = {"ocpp2.0.1": "2.0.1", "ocpp1.6": "1.6"}

HANDLERS: dict[str, Any] = {"1.6": V16ChargePoint, "2.0.1": V201ChargePoint}
CALLS: dict[str, OutboundCalls] = {"1.6": CALLS16, "2.0.1": CALLS201}


def calls_for(version: str) -> OutboundCalls:
    return CALLS["1.6" if version == "1.6" else "2.0.1"]
