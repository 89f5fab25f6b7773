"""OCPI 2.3.0 Versions module (spec 2.3.0: version_information_endpoint.asciidoc).

Same shapes as 2.2.1 (ModuleID and VersionNumber are OpenEnums in 2.3.0, plain strings here as in
the 2.2.1 models); extension fields are kept.
"""

from __future__ import annotations

from app.ocpi.schemas.common import URL
from app.ocpi.schemas.versions import InterfaceRole
from app.ocpi.v230.common import Ocpi230Model

__all__ = ("Endpoint", "Version", "VersionDetails")


class Version(Ocpi230Model):
    version: str
    url: URL


class Endpoint(Ocpi230Model):
    identifier: str
    role: str = InterfaceRole.SENDER
    url: URL


class VersionDetails(Ocpi230Model):
    version: str
    endpoints: list[Endpoint]
