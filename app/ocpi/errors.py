"""Errors as types: raise from anywhere, one handler renders the OCPI envelope."""

from __future__ import annotations

from typing import Any

from app.ocpi.status import OcpiStatus


class OcpiError(Exception):
    """An OCPI-level error.

    ``http_status`` is 200 by default: "If a request is syntactically valid JSON and addresses an
    existing resource, a HTTP error MUST NOT be returned" (status_codes.asciidoc).
    """

    def __init__(
        self,
        status_code: int = OcpiStatus.CLIENT_ERROR,
        message: str = "",
        *,
        http_status: int = 200,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or str(status_code))
        self.status_code = int(status_code)
        self.message = message
        self.http_status = http_status
        self.data = data
        self.headers = headers or {}


class InvalidParameters(OcpiError):
    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(OcpiStatus.INVALID_PARAMETERS, message, data=data)


class Unauthorized(OcpiError):
    """Missing or unknown credentials token: HTTP 401 (transport_and_format, Authorization)."""

    def __init__(self, message: str = "Missing or unknown credentials token") -> None:
        super().__init__(OcpiStatus.CLIENT_ERROR, message, http_status=401)


class NotFound(OcpiError):
    def __init__(self, message: str = "Object not found", status_code: int = 2000) -> None:
        super().__init__(status_code, message, http_status=404)


class MethodNotAllowed(OcpiError):
    def __init__(self, message: str) -> None:
        super().__init__(OcpiStatus.CLIENT_ERROR, message, http_status=405)
