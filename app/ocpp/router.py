"""The OCPP-J WebSocket endpoint: ``ws(s)://host/ocpp/{charge_point_id}``."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

router = APIRouter()


@router.websocket("/ocpp/{charge_point_id}")
async def ocpp_endpoint(websocket: WebSocket, charge_point_id: str) -> None:
    csms = getattr(websocket.app.state, "csms", None)
    if csms is None or not csms.running:
        await websocket.close(code=1013)
        return
    await csms.serve(websocket, charge_point_id)
