"""One entry point for every OCPI version the hub speaks: 2.1.1 and 2.3.0 are translated to and
from the canonical form; 2.2.1 *is* the canonical form.

    data, ext = to_canonical("2.3.0", Kind.LOCATION, body, ctx)
    body = from_canonical(partner_version, Kind.LOCATION, data, ext, ctx)

For 2.2.1, ``to_canonical`` validates and normalises (``ext`` is None: a 2.2.1 sender has nothing
that 2.2.1 cannot carry) and ``from_canonical`` returns ``data`` itself, so that 2.2.1 partners get
exactly what the hub stored.
"""

from __future__ import annotations

from typing import Any

from app.ocpi.ext import Ext
from app.ocpi.translation import (
    CANONICAL,
    EMPTY_CONTEXT,
    Kind,
    NotRepresentable,
    TranslationContext,
    normalise,
)
from app.ocpi.v211 import translate as v211
from app.ocpi.v230 import translate as v230

__all__ = ("CANONICAL_VERSION", "VERSIONS", "from_canonical", "to_canonical")

CANONICAL_VERSION = "2.2.1"
VERSIONS = (v211.VERSION, CANONICAL_VERSION, v230.VERSION)


def to_canonical(
    version: str, kind: Kind, obj: Any, ctx: TranslationContext = EMPTY_CONTEXT
) -> tuple[Any, Ext | None]:
    if version == v211.VERSION:
        return v211.to_canonical(kind, obj, ctx)
    if version == v230.VERSION:
        return v230.to_canonical(kind, obj, ctx)
    if version == CANONICAL_VERSION:
        if kind not in CANONICAL or kind == Kind.TARIFF_PATCH:
            raise NotRepresentable("kind", f"OCPI 2.2.1 has no {kind}", version=version)
        return normalise(CANONICAL[kind], obj), None
    raise NotRepresentable("version", f"{version} is not spoken here", version=version)


def from_canonical(
    version: str,
    kind: Kind,
    data: Any,
    ext: Ext | None,
    ctx: TranslationContext = EMPTY_CONTEXT,
) -> Any:
    if version == v211.VERSION:
        return v211.from_canonical(kind, data, ext, ctx)
    if version == v230.VERSION:
        return v230.from_canonical(kind, data, ext, ctx)
    if version == CANONICAL_VERSION:
        if data is None:
            raise NotRepresentable(
                kind.value, "exists only in ext (2.2.1 cannot carry it)", version=version
            )
        return data
    raise NotRepresentable("version", f"{version} is not spoken here", version=version)
