"""The OCPI response format: ``{data, status_code, status_message, timestamp}``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from app.core.metrics import ocpi_status_var
from app.ocpi.schemas.common import DateTime, format_datetime
from app.ocpi.status import OcpiStatus

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """Documentation model of every OCPI response (transport_and_format, Response format)."""

    data: T | None = None
    status_code: int
    status_message: str | None = None
    timestamp: DateTime


_PLAIN = (str, int, float, bool, type(None))

# The envelope's timestamp has whole seconds: formatted once a second, not once a response.
_stamp: tuple[int, str] = (-1, "")


def _timestamp() -> str:
    global _stamp
    second = int(time.time())
    if _stamp[0] != second:
        _stamp = (second, format_datetime(datetime.fromtimestamp(second, UTC)))
    return _stamp[1]


def _encode(data: Any) -> Any:
    """JSON-ready data. Stored OCPI documents are already plain JSON: they are walked cheaply
    instead of through ``jsonable_encoder``, which dominated the cost of large GET-all pages."""
    if isinstance(data, _PLAIN):
        return data
    if isinstance(data, dict):
        return {str(k): _encode(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_encode(item) for item in data]
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", exclude_none=True)
    return jsonable_encoder(data)


def envelope_body(
    data: Any = None,
    status_code: int = OcpiStatus.SUCCESS,
    message: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = _encode(data)
    body["status_code"] = int(status_code)
    if message:
        body["status_message"] = message
    body["timestamp"] = _timestamp()
    return body


def ocpi_response(
    data: Any = None,
    status_code: int = OcpiStatus.SUCCESS,
    message: str | None = None,
    *,
    http_status: int = 200,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    ocpi_status_var.set(int(status_code))
    return JSONResponse(
        envelope_body(data, status_code, message), status_code=http_status, headers=headers
    )


def ocpi_json_list_response(
    items: Sequence[str], *, headers: dict[str, str] | None = None
) -> Response:
    """A success envelope whose ``data`` is a list of JSON documents given as text.

    Stored objects go to the wire as stored: their text is spliced into the envelope, not decoded
    and encoded again (what a GET-all page mostly cost). Each item must be one JSON value.
    """
    ocpi_status_var.set(int(OcpiStatus.SUCCESS))
    stamp = _timestamp()
    body = (
        '{"data":['
        + ",".join(items)
        + f'],"status_code":{int(OcpiStatus.SUCCESS)},"timestamp":"{stamp}"}}'
    )
    return Response(body.encode(), media_type="application/json", headers=headers)
