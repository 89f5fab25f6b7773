"""Types of OCPI 2.1.1 (spec 2.1.1: types.md) that differ from 2.2.1's.

2.1.1 ids are case-sensitive ``string(n)`` (2.2.1: CiString): Location and EVSE ids up to 39
characters, the others up to 36. 2.1.1 says strings are "Only printable ASCII"; peers in the field
send UTF-8 names and addresses, so these models accept printable UTF-8 as 2.2.1 does (and pass it
on unchanged). DateTime, number, URL and DisplayText are the same as 2.2.1's and are reused.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from app.ocpi.schemas.common import AnyString

__all__ = ("Id36", "Id39", "String2", "String3", "String64")

Id36 = Annotated[AnyString, StringConstraints(min_length=1, max_length=36)]
Id39 = Annotated[AnyString, StringConstraints(min_length=1, max_length=39)]
String2 = Annotated[AnyString, StringConstraints(min_length=2, max_length=2)]
String3 = Annotated[AnyString, StringConstraints(min_length=1, max_length=3)]
String64 = Annotated[AnyString, StringConstraints(min_length=1, max_length=64)]
