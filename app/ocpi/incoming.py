"""The ``ext`` of the object a request being handled writes (app/ocpi/ext.py).

A 2.3.0 sender's object carries what 2.2.1 cannot (Parking, ``help_phone``, tax amounts,
extension fields); the version edge (app/modules/versions/edge.py) translates it to the
canonical ``data`` the 2.2.1 route stores, and announces its ``ext`` here for the store to keep
beside it, in the same row and the same transaction (``app.hub.store.service.save``). A ContextVar:
the route runs in the task that set it, and nothing else sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from app.ocpi.schemas.common import ci_key

__all__ = ("Incoming", "announced", "ext_for")


@dataclass(frozen=True)
class Incoming:
    """A whole object written by a request of another version: its identity and its ext (None:
    the object has nothing 2.2.1 lacks, e.g. a 2.1.1 sender's, which replaces an older ext)."""

    module: str
    country_code: str
    party_id: str
    key: str
    ext: dict[str, Any] | None


_incoming: ContextVar[Incoming | None] = ContextVar("ocpi_incoming_ext", default=None)


@contextmanager
def announced(incoming: Incoming | None) -> Iterator[None]:
    token = _incoming.set(incoming)
    try:
        yield
    finally:
        _incoming.reset(token)


def ext_for(
    module: str, country_code: str, party_id: str, key: str
) -> tuple[bool, dict[str, Any] | None]:
    """(True, ext) when the request being handled announced this object's ext, else (False,
    None): the stored ext stays as it is."""
    incoming = _incoming.get()
    if (
        incoming is None
        or incoming.module != module
        or incoming.country_code.upper() != country_code.upper()
        or incoming.party_id.upper() != party_id.upper()
        or ci_key(incoming.key) != ci_key(key)
    ):
        return False, None
    return True, incoming.ext
