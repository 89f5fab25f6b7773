"""The OpenAPI document says what the hub really answers, errors included.

FastAPI documents each route's success answer and a 422 ``HTTPValidationError`` (a list of
errors). The hub answers otherwise: OCPI routes never answer 422 but HTTP 200 with an OCPI status
code in the envelope (status_codes.asciidoc: "If a request is syntactically valid JSON and
addresses an existing resource, a HTTP error MUST NOT be returned"), and HTTP errors carry the
envelope too (transport_and_format.asciidoc, Response format: "For errors on the HTTP layer, use
HTTP error response codes, including the response format above"); every other route answers its
errors as ``{"detail": "..."}``, and the driver pages as HTML pages.

Those answers come from the app's exception handlers (app/main.py), not from the routes, so they
are documented here, once, over the whole generated document: every route, also one added later,
gets them. A route documents only what is its own (a 409 it raises, a 201 it creates with, ...).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.ocpi.status import OcpiStatus

OCPI_ERROR = "OcpiErrorEnvelope"
ERROR_DETAIL = "ErrorDetail"

_OCPI_ERROR_SCHEMA: dict[str, Any] = {
    "title": OCPI_ERROR,
    "type": "object",
    "description": (
        "The OCPI response format of an answer that is not a success: status_code 2xxx (the "
        "request was wrong), 3xxx (the hub or a partner could not process it) or 4xxx (the hub "
        "could not route it). data is usually absent; a partner's answer relayed by the hub may "
        "carry one."
    ),
    "properties": {
        "data": {"description": "Usually absent; what a partner sent with its error."},
        "status_code": {
            "type": "integer",
            "minimum": int(OcpiStatus.CLIENT_ERROR),
            "maximum": 4999,
            "description": "OCPI status code (status_codes.asciidoc)",
        },
        "status_message": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
    },
    "required": ["status_code", "timestamp"],
}

_ERROR_DETAIL_SCHEMA: dict[str, Any] = {
    "title": ERROR_DETAIL,
    "type": "object",
    "description": "What was wrong, in one readable sentence.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# OCPI module endpoints (not versions, not credentials): their requests may be directed to another
# party, whose 201 or 404 the hub passes on (app/hub/forward.py, relay_reply).
_OCPI_MODULE = re.compile(r"^/ocpi/[^/]+/(receiver|sender|hubclientinfo)(/|$)")

_OCPI_STATUS_TEXT = (
    "OCPI response format. status_code 1000 when the request succeeded. A request the hub could "
    "read but not carry out is answered with HTTP 200 and the reason in status_code: 2xxx "
    "(e.g. 2001 invalid or missing parameters, 2003 unknown location), 3xxx (e.g. 3001 a "
    "partner could not be used) or 4xxx (4001 unknown receiver, 4002 timeout, 4003 receiver "
    "not connected); status_codes.asciidoc."
)
_OCPI_ERRORS: dict[str, str] = {
    "400": "The body is not valid JSON (status_code 2000).",
    "401": "Missing or unknown credentials token (status_code 2000).",
    "404": "Unknown object, or the receiver of a directed request answered 404.",
    "405": "Not allowed in the platform's registration state (status_code 2000).",
    "413": "The body is too large (status_code 2000).",
}
_API_ERRORS: dict[str, str] = {
    "400": "The body is not valid JSON.",
    "401": "Missing or bad admin JWT (WWW-Authenticate: Bearer).",
    "404": "Unknown object.",
    "422": "Invalid parameters or body: which and why in detail.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _has_path_parameters(operation: dict[str, Any]) -> bool:
    return any(p.get("in") == "path" for p in operation.get("parameters", []))


def _json_body(operation: dict[str, Any]) -> bool:
    return "application/json" in operation.get("requestBody", {}).get("content", {})


def _is_page(responses: dict[str, Any]) -> bool:
    """A driver page: it answers HTML, or redirects the browser."""
    for code, response in responses.items():
        if code.startswith(("2", "3")) and (
            code.startswith("3") or "text/html" in response.get("content", {})
        ):
            return True
    return False


def _success_schema(responses: dict[str, Any]) -> dict[str, Any] | None:
    for code in ("200", "201"):
        schema = responses.get(code, {}).get("content", {}).get("application/json", {})
        if "schema" in schema:
            return copy.deepcopy(schema["schema"])
    return None


def _describe_ocpi(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    success = _success_schema(responses)
    envelope = {"anyOf": [success, _ref(OCPI_ERROR)]} if success else _ref(OCPI_ERROR)
    ok = responses.setdefault("200", {})
    ok["description"] = _OCPI_STATUS_TEXT
    ok["content"] = _json(envelope)
    module = bool(_OCPI_MODULE.match(path))
    if module and method in ("put", "post", "patch") and "201" not in responses:
        responses["201"] = {
            "description": "Created (the hub's answer, or a directed request's receiver's).",
            "content": _json(copy.deepcopy(envelope)),
        }
    wanted = {"401"}
    if "requestBody" in operation:
        wanted |= {"400", "413"}
    if module or _has_path_parameters(operation):
        wanted.add("404")
    for code in wanted:
        responses.setdefault(code, {"description": _OCPI_ERRORS[code]})
    for code, response in responses.items():
        if code[0] in "45":
            response.setdefault("description", _OCPI_ERRORS.get(code, "Error"))
            response["content"] = _json(_ref(OCPI_ERROR))


def _describe_api(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    page = _is_page(responses)
    wanted: set[str] = set()
    if "security" in operation:
        wanted.add("401")
    if _json_body(operation):
        wanted.add("400")
    if _has_path_parameters(operation):
        wanted.add("404")
    if "HTTPValidationError" in repr(responses.get("422", {})):
        responses["422"] = {"description": _API_ERRORS["422"]}
    for code in wanted:
        responses.setdefault(code, {"description": _API_ERRORS[code]})
    for code, response in responses.items():
        if code[0] not in "45":
            continue
        if code == "422" and "content" not in response:
            # Request validation answers JSON, also on a page's route (app/main.py).
            response["content"] = _json(_ref(ERROR_DETAIL))
        elif page:
            response["content"] = {"text/html": {"schema": {"type": "string"}}}
        elif "content" not in response:
            response["content"] = _json(_ref(ERROR_DETAIL))


def describe_answers(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every operation's error answers as the hub gives them."""
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if path.startswith("/ocpi"):
                _describe_ocpi(path, method, operation)
            else:
                _describe_api(operation)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[OCPI_ERROR] = copy.deepcopy(_OCPI_ERROR_SCHEMA)
    schemas[ERROR_DETAIL] = copy.deepcopy(_ERROR_DETAIL_SCHEMA)
    # FastAPI's validation error models describe answers the hub never gives: gone once nothing
    # refers to them (HTTPValidationError first: it is what refers to ValidationError).
    for unused in ("HTTPValidationError", "ValidationError"):
        others = {name: schema for name, schema in schemas.items() if name != unused}
        text = json.dumps([document["paths"], others])
        if f'"#/components/schemas/{unused}"' not in text:
            schemas.pop(unused, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` returns FastAPI's document, described by :func:`describe_answers`.

    Generated on first use, so every route included after this call is covered too.
    """
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_answers(copy.deepcopy(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
