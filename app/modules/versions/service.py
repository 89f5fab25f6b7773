"""What the hub serves (version_information_endpoint.asciidoc).

Every module router registers its endpoints here; the details endpoint lists exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.ocpi.schemas.versions import Endpoint, InterfaceRole, ModuleID, Version, VersionDetails
from app.ocpi.version import VERSION, VERSION_PREFIX


@dataclass(frozen=True)
class ServedEndpoint:
    identifier: str
    role: InterfaceRole
    path: str  # below VERSION_PREFIX


SERVED: list[ServedEndpoint] = [
    # "It is advised to send SENDER as the InterfaceRole for one's own credentials endpoint."
    ServedEndpoint(ModuleID.CREDENTIALS, InterfaceRole.SENDER, "/credentials"),
]


def register(*endpoints: ServedEndpoint) -> None:
    """Called by each module router when it is imported."""
    for endpoint in endpoints:
        if endpoint not in SERVED:
            SERVED.append(endpoint)


def versions(base_url: str) -> list[Version]:
    return [Version(version=VERSION, url=f"{base_url}{VERSION_PREFIX}")]


def details(base_url: str) -> VersionDetails:
    """Every module URL ends with a slash.

    Peers build object URLs from these in two ways: the 2.2.1 examples join with a slash
    (``url + "/" + "NL/CPA/LOC1"``), several libraries in the field concatenate
    (``url + "NL/CPA/LOC1"``). With the trailing slash both reach the route: the hub takes a
    doubled slash as one and a collection URL with a trailing slash as the collection
    (app/ocpi/middleware.py).
    """
    return VersionDetails(
        version=VERSION,
        endpoints=[
            Endpoint(
                identifier=e.identifier, role=e.role, url=f"{base_url}{VERSION_PREFIX}{e.path}/"
            )
            for e in SERVED
        ],
    )
