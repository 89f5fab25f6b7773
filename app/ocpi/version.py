"""Where the hub serves OCPI: the prefix of every OCPI path and the version it speaks there."""

from __future__ import annotations

VERSION = "2.2.1"
OCPI_PREFIX = "/ocpi"
VERSION_PREFIX = f"{OCPI_PREFIX}/{VERSION}"
