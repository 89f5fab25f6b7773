"""Which WebSockets ChargerSockets takes straight to the CSMS (the route's own matching)."""

from __future__ import annotations

from typing import Any

import pytest

from app.ocpp.router import ChargerSockets, charge_point_id_of


def ws(path: str, root_path: str = "", kind: str = "websocket") -> dict[str, Any]:
    return {"type": kind, "path": path, "root_path": root_path}


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (ws("/ocpp/CP-1"), "CP-1"),
        (ws("/ocpp/CP 1"), "CP 1"),  # the path is already percent-decoded, as routing sees it
        (ws("/hub/ocpp/CP-1", root_path="/hub"), "CP-1"),
        (ws("/ocpp/CP-1", root_path="/hub"), "CP-1"),  # a root path the server did not prefix
        (ws("/ocpp/"), None),
        (ws("/ocpp"), None),
        (ws("/ocpp/CP-1/"), None),
        (ws("/ocpp/a/b"), None),
        (ws("/ocpi/CP-1"), None),
        (ws("/hubx/ocpp/CP-1", root_path="/hub"), None),
        (ws("/ocpp/CP-1", kind="http"), None),
        ({"type": "lifespan"}, None),
    ],
)
def test_charge_point_id_of(scope: dict[str, Any], expected: str | None) -> None:
    assert charge_point_id_of(scope) == expected


async def test_everything_else_goes_on_to_the_app() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def nothing() -> Any:
        raise AssertionError("not read")

    async def ignore(message: Any) -> None:
        raise AssertionError("not sent")

    layer = ChargerSockets(app)
    for scope in (ws("/ocpp/a/b"), ws("/ocpp/CP-1", kind="http"), ws("/admin/x")):
        await layer(scope, nothing, ignore)
    assert [s["path"] for s in seen] == ["/ocpp/a/b", "/ocpp/CP-1", "/admin/x"]
