"""Versions module (version_information_endpoint.asciidoc)."""

from __future__ import annotations

from enum import StrEnum

from app.ocpi.schemas.common import URL, OcpiModel


class VersionNumber(StrEnum):
    V2_0 = "2.0"
    V2_1 = "2.1"
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"
    V2_2_1 = "2.2.1"


class InterfaceRole(StrEnum):
    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class ModuleID(StrEnum):
    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class Version(OcpiModel):
    # A plain string rather than VersionNumber: a peer listing a version we do not know (say 3.0)
    # must not make its whole list unreadable.
    version: str
    url: URL


class Endpoint(OcpiModel):
    # "the ModuleID enum can be extended with additional custom moduleIDs" (Custom Modules), and
    # the role of a peer's credentials endpoint is to be disregarded: both are kept as strings.
    identifier: str
    role: str = InterfaceRole.SENDER
    url: URL


class VersionDetails(OcpiModel):
    version: str
    endpoints: list[Endpoint]


__all__ = ("Endpoint", "InterfaceRole", "ModuleID", "Version", "VersionDetails", "VersionNumber")
