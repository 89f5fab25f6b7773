"""What the hub serves (version_information_endpoint.asciidoc).

Every module router registers its endpoints here; the details endpoint lists exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.ocpi.schemas.versions import Endpoint, InterfaceRole, ModuleID, Version, VersionDetails
from app.ocpi.version import OCPI_PREFIX, VERSION, VERSION_PREFIX


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


# The versions the hub speaks besides the canonical one, at /ocpi/{version} (app/modules/versions
# /edge.py translates them at the edge).
V211 = "2.1.1"
V230 = "2.3.0"
# OCPI 2.1.1 modules: one URL each, no interface role (version_information_endpoint.md).
MODULES_211 = ("credentials", "locations", "tariffs", "tokens", "sessions", "cdrs", "commands")


def versions(base_url: str) -> list[Version]:
    return [Version(version=v, url=f"{base_url}{OCPI_PREFIX}/{v}") for v in (V211, VERSION, V230)]


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


def details_211(base_url: str) -> dict[str, object]:
    """The hub's 2.1.1 endpoints: one per module, at /ocpi/2.1.1/{module}/. A 2.1.1 party
    implements one side of each module; the hub serves the other side there (a CPO pushes to
    it, an eMSP pulls from it, both through the same URL)."""
    return {
        "version": V211,
        "endpoints": [
            {"identifier": m, "url": f"{base_url}{OCPI_PREFIX}/{V211}/{m}/"} for m in MODULES_211
        ],
    }


def details_230(base_url: str) -> dict[str, object]:
    """The hub's 2.3.0 endpoints: the 2.2.1 ones at /ocpi/2.3.0/..., same roles."""
    ours = details(base_url).to_json()
    prefix = f"{base_url}{VERSION_PREFIX}/"
    return {
        "version": V230,
        "endpoints": [
            {**e, "url": f"{base_url}{OCPI_PREFIX}/{V230}/{e['url'][len(prefix) :]}"}
            for e in ours["endpoints"]
        ],
    }
