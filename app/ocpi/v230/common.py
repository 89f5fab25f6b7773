"""Types shared by the OCPI 2.3.0 modules (spec 2.3.0: types.asciidoc, transport_and_format).

Differences from 2.2.1 that matter here:

* "Non-specified JSON fields" (transport_and_format): "An OCPI Platform SHALL NOT reject request or
  response payloads based on the presence of JSON object field names that are not documented in
  this specification", and implementers are encouraged to extend OCPI with such fields. So every
  2.3.0 model keeps unknown fields (``extra="allow"``) and writes them back out: a hub must pass a
  sender's extension fields on to 2.3.0 receivers.
* OpenEnum types: "the set of all possible values is not known at the time of writing", so any
  string is a legal value; the known ones are listed as StrEnums for reference.
* Price is ``before_taxes`` plus a list of TaxAmounts (North American taxes); Role has no HUB.

The string, number and date-time types are the same as 2.2.1's and are reused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from app.ocpi.schemas.common import (
    AnyString,
    CiString2,
    NullAsEmpty,
    Number,
    OcpiModel,
    String512,
)

__all__ = (
    "DisplayText",
    "Ocpi230Model",
    "OpenEnum",
    "Price",
    "Role",
    "TaxAmount",
)


class Ocpi230Model(OcpiModel):
    """Base of every 2.3.0 object: like :class:`OcpiModel` (``null`` optionals are absent), but
    unknown fields are kept and written back (2.3.0 extensibility rules)."""

    model_config = ConfigDict(extra="allow")


# OpenEnum (types.asciidoc): "OpenEnum values are serialized as JSON strings"; any value is legal.
OpenEnum = Annotated[AnyString, StringConstraints(min_length=1)]


class Role(StrEnum):
    """2.3.0 Role enum: 2.2.1's without HUB (a hub gives ``hub_party_id`` in its credentials)."""

    CPO = "CPO"
    EMSP = "EMSP"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class DisplayText(Ocpi230Model):
    language: CiString2
    text: String512


class TaxAmount(Ocpi230Model):
    """One tax on a price: ``name`` such as "VAT" or "QST"; ``amount`` is money due."""

    name: AnyString
    account_number: AnyString | None = None
    percentage: Number | None = None
    amount: Number


class Price(Ocpi230Model):
    """Price/cost: ``before_taxes`` and "All taxes that are applicable to this price and relevant
    to the receiver of the Session or CDR"."""

    before_taxes: Number
    taxes: Annotated[list[TaxAmount], NullAsEmpty] = Field(default_factory=list)
