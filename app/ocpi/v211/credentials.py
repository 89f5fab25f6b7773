"""OCPI 2.1.1 Credentials (spec 2.1.1: credentials.md): one party per credentials object, no
roles (2.2.1: a list of CredentialsRoles)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from app.ocpi.schemas.common import URL, AnyString, OcpiModel
from app.ocpi.v211.common import String2, String3
from app.ocpi.v211.locations import BusinessDetails

__all__ = ("Credentials",)


class Credentials(OcpiModel):
    token: Annotated[AnyString, StringConstraints(min_length=1, max_length=64)]
    url: URL
    business_details: BusinessDetails
    party_id: String3
    country_code: String2
