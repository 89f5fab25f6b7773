"""OCPI 2.1.1 Versions module (spec 2.1.1: version_information_endpoint.md): as 2.2.1, but an
Endpoint has no ``role`` (a party implements the CPO or the eMSP interface of each module)."""

from __future__ import annotations

from app.ocpi.schemas.common import URL, OcpiModel

__all__ = ("Endpoint", "Version", "VersionDetails")


class Version(OcpiModel):
    version: str
    url: URL


class Endpoint(OcpiModel):
    identifier: str
    url: URL


class VersionDetails(OcpiModel):
    version: str
    endpoints: list[Endpoint]
