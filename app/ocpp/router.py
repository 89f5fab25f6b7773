"""The OCPP-J WebSocket endpoint: ``ws(s)://host/ocpp/{charge_point_id}``."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send

router = APIRouter()

PREFIX = "/ocpp/"


@router.websocket("/ocpp/{charge_point_id}")
async def ocpp_endpoint(websocket: WebSocket, charge_point_id: str) -> None:
    csms = getattr(websocket.app.state, "csms", None)
    if csms is None or not csms.running:
        await websocket.close(code=1013)
        return
    await csms.serve(websocket, charge_point_id)


def charge_point_id_of(scope: Scope) -> str | None:
    """The ``{charge_point_id}`` of a WebSocket to ``/ocpp/{charge_point_id}`` (as the route
    above matches it: one non-empty path segment, after the root path), else None."""
    if scope["type"] != "websocket":
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        path = path[len(root) :]
    if not path.startswith(PREFIX):
        return None
    charge_point_id = path[len(PREFIX) :]
    return charge_point_id if charge_point_id and "/" not in charge_point_id else None


class ChargerSockets:
    """Outermost ASGI layer: a charger's WebSocket goes straight to ``ocpp_endpoint``.

    A WebSocket stays inside every layer it passed through for as long as the charger is
    connected: the HTTP middleware (which hands WebSockets on untouched), Starlette's exception
    layer and FastAPI's route wrapper (dependency solving, its exit stack) each keep a suspended
    coroutine frame and their closures per connection, about a third of what a connection cost
    the hub's process. Everything else goes on to the app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        charge_point_id = charge_point_id_of(scope)
        if charge_point_id is None:
            await self.app(scope, receive, send)
            return
        await ocpp_endpoint(WebSocket(scope, receive, send), charge_point_id)
