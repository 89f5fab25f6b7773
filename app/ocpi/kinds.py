"""Which kind of message (``app.ocpi.translation.Kind``) an OCPI request or answer carries, from
its module, method, interface and the path below the module's endpoint URL.

The hub translates at the edge: a request from a 2.1.1 or 2.3.0 partner, and a request the hub
sends to one, is translated by its kind; so is the ``data`` of the answer. Pure: no storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.ocpi.schemas.commands import CommandType
from app.ocpi.translation import Kind

__all__ = ("COMMAND_KINDS", "MODULES_211", "Kinds", "kinds_of")

COMMAND_KINDS: dict[str, Kind] = {
    CommandType.START_SESSION.value: Kind.START_SESSION,
    CommandType.STOP_SESSION.value: Kind.STOP_SESSION,
    CommandType.RESERVE_NOW.value: Kind.RESERVE_NOW,
    CommandType.CANCEL_RESERVATION.value: Kind.CANCEL_RESERVATION,
    CommandType.UNLOCK_CONNECTOR.value: Kind.UNLOCK_CONNECTOR,
}

# The modules of OCPI 2.1.1 (version_information_endpoint.md); the others (chargingprofiles,
# hubclientinfo) do not exist there.
MODULES_211 = frozenset(
    {"credentials", "locations", "tariffs", "tokens", "sessions", "cdrs", "commands"}
)

_LOCATION_OBJECTS = (Kind.LOCATION, Kind.EVSE, Kind.CONNECTOR)
_LOCATION_PATCHES = (Kind.LOCATION_PATCH, Kind.EVSE_PATCH, Kind.CONNECTOR_PATCH)


@dataclass(frozen=True)
class Kinds:
    """What a request carries (``body``) and what its answer's ``data`` is (``reply``; a list of
    them when ``many``). None: nothing to translate (no body, or an empty ``data``)."""

    body: Kind | None = None
    reply: Kind | None = None
    many: bool = False


def kinds_of(module: str, method: str, interface: str, segments: Sequence[str]) -> Kinds | None:
    """The kinds of a request to ``module``'s ``interface`` (SENDER or RECEIVER; the credentials
    module has none), with ``segments`` the path below the endpoint URL. None when the request is
    not one the module defines (the caller answers it as it would any unknown route)."""
    n = len(segments)
    if module == "credentials":
        if method in ("POST", "PUT"):
            return Kinds(Kind.CREDENTIALS, Kind.CREDENTIALS)
        return Kinds(reply=Kind.CREDENTIALS) if method == "GET" else Kinds()
    if module == "locations":
        if interface == "SENDER" and method == "GET":
            return Kinds(reply=Kind.LOCATION, many=True) if n == 0 else _by_depth(n - 1)
        if interface == "RECEIVER" and 3 <= n <= 5:
            if method == "GET":
                return Kinds(reply=_LOCATION_OBJECTS[n - 3])
            if method == "PUT":
                return Kinds(body=_LOCATION_OBJECTS[n - 3])
            if method == "PATCH":
                return Kinds(body=_LOCATION_PATCHES[n - 3])
        return None
    if module == "tariffs":
        if interface == "SENDER" and method == "GET" and n == 0:
            return Kinds(reply=Kind.TARIFF, many=True)
        if interface == "RECEIVER" and n == 3:
            return {
                "GET": Kinds(reply=Kind.TARIFF),
                "PUT": Kinds(body=Kind.TARIFF),
                "PATCH": Kinds(body=Kind.TARIFF_PATCH),
                "DELETE": Kinds(),
            }.get(method)
        return None
    if module == "tokens":
        if interface == "SENDER":
            if method == "GET" and n == 0:
                return Kinds(reply=Kind.TOKEN, many=True)
            if method == "POST" and n == 2 and segments[1] == "authorize":
                return Kinds(Kind.LOCATION_REFERENCES, Kind.AUTHORIZATION_INFO)
            return None
        if n == 3:
            return {
                "GET": Kinds(reply=Kind.TOKEN),
                "PUT": Kinds(body=Kind.TOKEN),
                "PATCH": Kinds(body=Kind.TOKEN_PATCH),
            }.get(method)
        return None
    if module == "sessions":
        if interface == "SENDER":
            if method == "GET" and n == 0:
                return Kinds(reply=Kind.SESSION, many=True)
            if method == "PUT" and n == 2 and segments[1] == "charging_preferences":
                return Kinds(body=Kind.CHARGING_PREFERENCES)
            return None
        if n == 3:
            return {
                "GET": Kinds(reply=Kind.SESSION),
                "PUT": Kinds(body=Kind.SESSION),
                "PATCH": Kinds(body=Kind.SESSION_PATCH),
            }.get(method)
        return None
    if module == "cdrs":
        if interface == "SENDER" and method == "GET" and n == 0:
            return Kinds(reply=Kind.CDR, many=True)
        if interface == "RECEIVER":
            if method == "POST" and n == 0:
                return Kinds(body=Kind.CDR)
            if method == "GET" and n >= 1:
                return Kinds(reply=Kind.CDR)
        return None
    if module == "commands" and method == "POST" and n == 1:
        if interface == "RECEIVER":
            kind = COMMAND_KINDS.get(segments[0].upper())
            return Kinds(kind, Kind.COMMAND_RESPONSE) if kind is not None else None
        return Kinds(body=Kind.COMMAND_RESULT)
    if module == "hubclientinfo":
        if interface == "SENDER" and method == "GET" and n == 0:
            return Kinds(reply=Kind.CLIENT_INFO, many=True)
        if interface == "RECEIVER" and n == 3:
            return {"GET": Kinds(reply=Kind.CLIENT_INFO), "PUT": Kinds(body=Kind.CLIENT_INFO)}.get(
                method
            )
        return None
    if module == "chargingprofiles":
        if interface == "RECEIVER" and n == 1:
            return {
                "PUT": Kinds(Kind.SET_CHARGING_PROFILE, Kind.CHARGING_PROFILE_RESPONSE),
                "GET": Kinds(reply=Kind.CHARGING_PROFILE_RESPONSE),
                "DELETE": Kinds(reply=Kind.CHARGING_PROFILE_RESPONSE),
            }.get(method)
        if interface == "SENDER" and method == "PUT" and n == 1:
            return Kinds(body=Kind.ACTIVE_CHARGING_PROFILE)
        # Results (three shapes to one URL) are passed as they are: every field is mapped.
        return Kinds()
    return None


def _by_depth(depth: int) -> Kinds | None:
    if 0 <= depth <= 2:
        return Kinds(reply=_LOCATION_OBJECTS[depth])
    return None
