"""OCPI 2.1.1 <-> canonical (2.2.1): unit tests with the spec's example payloads.

The examples are copied from the OCPI 2.1.1 specification (tag 2.1.1-d2, the JSON inline in the
module pages), as literals; the tests never read the specification folder.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from app.ocpi import translate
from app.ocpi.schemas import cdrs as s_cdrs
from app.ocpi.schemas import locations as s_locations
from app.ocpi.schemas import sessions as s_sessions
from app.ocpi.schemas import tariffs as s_tariffs
from app.ocpi.schemas.common import Role
from app.ocpi.status import OcpiStatus
from app.ocpi.translation import (
    Kind,
    MissingContext,
    NotRepresentable,
    PartyIds,
    TariffFields,
    TranslationContext,
    normalise,
)
from app.ocpi.v211 import translate as v211
from app.ocpi.v211.cdrs import CDR
from app.ocpi.v211.locations import Location
from app.ocpi.v211.sessions import Session

# --- the specification's examples (OCPI 2.1.1) ---------------------------------------------------

# mod_locations.md, 3.1 Location Object, Example.
LOCATION_EXAMPLE: dict[str, Any] = {
    "id": "LOC1",
    "type": "ON_STREET",
    "name": "Gent Zuid",
    "address": "F.Rooseveltlaan 3A",
    "city": "Gent",
    "postal_code": "9000",
    "country": "BEL",
    "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
    "evses": [
        {
            "uid": "3256",
            "evse_id": "BE-BEC-E041503001",
            "status": "AVAILABLE",
            "status_schedule": [],
            "capabilities": ["RESERVABLE"],
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "CABLE",
                    "power_type": "AC_3_PHASE",
                    "voltage": 220,
                    "amperage": 16,
                    "tariff_id": "11",
                    "last_updated": "2015-03-16T10:10:02Z",
                },
                {
                    "id": "2",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "voltage": 220,
                    "amperage": 16,
                    "tariff_id": "11",
                    "last_updated": "2015-03-18T08:12:01Z",
                },
            ],
            "physical_reference": "1",
            "floor_level": "-1",
            "last_updated": "2015-06-28T08:12:01Z",
        },
        {
            "uid": "3257",
            "evse_id": "BE-BEC-E041503002",
            "status": "RESERVED",
            "capabilities": ["RESERVABLE"],
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T2",
                    "format": "SOCKET",
                    "power_type": "AC_3_PHASE",
                    "voltage": 220,
                    "amperage": 16,
                    "tariff_id": "12",
                    "last_updated": "2015-06-29T20:39:09Z",
                }
            ],
            "physical_reference": "2",
            "floor_level": "-2",
            "last_updated": "2015-06-29T20:39:09Z",
        },
    ],
    "operator": {"name": "BeCharged"},
    "last_updated": "2015-06-29T20:39:09Z",
}

# mod_locations.md, PATCH examples.
PATCH_STATUS = {"status": "CHARGING"}
PATCH_NAME = {"name": "Interparking Gent Zuid"}
PATCH_TARIFF = {"tariff_id": "15"}
# "Example: add an EVSE" (PUT). Not a valid EVSE: physical_reference is a number, "floor" is not
# a field (floor_level is), and the Connector lacks power_type, voltage, amperage, last_updated.
PUT_ADD_EVSE = {
    "uid": "3256",
    "evse_id": "BE-BEC-E041503003",
    "status": "AVAILABLE",
    "capabilities": ["RESERVABLE"],
    "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "tariff_id": "14"}],
    "physical_reference": 3,
    "floor": -1,
}

# mod_locations.md, 4.19.1 RegularHours example ("opening_times").
OPENING_TIMES = {
    "regular_hours": [
        {"weekday": day, "period_begin": "08:00", "period_end": "20:00"} for day in range(1, 6)
    ],
    "twentyfourseven": False,
    "exceptional_openings": [
        {"period_begin": "2014-06-21T09:00:00Z", "period_end": "2014-06-21T12:00:00Z"}
    ],
    "exceptional_closings": [
        {"period_begin": "2014-06-24T00:00:00Z", "period_end": "2014-06-25T00:00:00Z"}
    ],
}

# mod_locations.md, 4.5 EnergyMix, "Complete" example.
ENERGY_MIX = {
    "is_green_energy": False,
    "energy_sources": [
        {"source": "GENERAL_GREEN", "percentage": 35.9},
        {"source": "GAS", "percentage": 6.3},
        {"source": "COAL", "percentage": 33.2},
        {"source": "GENERAL_FOSSIL", "percentage": 2.9},
        {"source": "NUCLEAR", "percentage": 21.7},
    ],
    "environ_impact": [
        {"source": "NUCLEAR_WASTE", "amount": 0.0006},
        {"source": "CARBON_DIOXIDE", "amount": 372},
    ],
    "supplier_name": "E.ON Energy Deutschland",
    "energy_product_name": "E.ON DirektStrom eco",
}

# mod_tariffs.md, 3.1 Tariff Object, Examples.
TARIFF_SIMPLE = {
    "id": "12",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "TIME", "price": 2.00, "step_size": 300}]}],
    "last_updated": "2015-06-29T20:39:09Z",
}
TARIFF_ALT_TEXT = {
    "id": "12",
    "currency": "EUR",
    "tariff_alt_text": [
        {"language": "en", "text": "2 euro p/hour"},
        {"language": "nl", "text": "2 euro p/uur"},
    ],
    "elements": [{"price_components": [{"type": "TIME", "price": 2.00, "step_size": 300}]}],
    "last_updated": "2015-06-29T20:39:09Z",
}
TARIFF_ALT_URL = {
    "id": "12",
    "currency": "EUR",
    "tariff_alt_url": "https://company.com/tariffs/12",
    "elements": [{"price_components": [{"type": "TIME", "price": 2.00, "step_size": 300}]}],
    "last_updated": "2015-06-29T20:39:09Z",
}
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
TARIFF_COMPLEX = {
    "id": "11",
    "currency": "EUR",
    "tariff_alt_url": "https://company.com/tariffs/11",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 2.50, "step_size": 1}]},
        {
            "price_components": [{"type": "TIME", "price": 1.00, "step_size": 900}],
            "restrictions": {"max_power": 32.00},
        },
        {
            "price_components": [{"type": "TIME", "price": 2.00, "step_size": 600}],
            "restrictions": {"min_power": 32.00, "day_of_week": WEEKDAYS},
        },
        {
            "price_components": [{"type": "TIME", "price": 1.25, "step_size": 600}],
            "restrictions": {"min_power": 32.00, "day_of_week": ["SATURDAY", "SUNDAY"]},
        },
        {
            "price_components": [{"type": "PARKING_TIME", "price": 5.00, "step_size": 300}],
            "restrictions": {"start_time": "09:00", "end_time": "18:00", "day_of_week": WEEKDAYS},
        },
        {
            "price_components": [{"type": "PARKING_TIME", "price": 6.00, "step_size": 300}],
            "restrictions": {
                "start_time": "10:00",
                "end_time": "17:00",
                "day_of_week": ["SATURDAY"],
            },
        },
    ],
    "last_updated": "2015-06-29T20:39:09Z",
}
TARIFF_FREE = {
    "id": "12",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "FLAT", "price": 0.00, "step_size": 0}]}],
    "last_updated": "2015-06-29T20:39:09Z",
}
# "Example: Change Tariff to 2,50" (a PATCH).
TARIFF_PATCH = {
    "elements": [{"price_components": [{"type": "TIME", "price": 2.50, "step_size": 300}]}]
}

# mod_tokens.md, 3.2 Token Object, Example; PUT and PATCH examples.
TOKEN_EXAMPLE = {
    "uid": "012345678",
    "type": "RFID",
    "auth_id": "DE8ACC12E46L89",
    "visual_number": "DF000-2001-8999",
    "issuer": "TheNewMotion",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2015-06-29T22:39:09Z",
}
TOKEN_PUT = {**TOKEN_EXAMPLE, "whitelist": "ALWAYS"}
TOKEN_PATCH = {"valid": False}


# mod_sessions.md, Examples ("a just starting session", "a short finished session"); both put the
# latitude in longitude and give a two-letter country.
def _session_location(last_updated: str) -> dict[str, Any]:
    return {
        "id": "LOC1",
        "type": "ON_STREET",
        "name": "Gent Zuid",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BE",
        "coordinates": {"latitude": "3.729944", "longitude": "51.047599"},
        "evses": [
            {
                "uid": "3256",
                "evse_id": "BE-BEC-E041503003",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_1_PHASE",
                        "voltage": 230,
                        "amperage": 64,
                        "tariff_id": "11",
                        "last_updated": last_updated,
                    }
                ],
                "last_updated": last_updated,
            }
        ],
        "last_updated": last_updated,
    }


SESSION_START = {
    "id": "101",
    "start_datetime": "2015-06-29T22:39:09Z",
    "kwh": 0.00,
    "auth_id": "DE8ACC12E46L89",
    "auth_method": "WHITELIST",
    "location": _session_location("2015-06-29T22:39:09Z"),
    "currency": "EUR",
    "total_cost": 2.50,
    "status": "PENDING",
    "last_updated": "2015-06-29T22:39:09Z",
}
SESSION_FINISHED = {
    "id": "101",
    "start_datetime": "2015-06-29T22:39:09Z",
    "end_datetime": "2015-06-29T23:50:16Z",
    "kwh": 41.00,
    "auth_id": "DE8ACC12E46L89",
    "auth_method": "WHITELIST",
    "location": _session_location("2015-06-29T23:09:10Z"),
    "currency": "EUR",
    "charging_periods": [
        {
            "start_date_time": "2015-06-29T22:39:09Z",
            "dimensions": [
                {"type": "ENERGY", "volume": 120},
                {"type": "MAX_CURRENT", "volume": 30},
            ],
        },
        {
            "start_date_time": "2015-06-29T22:40:54Z",
            "dimensions": [
                {"type": "ENERGY", "volume": 41000},
                {"type": "MIN_CURRENT", "volume": 34},
            ],
        },
        {
            "start_date_time": "2015-06-29T23:07:09Z",
            "dimensions": [{"type": "PARKING_TIME", "volume": 0.718}],
        },
    ],
    "total_cost": 8.50,
    "status": "COMPLETED",
    "last_updated": "2015-06-29T23:09:10Z",
}
SESSION_PATCH = {"total_cost": 0.60}

# mod_cdrs.md, "Example of a CDR" (its trailing comma after "price_components" removed; the price
# is a string in the spec, as here).
CDR_EXAMPLE = {
    "id": "12345",
    "start_date_time": "2015-06-29T21:39:09Z",
    "stop_date_time": "2015-06-29T23:37:32Z",
    "auth_id": "DE8ACC12E46L89",
    "auth_method": "WHITELIST",
    "location": _session_location("2015-06-29T21:39:01Z"),
    "currency": "EUR",
    "tariffs": [
        {
            "id": "12",
            "currency": "EUR",
            "elements": [
                {"price_components": [{"type": "TIME", "price": "2.00", "step_size": 300}]}
            ],
            "last_updated": "2015-02-02T14:15:01Z",
        }
    ],
    "charging_periods": [
        {
            "start_date_time": "2015-06-29T21:39:09Z",
            "dimensions": [{"type": "TIME", "volume": 1.973}],
        }
    ],
    "total_cost": 4.00,
    "total_energy": 15.342,
    "total_time": 1.973,
    "last_updated": "2015-06-29T22:01:13Z",
}

# credentials.md, 2 Object description, Example.
CREDENTIALS_EXAMPLE = {
    "url": "https://example.com/ocpi/cpo/versions/",
    "token": "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2",
    "party_id": "EXA",
    "country_code": "NL",
    "business_details": {
        "name": "Example Operator",
        "logo": {
            "url": "https://example.com/img/logo.jpg",
            "thumbnail": "https://example.com/img/logo_thumb.jpg",
            "category": "OPERATOR",
            "type": "jpeg",
            "width": 512,
            "height": 512,
        },
        "website": "http://example.com",
    },
}

# version_information_endpoint.md examples.
VERSIONS_EXAMPLE = [
    {"version": "2.1.1", "url": "https://example.com/ocpi/cpo/2.1.1/"},
    {"version": "2.0", "url": "https://example.com/ocpi/cpo/2.0/"},
]
VERSION_DETAILS_EXAMPLE = {
    "version": "2.0",
    "endpoints": [
        {"identifier": "credentials", "url": "https://example.com/ocpi/cpo/2.0/credentials/"},
        {"identifier": "locations", "url": "https://example.com/ocpi/cpo/2.0/locations/"},
    ],
}

CPO = PartyIds("BE", "BEC")
EMSP = PartyIds("DE", "TNM")
NOW = datetime(2015, 6, 30, 8, 0, tzinfo=UTC)


def canonical_token() -> dict[str, Any]:
    data, _ = v211.to_canonical(Kind.TOKEN, TOKEN_EXAMPLE, TranslationContext(owner=EMSP))
    return dict(data)


def cpo_context(**changes: Any) -> TranslationContext:
    values: dict[str, Any] = {
        "owner": CPO,
        "time_zone": "Europe/Brussels",
        "token": canonical_token(),
        "now": NOW,
    }
    values.update(changes)
    return TranslationContext(**values)


def norm211(kind: Kind, obj: Any) -> Any:
    return normalise(v211._SPECS[kind].model211, obj)


def zoned(location: dict[str, Any]) -> dict[str, Any]:
    """A 2.1.1 Location as it comes back: with the time zone 2.2.1 required (from the context)."""
    return {**location, "time_zone": location.get("time_zone", "Europe/Brussels")}


def zoned_in(obj: dict[str, Any]) -> dict[str, Any]:
    return {**obj, "location": zoned(obj["location"])}


# --- Locations ----------------------------------------------------------------------------------


def test_location_example_becomes_a_2_2_1_location_of_its_owner() -> None:
    data, ext = v211.to_canonical(Kind.LOCATION, LOCATION_EXAMPLE, cpo_context())
    assert ext is None
    assert s_locations.Location.model_validate(data)
    assert (data["country_code"], data["party_id"]) == ("BE", "BEC")
    assert data["publish"] is True
    assert data["parking_type"] == "ON_STREET"
    assert data["time_zone"] == "Europe/Brussels"  # the partner's, from the context
    connector = data["evses"][0]["connectors"][0]
    assert (connector["max_voltage"], connector["max_amperage"]) == (220, 16)
    assert connector["tariff_ids"] == ["11"]
    assert v211.from_canonical(Kind.LOCATION, data, None) == zoned(
        norm211(Kind.LOCATION, LOCATION_EXAMPLE)
    )


def test_a_location_without_owner_or_time_zone_needs_them_from_the_context() -> None:
    with pytest.raises(MissingContext, match="owner") as caught:
        v211.to_canonical(Kind.LOCATION, LOCATION_EXAMPLE, TranslationContext())
    assert caught.value.status_code == OcpiStatus.NOT_ENOUGH_INFORMATION
    with pytest.raises(MissingContext, match="time_zone"):
        v211.to_canonical(Kind.LOCATION, LOCATION_EXAMPLE, TranslationContext(owner=CPO))
    with_zone = {**LOCATION_EXAMPLE, "time_zone": "Europe/Brussels"}
    data, _ = v211.to_canonical(Kind.LOCATION, with_zone, TranslationContext(owner=CPO))
    assert data["time_zone"] == "Europe/Brussels"


def test_hours_energy_mix_and_24_00() -> None:
    location = {
        **LOCATION_EXAMPLE,
        "opening_times": OPENING_TIMES,
        "energy_mix": ENERGY_MIX,
        "postal_code": "",
    }
    data, _ = v211.to_canonical(Kind.LOCATION, location, cpo_context())
    assert data["opening_times"]["twentyfourseven"] is False
    assert len(data["opening_times"]["regular_hours"]) == 5
    assert data["energy_mix"]["environ_impact"][1] == {"category": "CARBON_DIOXIDE", "amount": 372}
    assert "postal_code" not in data  # "" is 2.1.1 for "no postal code"
    assert v211.from_canonical(Kind.LOCATION, data) == zoned(norm211(Kind.LOCATION, location))
    # 2.1.1 may end a day at 24:00, 2.2.1 cannot; 23:59 is the last minute it can say.
    late = copy.deepcopy(location)
    late["opening_times"]["regular_hours"][0]["period_end"] = "24:00"
    data, _ = v211.to_canonical(Kind.LOCATION, late, cpo_context())
    assert data["opening_times"]["regular_hours"][0]["period_end"] == "23:59"
    late["opening_times"]["regular_hours"][0]["period_end"] = "25:30"
    with pytest.raises(NotRepresentable, match="25:30"):
        v211.to_canonical(Kind.LOCATION, late, cpo_context())


def test_location_type_other_has_no_2_2_1_parking_type() -> None:
    data, _ = v211.to_canonical(Kind.LOCATION, {**LOCATION_EXAMPLE, "type": "OTHER"}, cpo_context())
    assert "parking_type" not in data
    # Comes back as "not known by the operator", the 2.1.1 default.
    assert v211.from_canonical(Kind.LOCATION, data)["type"] == "UNKNOWN"
    data["parking_type"] = "ALONG_MOTORWAY"
    assert v211.from_canonical(Kind.LOCATION, data)["type"] == "OTHER"


def test_a_2_1_1_location_id_longer_than_2_2_1_allows_is_refused() -> None:
    location = {**LOCATION_EXAMPLE, "id": "L" * 39}
    with pytest.raises(NotRepresentable, match=r"^id"):
        v211.to_canonical(Kind.LOCATION, location, cpo_context())


def _canonical_location(**changes: Any) -> dict[str, Any]:
    data, _ = v211.to_canonical(Kind.LOCATION, LOCATION_EXAMPLE, cpo_context())
    data = copy.deepcopy(data)
    data.update(changes)
    return normalise(s_locations.Location, data)


def test_2_2_1_locations_get_their_closest_2_1_1_form() -> None:
    data = _canonical_location(
        state="Oost-Vlaanderen",
        facilities=["CAFE", "METRO_STATION"],
        coordinates={"latitude": "51.0475991", "longitude": "3.72994"},
    )
    evse = data["evses"][0]
    evse["capabilities"] = ["RESERVABLE", "TOKEN_GROUP_CAPABLE"]
    evse["connectors"][0].update(standard="NEMA_14_50")  # no 2.1.1 name: not carried
    evse["connectors"][1].update(power_type="AC_2_PHASE_SPLIT", max_electric_power=7400)
    data["evses"][1]["connectors"][0]["power_type"] = "AC_2_PHASE"  # its only Connector
    out = v211.from_canonical(Kind.LOCATION, normalise(s_locations.Location, data))
    assert Location.model_validate(out)
    assert "state" not in out
    assert out["facilities"] == ["CAFE"]
    assert out["coordinates"] == {"latitude": "51.047599", "longitude": "3.729940"}
    assert [e["uid"] for e in out["evses"]] == ["3256"]
    assert out["evses"][0]["capabilities"] == ["RESERVABLE"]
    assert [c["id"] for c in out["evses"][0]["connectors"]] == ["2"]
    assert out["evses"][0]["connectors"][0]["power_type"] == "AC_1_PHASE"
    assert "max_electric_power" not in out["evses"][0]["connectors"][0]


def test_a_location_that_may_not_be_published_is_not_sent_to_2_1_1() -> None:
    data = _canonical_location(publish=False)
    with pytest.raises(NotRepresentable, match="publish"):
        v211.from_canonical(Kind.LOCATION, data)


def test_one_tariff_id_for_2_1_1_the_one_for_everybody() -> None:
    data = _canonical_location()
    data["evses"][0]["connectors"][0]["tariff_ids"] = ["ADHOC", "REG"]
    types = {"ADHOC": "AD_HOC_PAYMENT", "REG": "REGULAR"}
    out = v211.from_canonical(Kind.LOCATION, data, None, TranslationContext(tariff_types=types))
    assert out["evses"][0]["connectors"][0]["tariff_id"] == "REG"
    out = v211.from_canonical(Kind.LOCATION, data, None)
    assert out["evses"][0]["connectors"][0]["tariff_id"] == "ADHOC"  # types unknown: the first
    only_typed = TranslationContext(tariff_types={"ADHOC": "AD_HOC_PAYMENT", "REG": "PROFILE_FAST"})
    out = v211.from_canonical(Kind.LOCATION, data, None, only_typed)
    assert "tariff_id" not in out["evses"][0]["connectors"][0]


def test_location_patches_both_ways() -> None:
    ctx = cpo_context()
    assert v211.to_canonical(Kind.EVSE_PATCH, PATCH_STATUS, ctx)[0] == {
        "status": "CHARGING",
        "last_updated": "2015-06-30T08:00:00Z",  # 2.2.1 requires it: the time received
    }
    assert v211.to_canonical(Kind.LOCATION_PATCH, PATCH_NAME, ctx)[0]["name"] == PATCH_NAME["name"]
    data, _ = v211.to_canonical(Kind.CONNECTOR_PATCH, PATCH_TARIFF, ctx)
    assert data["tariff_ids"] == ["15"]
    with pytest.raises(MissingContext, match="last_updated"):
        v211.to_canonical(Kind.EVSE_PATCH, PATCH_STATUS, TranslationContext())
    assert v211.from_canonical(Kind.CONNECTOR_PATCH, data)["tariff_id"] == "15"
    patch = {"publish": False, "last_updated": "2015-06-30T08:00:00Z"}
    with pytest.raises(NotRepresentable, match="publish"):
        v211.from_canonical(Kind.LOCATION_PATCH, patch)


def test_the_add_evse_example_is_not_a_valid_evse() -> None:
    with pytest.raises(ValidationError) as caught:
        v211.to_canonical(Kind.EVSE, PUT_ADD_EVSE, cpo_context())
    wrong = {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}
    assert {"physical_reference", "last_updated", "connectors.0.power_type"} <= wrong


# --- Tariffs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tariff",
    [TARIFF_SIMPLE, TARIFF_ALT_TEXT, TARIFF_ALT_URL, TARIFF_COMPLEX, TARIFF_FREE],
    ids=["simple", "alt_text", "alt_url", "complex", "free"],
)
def test_tariff_examples_go_to_2_2_1_and_back(tariff: dict[str, Any]) -> None:
    data, _ = v211.to_canonical(Kind.TARIFF, tariff, cpo_context())
    assert s_tariffs.Tariff.model_validate(data)
    assert (data["country_code"], data["party_id"]) == ("BE", "BEC")
    assert "type" not in data
    # 2.1.1 prices are excl. VAT: the same numbers, and no VAT stated unless the partner's is known.
    prices = [c["price"] for e in data["elements"] for c in e["price_components"]]
    assert prices == [c["price"] for e in tariff["elements"] for c in e["price_components"]]
    assert all("vat" not in c for e in data["elements"] for c in e["price_components"])
    assert v211.from_canonical(Kind.TARIFF, data) == norm211(Kind.TARIFF, tariff)


def test_the_partner_s_vat_rate_is_stated_when_known() -> None:
    data, _ = v211.to_canonical(Kind.TARIFF, TARIFF_SIMPLE, cpo_context(vat=Decimal("21")))
    assert data["elements"][0]["price_components"][0] == {
        "type": "TIME",
        "price": 2,
        "vat": 21,
        "step_size": 300,
    }
    assert v211.from_canonical(Kind.TARIFF, data) == norm211(Kind.TARIFF, TARIFF_SIMPLE)


def test_a_tariff_patch_is_the_fields_to_replace() -> None:
    data, _ = v211.to_canonical(Kind.TARIFF_PATCH, TARIFF_PATCH, cpo_context())
    assert TariffFields.model_validate(data)
    assert data["elements"][0]["price_components"][0]["price"] == 2.5
    assert data["last_updated"] == "2015-06-30T08:00:00Z"
    with pytest.raises(NotRepresentable, match=r"2\.1\.1 has no tariff_patch"):
        v211.from_canonical(Kind.TARIFF_PATCH, data)


def _canonical_tariff(**changes: Any) -> dict[str, Any]:
    data, _ = v211.to_canonical(Kind.TARIFF, TARIFF_COMPLEX, cpo_context(vat=Decimal("21")))
    return normalise(s_tariffs.Tariff, {**data, **changes})


def test_2_2_1_tariff_fields_2_1_1_lacks() -> None:
    data = _canonical_tariff(
        type="REGULAR",
        min_price={"excl_vat": 1, "incl_vat": 1.21},
        start_date_time="2015-07-01T00:00:00Z",
    )
    data["elements"].append(
        {
            "price_components": [{"type": "TIME", "price": 5, "vat": 21, "step_size": 60}],
            "restrictions": {"reservation": "RESERVATION"},
        }
    )
    out = v211.from_canonical(Kind.TARIFF, normalise(s_tariffs.Tariff, data))
    assert out == norm211(Kind.TARIFF, TARIFF_COMPLEX)  # min_price, vat, reservation: not carried


@pytest.mark.parametrize("kind", ["AD_HOC_PAYMENT", "PROFILE_CHEAP"])
def test_a_tariff_for_some_sessions_only_is_not_sent_to_2_1_1(kind: str) -> None:
    with pytest.raises(NotRepresentable, match="type"):
        v211.from_canonical(Kind.TARIFF, _canonical_tariff(type=kind))


def test_a_tariff_restricted_by_current_is_not_sent_to_2_1_1() -> None:
    data = _canonical_tariff()
    data["elements"][1]["restrictions"]["max_current"] = 16
    with pytest.raises(NotRepresentable, match="max_current"):
        v211.from_canonical(Kind.TARIFF, data)


def test_end_of_day_in_tariff_restrictions() -> None:
    tariff = copy.deepcopy(TARIFF_COMPLEX)
    tariff["elements"][4]["restrictions"]["end_time"] = "24:00"
    data, _ = v211.to_canonical(Kind.TARIFF, tariff, cpo_context())
    # "To stop at end of the day use: 00:00" (2.2.1 TariffRestrictions).
    assert data["elements"][4]["restrictions"]["end_time"] == "00:00"


# --- Tokens and real-time authorization ---------------------------------------------------------


@pytest.mark.parametrize("token", [TOKEN_EXAMPLE, TOKEN_PUT], ids=["example", "put"])
def test_token_examples(token: dict[str, Any]) -> None:
    data, _ = v211.to_canonical(Kind.TOKEN, token, TranslationContext(owner=EMSP))
    assert data["contract_id"] == "DE8ACC12E46L89"
    assert (data["country_code"], data["party_id"]) == ("DE", "TNM")
    assert v211.from_canonical(Kind.TOKEN, data) == norm211(Kind.TOKEN, token)


def test_token_patch_and_2_2_1_token_types() -> None:
    data, _ = v211.to_canonical(Kind.TOKEN_PATCH, TOKEN_PATCH, TranslationContext(now=NOW))
    assert data == {"valid": False, "last_updated": "2015-06-30T08:00:00Z"}
    app_user = {**canonical_token(), "type": "APP_USER", "group_id": "G1"}
    out = v211.from_canonical(Kind.TOKEN, app_user)
    assert out["type"] == "OTHER"
    assert "group_id" not in out


def test_real_time_authorization_both_ways() -> None:
    references = {"location_id": "LOC1", "evse_uids": ["3256"], "connector_ids": ["1"]}
    data, _ = v211.to_canonical(Kind.LOCATION_REFERENCES, references)
    assert data == {"location_id": "LOC1", "evse_uids": ["3256"]}
    assert v211.from_canonical(Kind.LOCATION_REFERENCES, data)["connector_ids"] == []
    answer = {"allowed": "ALLOWED", "location": references}
    with pytest.raises(MissingContext, match="token"):
        v211.to_canonical(Kind.AUTHORIZATION_INFO, answer)
    data, _ = v211.to_canonical(
        Kind.AUTHORIZATION_INFO, answer, TranslationContext(token=canonical_token())
    )
    assert data["token"]["contract_id"] == "DE8ACC12E46L89"
    data["authorization_reference"] = "AUTH-1"
    out = v211.from_canonical(Kind.AUTHORIZATION_INFO, data)
    assert out == {"allowed": "ALLOWED", "location": {**references, "connector_ids": []}}


# --- Sessions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("session", [SESSION_START, SESSION_FINISHED], ids=["start", "finished"])
def test_session_examples(session: dict[str, Any]) -> None:
    data, _ = v211.to_canonical(Kind.SESSION, session, cpo_context())
    assert s_sessions.Session.model_validate(data)
    assert data["cdr_token"] == {
        "country_code": "DE",
        "party_id": "TNM",
        "uid": "012345678",
        "type": "RFID",
        "contract_id": "DE8ACC12E46L89",
    }
    assert (data["location_id"], data["evse_uid"], data["connector_id"]) == ("LOC1", "3256", "1")
    # total_cost excl. VAT keeps its value; no incl_vat is made up.
    assert data["total_cost"] == {"excl_vat": session["total_cost"]}
    location, _ = v211.to_canonical(Kind.LOCATION, session["location"], cpo_context())
    out = v211.from_canonical(Kind.SESSION, data, None, TranslationContext(location=location))
    assert out == zoned_in(norm211(Kind.SESSION, session))


def test_a_session_needs_the_token_its_auth_id_names() -> None:
    with pytest.raises(MissingContext, match="auth_id"):
        v211.to_canonical(Kind.SESSION, SESSION_START, cpo_context(token=None))
    other = {**canonical_token(), "contract_id": "NL-OTHER"}
    with pytest.raises(NotRepresentable, match="auth_id"):
        v211.to_canonical(Kind.SESSION, SESSION_START, cpo_context(token=other))


def test_session_periods_flat_and_2_2_1_only_dimensions() -> None:
    session = copy.deepcopy(SESSION_FINISHED)
    session["charging_periods"].append(
        {"start_date_time": "2015-06-29T23:40:00Z", "dimensions": [{"type": "FLAT", "volume": 1}]}
    )
    data, _ = v211.to_canonical(Kind.SESSION, session, cpo_context())
    assert len(data["charging_periods"]) == 3  # a FLAT volume has no 2.2.1 dimension
    data["charging_periods"][0]["dimensions"].append({"type": "STATE_OF_CHARGE", "volume": 80})
    data["charging_periods"][0]["tariff_id"] = "11"
    data["status"] = "RESERVATION"
    data["auth_method"] = "COMMAND"
    data["total_cost"] = {"excl_vat": 8.5, "incl_vat": 10.29}
    location, _ = v211.to_canonical(Kind.LOCATION, session["location"], cpo_context())
    out = v211.from_canonical(
        Kind.SESSION,
        normalise(s_sessions.Session, data),
        None,
        TranslationContext(location=location),
    )
    assert Session.model_validate(out)
    assert out["charging_periods"][0]["dimensions"] == [
        {"type": "ENERGY", "volume": 120},
        {"type": "MAX_CURRENT", "volume": 30},
    ]
    assert out["status"] == "PENDING"
    assert out["auth_method"] == "AUTH_REQUEST"
    assert out["total_cost"] == 8.5  # excl. VAT, as 2.1.1 total_cost is


def test_session_patch_total_cost_and_charging_periods() -> None:
    data, _ = v211.to_canonical(Kind.SESSION_PATCH, SESSION_PATCH, cpo_context())
    assert data == {"total_cost": {"excl_vat": 0.6}, "last_updated": "2015-06-30T08:00:00Z"}
    stored, _ = v211.to_canonical(Kind.SESSION, SESSION_FINISHED, cpo_context())
    # A 2.1.1 PATCH carries the whole list; 2.2.1 appends: only the new period goes on.
    grown = copy.deepcopy(SESSION_FINISHED["charging_periods"])
    grown.append(
        {"start_date_time": "2015-06-29T23:45:00Z", "dimensions": [{"type": "TIME", "volume": 0.1}]}
    )
    patch = {"charging_periods": grown}
    data, _ = v211.to_canonical(Kind.SESSION_PATCH, patch, cpo_context(stored=stored))
    assert [p["start_date_time"] for p in data["charging_periods"]] == ["2015-06-29T23:45:00Z"]
    with pytest.raises(NotRepresentable, match="stored periods"):
        v211.to_canonical(
            Kind.SESSION_PATCH, {"charging_periods": grown[1:]}, cpo_context(stored=stored)
        )
    with pytest.raises(MissingContext, match="stored"):
        v211.to_canonical(Kind.SESSION_PATCH, patch, cpo_context())
    # Out: the 2.2.1 PATCH appends one period; the 2.1.1 PATCH must carry all of them.
    after = {
        **stored,
        "charging_periods": [*stored["charging_periods"], data["charging_periods"][0]],
    }
    out = v211.from_canonical(Kind.SESSION_PATCH, data, None, TranslationContext(stored=after))
    assert len(out["charging_periods"]) == 4


# --- CDRs ---------------------------------------------------------------------------------------


def test_cdr_example_goes_to_2_2_1_and_back() -> None:
    data, _ = v211.to_canonical(Kind.CDR, CDR_EXAMPLE, cpo_context())
    assert s_cdrs.CDR.model_validate(data)
    assert data["end_date_time"] == "2015-06-29T23:37:32Z"
    assert data["total_cost"] == {"excl_vat": 4}
    assert data["cdr_location"]["evse_id"] == "BE-BEC-E041503003"
    assert data["cdr_location"]["connector_power_type"] == "AC_1_PHASE"
    assert data["tariffs"][0]["elements"][0]["price_components"][0]["price"] == 2
    location, _ = v211.to_canonical(Kind.LOCATION, CDR_EXAMPLE["location"], cpo_context())
    out = v211.from_canonical(Kind.CDR, data, None, TranslationContext(location=location))
    assert out == zoned_in(norm211(Kind.CDR, CDR_EXAMPLE))
    with pytest.raises(MissingContext, match="location"):
        v211.from_canonical(Kind.CDR, data)


def _canonical_cdr() -> tuple[dict[str, Any], dict[str, Any]]:
    data, _ = v211.to_canonical(Kind.CDR, CDR_EXAMPLE, cpo_context())
    location, _ = v211.to_canonical(Kind.LOCATION, CDR_EXAMPLE["location"], cpo_context())
    return copy.deepcopy(data), location


def test_2_2_1_cdr_fields_2_1_1_lacks() -> None:
    data, location = _canonical_cdr()
    data.update(
        id="12345",
        session_id="101",
        auth_method="COMMAND",
        total_cost={"excl_vat": 4, "incl_vat": 4.84},
        total_time_cost={"excl_vat": 4, "incl_vat": 4.84},
        invoice_reference_id="INV-1",
    )
    data["tariffs"][0]["type"] = "AD_HOC_PAYMENT"  # what was applied: kept, type not carried
    data["tariffs"].append({**data["tariffs"][0], "id": "13"})
    data["tariffs"][1]["elements"] = [
        {
            "price_components": [{"type": "TIME", "price": 1, "step_size": 60}],
            "restrictions": {"min_current": 32},
        }
    ]
    out = v211.from_canonical(
        Kind.CDR, normalise(s_cdrs.CDR, data), None, TranslationContext(location=location)
    )
    assert CDR.model_validate(out)
    assert out["total_cost"] == 4
    assert out["auth_method"] == "AUTH_REQUEST"
    assert [t["id"] for t in out["tariffs"]] == ["12"]  # the current-restricted one is left out
    credit = {**data, "id": "12345-C", "credit": True, "credit_reference_id": "12345"}
    with pytest.raises(NotRepresentable, match="credit"):
        v211.from_canonical(
            Kind.CDR, normalise(s_cdrs.CDR, credit), None, TranslationContext(location=location)
        )


def test_a_cdr_needs_the_evse_id() -> None:
    cdr = copy.deepcopy(CDR_EXAMPLE)
    del cdr["location"]["evses"][0]["evse_id"]
    with pytest.raises(NotRepresentable, match="evse_id"):
        v211.to_canonical(Kind.CDR, cdr, cpo_context())


# --- Commands -----------------------------------------------------------------------------------

RESPONSE_URL = "https://emsp.example/ocpi/emsp/2.1.1/commands/START_SESSION/1234"


def test_start_session_both_ways() -> None:
    body = {"response_url": RESPONSE_URL, "token": TOKEN_EXAMPLE, "location_id": "LOC1"}
    data, _ = v211.to_canonical(Kind.START_SESSION, body, TranslationContext(owner=EMSP))
    assert data["token"]["contract_id"] == "DE8ACC12E46L89"
    data.update(evse_uid="3256", connector_id="1", authorization_reference="AUTH-1")
    out = v211.from_canonical(Kind.START_SESSION, data)
    assert out == {**body, "evse_uid": "3256"}  # no connector_id or authorization_reference


def test_reserve_now_ids_are_ints_in_2_1_1() -> None:
    body = {
        "response_url": RESPONSE_URL,
        "token": TOKEN_EXAMPLE,
        "expiry_date": "2015-06-29T23:00:00Z",
        "reservation_id": 17,
        "location_id": "LOC1",
    }
    data, _ = v211.to_canonical(Kind.RESERVE_NOW, body, TranslationContext(owner=EMSP))
    assert data["reservation_id"] == "17"
    assert v211.from_canonical(Kind.RESERVE_NOW, data)["reservation_id"] == 17
    for reservation in ("R1001", "007"):
        with pytest.raises(NotRepresentable, match="reservation_id"):
            v211.from_canonical(Kind.RESERVE_NOW, {**data, "reservation_id": reservation})


def test_commands_2_1_1_does_not_have() -> None:
    cancel = {"response_url": RESPONSE_URL, "reservation_id": "17"}
    with pytest.raises(NotRepresentable, match="cancel_reservation"):
        v211.from_canonical(Kind.CANCEL_RESERVATION, cancel)
    for kind in (Kind.SET_CHARGING_PROFILE, Kind.CLIENT_INFO, Kind.CHARGING_PREFERENCES):
        with pytest.raises(NotRepresentable):
            v211.to_canonical(kind, {})


def test_command_responses_and_results() -> None:
    ctx = TranslationContext(command_timeout=30)
    assert v211.to_canonical(Kind.COMMAND_RESPONSE, {"result": "ACCEPTED"}, ctx)[0] == {
        "result": "ACCEPTED",
        "timeout": 30,
        "message": [],
    }
    # A synchronous TIMEOUT: the CPO could not reach the Charge Point.
    assert v211.to_canonical(Kind.COMMAND_RESPONSE, {"result": "TIMEOUT"}, ctx)[0]["result"] == (
        "REJECTED"
    )
    with pytest.raises(MissingContext, match="timeout"):
        v211.to_canonical(Kind.COMMAND_RESPONSE, {"result": "ACCEPTED"})
    assert v211.to_canonical(Kind.COMMAND_RESULT, {"result": "TIMEOUT"})[0] == {
        "result": "TIMEOUT",
        "message": [],
    }
    assert v211.to_canonical(Kind.COMMAND_RESULT, {"result": "UNKNOWN_SESSION"})[0]["result"] == (
        "REJECTED"
    )
    for result, expected in [("EVSE_OCCUPIED", "REJECTED"), ("ACCEPTED", "ACCEPTED")]:
        assert v211.from_canonical(Kind.COMMAND_RESULT, {"result": result, "message": []}) == {
            "result": expected
        }
    response = {"result": "UNKNOWN_SESSION", "timeout": 30, "message": []}
    assert v211.from_canonical(Kind.COMMAND_RESPONSE, response) == {"result": "UNKNOWN_SESSION"}


# --- Credentials and versions -------------------------------------------------------------------


def test_credentials_both_ways() -> None:
    with pytest.raises(MissingContext, match="role"):
        v211.to_canonical(Kind.CREDENTIALS, CREDENTIALS_EXAMPLE)
    data, _ = v211.to_canonical(
        Kind.CREDENTIALS, CREDENTIALS_EXAMPLE, TranslationContext(roles=(Role.CPO,))
    )
    assert data["roles"] == [
        {
            "role": "CPO",
            "business_details": CREDENTIALS_EXAMPLE["business_details"],
            "party_id": "EXA",
            "country_code": "NL",
        }
    ]
    assert v211.from_canonical(Kind.CREDENTIALS, data) == norm211(
        Kind.CREDENTIALS, CREDENTIALS_EXAMPLE
    )
    hub = {
        "token": "t0k3n",
        "url": "https://hub.example/ocpi/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": "VRC",
                "country_code": "NL",
                "business_details": {"name": "Own CPO"},
            },
            {
                "role": "HUB",
                "party_id": "VRH",
                "country_code": "NL",
                "business_details": {"name": "Voltroam"},
            },
        ],
    }
    out = v211.from_canonical(Kind.CREDENTIALS, hub)
    assert (out["party_id"], out["business_details"]["name"]) == ("VRH", "Voltroam")


def test_versions_and_version_details() -> None:
    assert v211.to_canonical(Kind.VERSIONS, VERSIONS_EXAMPLE)[0] == VERSIONS_EXAMPLE
    data, _ = v211.to_canonical(
        Kind.VERSION_DETAILS, VERSION_DETAILS_EXAMPLE, TranslationContext(roles=(Role.CPO,))
    )
    assert [e["role"] for e in data["endpoints"]] == ["SENDER", "SENDER"]
    hub_details = {
        "version": "2.2.1",
        "endpoints": [
            {"identifier": "credentials", "role": "RECEIVER", "url": "https://hub.example/c"},
            {"identifier": "locations", "role": "SENDER", "url": "https://hub.example/s/l"},
            {"identifier": "locations", "role": "RECEIVER", "url": "https://hub.example/r/l"},
            {"identifier": "tokens", "role": "SENDER", "url": "https://hub.example/s/t"},
            {"identifier": "tokens", "role": "RECEIVER", "url": "https://hub.example/r/t"},
            {"identifier": "hubclientinfo", "role": "SENDER", "url": "https://hub.example/h"},
        ],
    }
    # A 2.1.1 eMSP talks to the hub's CPO interface: the Locations it GETs, Tokens it PUTs.
    out = v211.from_canonical(
        Kind.VERSION_DETAILS, hub_details, None, TranslationContext(roles=(Role.EMSP,))
    )
    assert out == {
        "version": "2.1.1",
        "endpoints": [
            {"identifier": "credentials", "url": "https://hub.example/c"},
            {"identifier": "locations", "url": "https://hub.example/s/l"},
            {"identifier": "tokens", "url": "https://hub.example/r/t"},
        ],
    }


def test_the_dispatcher_speaks_all_three_versions() -> None:
    ctx = cpo_context()
    data, ext = translate.to_canonical("2.1.1", Kind.LOCATION, LOCATION_EXAMPLE, ctx)
    assert translate.to_canonical("2.2.1", Kind.LOCATION, data) == (data, None)
    assert translate.from_canonical("2.2.1", Kind.LOCATION, data, ext) is data
    as230 = translate.from_canonical("2.3.0", Kind.LOCATION, data, ext)
    assert translate.to_canonical("2.3.0", Kind.LOCATION, as230) == (data, None)
    with pytest.raises(NotRepresentable, match=r"3\.0"):
        translate.from_canonical("3.0", Kind.LOCATION, data, ext)


def test_a_session_without_an_evse_yet_is_at_na() -> None:
    session = copy.deepcopy(SESSION_START)
    session["location"]["evses"] = []
    data, _ = v211.to_canonical(Kind.SESSION, session, cpo_context())
    assert (data["evse_uid"], data["connector_id"]) == ("#NA", "#NA")
    location, _ = v211.to_canonical(Kind.LOCATION, SESSION_START["location"], cpo_context())
    out = v211.from_canonical(Kind.SESSION, data, None, TranslationContext(location=location))
    assert out["location"]["evses"] == []
    two = copy.deepcopy(SESSION_START)
    two["location"]["evses"].append({**two["location"]["evses"][0], "uid": "3257"})
    with pytest.raises(NotRepresentable, match="more than one"):
        v211.to_canonical(Kind.SESSION, two, cpo_context())


def test_a_patch_to_type_other_leaves_the_stored_parking_type() -> None:
    data, _ = v211.to_canonical(Kind.LOCATION_PATCH, {"type": "OTHER"}, cpo_context())
    assert data == {"last_updated": "2015-06-30T08:00:00Z"}
    data, _ = v211.to_canonical(Kind.LOCATION_PATCH, {"type": "PARKING_LOT"}, cpo_context())
    assert data["parking_type"] == "PARKING_LOT"


def test_a_2_1_1_cpo_gets_the_hub_s_emsp_interface() -> None:
    hub_details = {
        "version": "2.2.1",
        "endpoints": [
            {"identifier": "locations", "role": "SENDER", "url": "https://hub.example/s/l"},
            {"identifier": "locations", "role": "RECEIVER", "url": "https://hub.example/r/l"},
            {"identifier": "commands", "role": "SENDER", "url": "https://hub.example/s/c"},
            {"identifier": "commands", "role": "RECEIVER", "url": "https://hub.example/r/c"},
        ],
    }
    out = v211.from_canonical(
        Kind.VERSION_DETAILS, hub_details, None, TranslationContext(roles=(Role.CPO,))
    )
    # A CPO pushes Locations to the hub and gets its command results from it.
    assert out["endpoints"] == [
        {"identifier": "locations", "url": "https://hub.example/r/l"},
        {"identifier": "commands", "url": "https://hub.example/s/c"},
    ]
