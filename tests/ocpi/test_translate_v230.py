"""OCPI 2.3.0 <-> canonical (2.2.1 data + ext): unit tests with the spec's example payloads.

The examples are copied from the OCPI 2.3.0 edition 2 specification (``examples/*.json``), as
literals; the tests never read the specification folder.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from app.ocpi import ext as extmod
from app.ocpi import translate
from app.ocpi.schemas import cdrs as s_cdrs
from app.ocpi.schemas import locations as s_locations
from app.ocpi.schemas import tariffs as s_tariffs
from app.ocpi.translation import (
    CANONICAL,
    Kind,
    NotRepresentable,
    TranslationContext,
    normalise,
)
from app.ocpi.v230 import translate as v230
from app.ocpi.v230.cdrs import CDR
from app.ocpi.v230.locations import EVSE, Location
from app.ocpi.v230.tariffs import Tariff

# --- the specification's examples (OCPI 2.3.0 ed. 2, examples/) ----------------------------------

EXAMPLES: dict[str, Any] = {
    "location_example.json": {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "LOC1",
        "publish": True,
        "name": "Gent Zuid",
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "parking_type": "PARKING_GARAGE",
        "evses": [
            {
                "uid": "3256",
                "evse_id": "BE*BEC*E041503001",
                "status": "AVAILABLE",
                "capabilities": ["RESERVABLE"],
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "CABLE",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 220,
                        "max_amperage": 16,
                        "tariff_ids": ["11"],
                        "last_updated": "2015-03-16T10:10:02Z",
                    },
                    {
                        "id": "2",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 220,
                        "max_amperage": 16,
                        "tariff_ids": ["13"],
                        "last_updated": "2015-03-18T08:12:01Z",
                    },
                ],
                "parking": [
                    {"parking_id": "1", "evse_position": "LEFT"},
                    {"parking_id": "2", "evse_position": "RIGHT"},
                ],
                "physical_reference": "1",
                "floor_level": "-1",
                "last_updated": "2015-06-28T08:12:01Z",
            },
            {
                "uid": "3257",
                "evse_id": "BE*BEC*E041503002",
                "status": "RESERVED",
                "capabilities": ["RESERVABLE"],
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 220,
                        "max_amperage": 16,
                        "tariff_ids": ["12"],
                        "last_updated": "2015-06-29T20:39:09Z",
                    }
                ],
                "parking": [
                    {"parking_id": "2", "evse_position": "LEFT"},
                    {"parking_id": "3", "evse_position": "RIGHT"},
                ],
                "physical_reference": "2",
                "floor_level": "-2",
                "last_updated": "2015-06-29T20:39:09Z",
            },
        ],
        "parking_places": [
            {
                "id": "1",
                "physical_reference": "B1",
                "vehicle_types": ["PERSONAL_VEHICLE"],
                "reservation_required": False,
                "restricted_to_type": True,
            },
            {
                "id": "2",
                "physical_reference": "B2",
                "vehicle_types": ["PERSONAL_VEHICLE"],
                "reservation_required": False,
                "restricted_to_type": True,
            },
            {
                "id": "3",
                "physical_reference": "B3",
                "vehicle_types": ["PERSONAL_VEHICLE"],
                "reservation_required": False,
                "restricted_to_type": True,
            },
        ],
        "operator": {"name": "BeCharged"},
        "time_zone": "Europe/Brussels",
        "last_updated": "2015-06-29T20:39:09Z",
    },
    "location_example_uc4_limited_visibility.json": {
        "country_code": "NL",
        "party_id": "ALL",
        "id": "f76c2e0c-a6ef-4f67-bf23-6a187e5ca0e0",
        "publish": False,
        "publish_allowed_to": [
            {"visual_number": "12345-67", "issuer": "NewMotion"},
            {"visual_number": "0055375624", "issuer": "ANWB"},
            {"uid": "12345678905880", "type": "RFID"},
        ],
        "name": "Water State",
        "address": "Taco van der Veenplein 12",
        "city": "Leeuwarden",
        "postal_code": "8923 EM",
        "country": "NLD",
        "coordinates": {"latitude": "53.213763", "longitude": "5.804638"},
        "parking_type": "UNDERGROUND_GARAGE",
        "evses": [
            {
                "uid": "8c1b3487-61ac-40a7-a367-21eee99dbd90",
                "evse_id": "NL*ALL*EGO0000013",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 16,
                        "last_updated": "2019-09-27T00:19:45Z",
                    }
                ],
                "last_updated": "2019-09-27T00:19:45Z",
            }
        ],
        "time_zone": "Europe/Amsterdam",
        "last_updated": "2019-09-27T00:19:45Z",
    },
    "location_example_uc5_home_charge_point.json": {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "a5295927-09b9-4a71-b4b9-a5fffdfa0b77",
        "publish": False,
        "publish_allowed_to": [{"visual_number": "0123456-99", "issuer": "MoveMove"}],
        "address": "Krautwigstraße 283A",
        "city": "Köln",
        "postal_code": "50931",
        "country": "DEU",
        "coordinates": {"latitude": "50.931826", "longitude": "6.964043"},
        "parking_type": "ON_DRIVEWAY",
        "evses": [
            {
                "uid": "4534ad5f-45be-428b-bfd0-fa489dda932d",
                "evse_id": "DE*ALL*EGO0000001",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_1_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 8,
                        "last_updated": "2019-04-05T17:17:56Z",
                    }
                ],
                "last_updated": "2019-04-05T17:17:56Z",
            }
        ],
        "time_zone": "Europe/Berlin",
        "last_updated": "2019-04-05T17:17:56Z",
    },
    "location_example_parking_garage_opening_hours.json": {
        "country_code": "SE",
        "party_id": "EVC",
        "id": "cbb0df21-d17d-40ba-a4aa-dc588c8f98cb",
        "publish": True,
        "name": "P-Huset Leonard",
        "address": "Claesgatan 6",
        "city": "Malmö",
        "postal_code": "214 26",
        "country": "SWE",
        "coordinates": {"latitude": "55.590325", "longitude": "13.008307"},
        "parking_type": "PARKING_GARAGE",
        "evses": [
            {
                "uid": "eccb8dd9-4189-433e-b100-cc0945dd17dc",
                "evse_id": "SE*EVC*E000000123",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "last_updated": "2017-03-07T02:21:22Z",
                    }
                ],
                "parking": [
                    {
                        "parking_id": "000e3877-87bf-473e-8e71-70d3aa6d64ea",
                        "evse_position": "CENTER",
                    }
                ],
                "last_updated": "2017-03-07T02:21:22Z",
            }
        ],
        "parking_places": [
            {
                "id": "000e3877-87bf-473e-8e71-70d3aa6d64ea",
                "physical_reference": "A0",
                "vehicle_types": ["PERSONAL_VEHICLE"],
                "reservation_required": False,
                "restricted_to_type": True,
            }
        ],
        "time_zone": "Europe/Stockholm",
        "opening_times": {
            "twentyfourseven": False,
            "regular_hours": [
                {"weekday": 1, "period_begin": "07:00", "period_end": "18:00"},
                {"weekday": 2, "period_begin": "07:00", "period_end": "18:00"},
                {"weekday": 3, "period_begin": "07:00", "period_end": "18:00"},
                {"weekday": 4, "period_begin": "07:00", "period_end": "18:00"},
                {"weekday": 5, "period_begin": "07:00", "period_end": "18:00"},
                {"weekday": 6, "period_begin": "07:00", "period_end": "18:00"},
                {"weekday": 7, "period_begin": "07:00", "period_end": "18:00"},
            ],
        },
        "charging_when_closed": True,
        "last_updated": "2017-03-07T02:21:22Z",
    },
    "location_patch_example_location.json": {
        "name": "Interparking Gent Zuid",
        "last_updated": "2019-06-24T12:39:09Z",
    },
    "location_patch_example_status.json": {
        "status": "CHARGING",
        "last_updated": "2019-06-24T12:39:09Z",
    },
    "location_patch_example_tariff.json": {
        "tariff_ids": ["15"],
        "last_updated": "2019-06-24T12:39:09Z",
    },
    "location_patch_example_remove_evse.json": {
        "status": "REMOVED",
        "last_updated": "2019-06-24T12:39:09Z",
    },
    "session_example_1_simple_start.json": {
        "country_code": "NL",
        "party_id": "STK",
        "id": "101",
        "start_date_time": "2020-03-09T10:17:09Z",
        "kwh": 0.0,
        "cdr_token": {
            "country_code": "NL",
            "party_id": "TST",
            "uid": "123abc",
            "type": "RFID",
            "contract_id": "NL-TST-C12345678-S",
        },
        "auth_method": "WHITELIST",
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "currency": "EUR",
        "total_cost": {"before_taxes": 2.5},
        "status": "PENDING",
        "last_updated": "2020-03-09T10:17:09Z",
    },
    "session_example_2_short_finished.json": {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "101",
        "start_date_time": "2015-06-29T22:39:09Z",
        "end_date_time": "2015-06-29T23:50:16Z",
        "kwh": 41.12,
        "cdr_token": {
            "country_code": "NL",
            "party_id": "TST",
            "uid": "123abc",
            "type": "RFID",
            "contract_id": "NL-TST-C12345678-S",
        },
        "auth_method": "WHITELIST",
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
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
                "tariff_id": "12",
            },
        ],
        "total_cost": {"before_taxes": 8.5, "taxes": [{"name": "VAT", "amount": 0.85}]},
        "status": "COMPLETED",
        "last_updated": "2015-06-29T23:50:17Z",
    },
    "session_patch_example_charging_period.json": {
        "kwh": 15.0,
        "charging_periods": [
            {
                "start_date_time": "2019-06-23T08:16:02Z",
                "dimensions": [{"type": "ENERGY", "volume": 2200}],
            }
        ],
        "total_cost": {"before_taxes": 0.8, "taxes": [{"name": "VAT", "amount": 0.08}]},
        "last_updated": "2019-06-23T08:16:02Z",
    },
    "session_patch_example_total_cost.json": {
        "total_cost": {"before_taxes": 0.6, "taxes": [{"name": "VAT", "amount": 0.06}]},
        "last_updated": "2019-06-23T08:11:00Z",
    },
    "cdr_example.json": {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "12345",
        "start_date_time": "2024-12-05T17:39:09Z",
        "end_date_time": "2024-12-05T19:37:32Z",
        "cdr_token": {
            "country_code": "DE",
            "party_id": "TNM",
            "uid": "012345678",
            "type": "RFID",
            "contract_id": "DE8ACC12E46L89",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC1",
            "name": "Gent Zuid",
            "address": "F.Rooseveltlaan 3A",
            "city": "Gent",
            "postal_code": "9000",
            "country": "BEL",
            "coordinates": {"latitude": "3.729944", "longitude": "51.047599"},
            "evse_uid": "3256",
            "evse_id": "BE*BEC*E041503003",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_1_PHASE",
        },
        "currency": "EUR",
        "tariffs": [
            {
                "country_code": "BE",
                "party_id": "BEC",
                "id": "12",
                "currency": "EUR",
                "elements": [
                    {
                        "price_components": [
                            {"type": "TIME", "price": 2.0, "vat": 10.0, "step_size": 300}
                        ]
                    }
                ],
                "last_updated": "2024-05-02T14:15:01Z",
            }
        ],
        "charging_periods": [
            {
                "start_date_time": "2024-12-05T17:39:09Z",
                "dimensions": [{"type": "TIME", "volume": 1.973}],
                "tariff_id": "12",
            }
        ],
        "total_cost": {"before_taxes": 4.0, "taxes": [{"name": "VAT", "amount": 0.4}]},
        "total_energy": 15.342,
        "total_time": 1.973,
        "total_time_cost": {"before_taxes": 4.0, "taxes": [{"name": "VAT", "amount": 0.4}]},
        "last_updated": "2024-12-05T20:02:13Z",
    },
    "tariff_1_simple_2hour.json": {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "12",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "TIME", "price": 2.0, "vat": 10.0, "step_size": 60}]}
        ],
        "tax_included": "NO",
        "last_updated": "2015-06-29T20:39:09Z",
    },
    "tariff_4_complex.json": {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "14",
        "currency": "EUR",
        "type": "REGULAR",
        "tariff_alt_url": "https://company.com/tariffs/14",
        "elements": [
            {"price_components": [{"type": "FLAT", "price": 2.5, "vat": 15.0, "step_size": 1}]},
            {
                "price_components": [{"type": "TIME", "price": 1.0, "vat": 20.0, "step_size": 900}],
                "restrictions": {"max_current": 32.0},
            },
            {
                "price_components": [{"type": "TIME", "price": 2.0, "vat": 20.0, "step_size": 600}],
                "restrictions": {
                    "min_current": 32.0,
                    "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
                },
            },
            {
                "price_components": [
                    {"type": "TIME", "price": 1.25, "vat": 20.0, "step_size": 600}
                ],
                "restrictions": {"min_current": 32.0, "day_of_week": ["SATURDAY", "SUNDAY"]},
            },
            {
                "price_components": [
                    {"type": "PARKING_TIME", "price": 5.0, "vat": 10.0, "step_size": 300}
                ],
                "restrictions": {
                    "start_time": "09:00",
                    "end_time": "18:00",
                    "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
                },
            },
            {
                "price_components": [
                    {"type": "PARKING_TIME", "price": 6.0, "vat": 10.0, "step_size": 300}
                ],
                "restrictions": {
                    "start_time": "10:00",
                    "end_time": "17:00",
                    "day_of_week": ["SATURDAY"],
                },
            },
        ],
        "tax_included": "NO",
        "last_updated": "2015-06-29T20:39:09Z",
    },
    "tariff_5_free_of_charge.json": {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "15",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "FLAT", "price": 0.0, "step_size": 0}]}],
        "tax_included": "NO",
        "last_updated": "2015-06-29T20:39:09Z",
    },
    "tariff_6_025kwh_start_max_price.json": {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "16",
        "currency": "EUR",
        "max_price": {"before_taxes": 10.0, "after_taxes": 11.0},
        "elements": [
            {
                "price_components": [
                    {"type": "FLAT", "price": 0.5, "vat": 20.0, "step_size": 1},
                    {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1},
                ]
            }
        ],
        "tax_included": "NO",
        "end_date_time": "2019-06-30T23:59:59Z",
        "last_updated": "2018-12-17T17:15:01Z",
    },
    "tariff_12_025kwh_min_price.json": {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "20",
        "currency": "EUR",
        "min_price": {"before_taxes": 0.5, "after_taxes": 0.55},
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}
        ],
        "tax_included": "NO",
        "last_updated": "2018-12-17T16:45:21Z",
    },
    "tariff_15_reservation_5_euro_per_hour.json": {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "20",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [{"type": "TIME", "price": 5.0, "vat": 20.0, "step_size": 60}],
                "restrictions": {"reservation": "RESERVATION"},
            },
            {
                "price_components": [
                    {"type": "FLAT", "price": 0.5, "vat": 20.0, "step_size": 1},
                    {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1},
                ]
            },
        ],
        "tax_included": "NO",
        "last_updated": "2019-02-03T17:00:11Z",
    },
    "tariff_17_reservation_with_expire_fee.json": {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "20",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [{"type": "FLAT", "price": 4.0, "vat": 20.0, "step_size": 1}],
                "restrictions": {"reservation": "RESERVATION_EXPIRES"},
            },
            {
                "price_components": [{"type": "TIME", "price": 2.0, "vat": 20.0, "step_size": 600}],
                "restrictions": {"reservation": "RESERVATION"},
            },
            {
                "price_components": [
                    {"type": "FLAT", "price": 0.5, "vat": 20.0, "step_size": 1},
                    {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1},
                ]
            },
        ],
        "tax_included": "NO",
        "last_updated": "2019-02-03T17:00:11Z",
    },
    "tariff_19_simple_north_american_exclusive.json": {
        "country_code": "CA",
        "party_id": "FLO",
        "id": "12",
        "currency": "CAD",
        "elements": [{"price_components": [{"type": "TIME", "price": 2.0, "step_size": 1}]}],
        "tax_included": "NO",
        "last_updated": "2024-12-05T18:30:14Z",
    },
    "tariff_20_simple_north_american_inclusive.json": {
        "country_code": "CA",
        "party_id": "FLO",
        "id": "12",
        "currency": "CAD",
        "elements": [{"price_components": [{"type": "TIME", "price": 2.1, "step_size": 1}]}],
        "tax_included": "YES",
        "last_updated": "2024-12-05T18:30:14Z",
    },
    "token_example_1_app_user.json": {
        "country_code": "DE",
        "party_id": "TNM",
        "uid": "bdf21bce-fc97-11e8-8eb2-f2801f1b9fd1",
        "type": "APP_USER",
        "contract_id": "DE8ACC12E46L89",
        "issuer": "TheNewMotion",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2018-12-10T17:16:15Z",
    },
    "token_example_2_full_rfid.json": {
        "country_code": "DE",
        "party_id": "TNM",
        "uid": "12345678905880",
        "type": "RFID",
        "contract_id": "DE8ACC12E46L89",
        "visual_number": "DF000-2001-8999-1",
        "issuer": "TheNewMotion",
        "group_id": "DF000-2001-8999",
        "valid": True,
        "whitelist": "ALLOWED",
        "language": "it",
        "default_profile_type": "GREEN",
        "energy_contract": {"supplier_name": "Greenpeace Energy eG", "contract_id": "0123456789"},
        "last_updated": "2018-12-10T17:25:10Z",
    },
    "token_patch_example.json": {"valid": False, "last_updated": "2019-06-19T02:11:11Z"},
    "credentials_example.json": {
        "token": "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2",
        "url": "https://example.com/ocpi/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": "EXA",
                "country_code": "NL",
                "business_details": {"name": "Example Operator"},
            }
        ],
    },
    "credentials_example2.json": {
        "token": "9e80a9c4-28be-11e9-b210-d663bd873d93",
        "url": "https://ocpi.example.com/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": "EXA",
                "country_code": "NL",
                "business_details": {"name": "Example Operator"},
            },
            {
                "role": "EMSP",
                "party_id": "EXA",
                "country_code": "NL",
                "business_details": {"name": "Example Provider"},
            },
        ],
    },
    "credentials_example3.json": {
        "token": "9e80ae10-28be-11e9-b210-d663bd873d93",
        "url": "https://example.com/ocpi/versions",
        "roles": [
            {
                "role": "CPO",
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
        ],
    },
    "credentials_example4.json": {
        "token": "9e80aca8-28be-11e9-b210-d663bd873d93",
        "url": "https://ocpi.example.com/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": "EXO",
                "country_code": "NL",
                "business_details": {"name": "Excellent Operator"},
            },
            {
                "role": "CPO",
                "party_id": "PFC",
                "country_code": "NL",
                "business_details": {"name": "Plug Flex Charging"},
            },
            {
                "role": "CPO",
                "party_id": "CGP",
                "country_code": "NL",
                "business_details": {"name": "Charging Green Power"},
            },
        ],
    },
    "versions_info_example.json": [
        {"version": "2.1.1", "url": "https://www.server.com/ocpi/2.1.1"},
        {"version": "2.2.1", "url": "https://www.server.com/ocpi/2.2.1"},
    ],
    "version_details_example.json": {
        "version": "2.2",
        "endpoints": [
            {
                "identifier": "credentials",
                "role": "SENDER",
                "url": "https://example.com/ocpi/2.2/credentials",
            },
            {
                "identifier": "locations",
                "role": "SENDER",
                "url": "https://example.com/ocpi/cpo/2.2/locations",
            },
        ],
    },
    "version_details_example2.json": {
        "version": "2.2",
        "endpoints": [
            {
                "identifier": "credentials",
                "role": "RECEIVER",
                "url": "https://example.com/ocpi/2.2/credentials",
            },
            {
                "identifier": "locations",
                "role": "SENDER",
                "url": "https://example.com/ocpi/cpo/2.2/locations",
            },
            {
                "identifier": "tokens",
                "role": "RECEIVER",
                "url": "https://example.com/ocpi/cpo/2.2/tokens",
            },
            {
                "identifier": "locations",
                "role": "RECEIVER",
                "url": "https://example.com/ocpi/msp/2.2/locations",
            },
            {
                "identifier": "tokens",
                "role": "SENDER",
                "url": "https://example.com/ocpi/msp/2.2/tokens",
            },
        ],
    },
}

# location_energymix_example_complete.json is a fragment: an energy_mix field.
ENERGY_MIX_COMPLETE: dict[str, Any] = {
    "is_green_energy": False,
    "energy_sources": [
        {"source": "GENERAL_GREEN", "percentage": 35.9},
        {"source": "GAS", "percentage": 6.3},
        {"source": "COAL", "percentage": 33.2},
        {"source": "GENERAL_FOSSIL", "percentage": 2.9},
        {"source": "NUCLEAR", "percentage": 21.7},
    ],
    "environ_impact": [
        {"category": "NUCLEAR_WASTE", "amount": 0.0006},
        {"category": "CARBON_DIOXIDE", "amount": 372},
    ],
    "supplier_name": "E.ON Energy Deutschland",
    "energy_product_name": "E.ON DirektStrom eco",
}

KINDS = {
    "location_example.json": Kind.LOCATION,
    "location_example_uc4_limited_visibility.json": Kind.LOCATION,
    "location_example_uc5_home_charge_point.json": Kind.LOCATION,
    "location_example_parking_garage_opening_hours.json": Kind.LOCATION,
    "location_patch_example_location.json": Kind.LOCATION_PATCH,
    "location_patch_example_status.json": Kind.EVSE_PATCH,
    "location_patch_example_tariff.json": Kind.CONNECTOR_PATCH,
    "location_patch_example_remove_evse.json": Kind.EVSE_PATCH,
    "session_example_1_simple_start.json": Kind.SESSION,
    "session_example_2_short_finished.json": Kind.SESSION,
    "session_patch_example_charging_period.json": Kind.SESSION_PATCH,
    "session_patch_example_total_cost.json": Kind.SESSION_PATCH,
    "cdr_example.json": Kind.CDR,
    "tariff_1_simple_2hour.json": Kind.TARIFF,
    "tariff_4_complex.json": Kind.TARIFF,
    "tariff_5_free_of_charge.json": Kind.TARIFF,
    "tariff_6_025kwh_start_max_price.json": Kind.TARIFF,
    "tariff_12_025kwh_min_price.json": Kind.TARIFF,
    "tariff_15_reservation_5_euro_per_hour.json": Kind.TARIFF,
    "tariff_17_reservation_with_expire_fee.json": Kind.TARIFF,
    "tariff_19_simple_north_american_exclusive.json": Kind.TARIFF,
    "tariff_20_simple_north_american_inclusive.json": Kind.TARIFF,
    "token_example_1_app_user.json": Kind.TOKEN,
    "token_example_2_full_rfid.json": Kind.TOKEN,
    "token_patch_example.json": Kind.TOKEN_PATCH,
    "credentials_example.json": Kind.CREDENTIALS,
    "credentials_example2.json": Kind.CREDENTIALS,
    "credentials_example3.json": Kind.CREDENTIALS,
    "credentials_example4.json": Kind.CREDENTIALS,
    "versions_info_example.json": Kind.VERSIONS,
    "version_details_example.json": Kind.VERSION_DETAILS,
    "version_details_example2.json": Kind.VERSION_DETAILS,
}

# Spec examples that break the spec's own rules, with what they break.
DEFECTIVE = {
    # The CDR's embedded Tariff has no tax_included, which a 2.3.0 Tariff requires ("1").
    "cdr_example.json": "tax_included",
}
# Valid 2.3.0 whose meaning 2.2.1 cannot hold: prices including taxes of unknown rates.
NOT_REPRESENTABLE = {"tariff_20_simple_north_american_inclusive.json": "price"}


def norm230(kind: Kind, obj: Any) -> Any:
    return normalise(v230._SPECS[kind].model230, obj)


@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - set(DEFECTIVE) - set(NOT_REPRESENTABLE)))
def test_spec_example_goes_to_legal_2_2_1_and_back_unchanged(name: str) -> None:
    kind = KINDS[name]
    data, ext = v230.to_canonical(kind, EXAMPLES[name])
    # data is legal 2.2.1 JSON, in the hub's stored (normal) form.
    assert normalise(CANONICAL[kind], data) == data
    assert v230.from_canonical(kind, data, ext) == norm230(kind, EXAMPLES[name])


@pytest.mark.parametrize("name", sorted(DEFECTIVE))
def test_defective_spec_example_is_refused_for_its_defect(name: str) -> None:
    with pytest.raises(ValidationError, match=DEFECTIVE[name]):
        v230.to_canonical(KINDS[name], EXAMPLES[name])


def test_the_cdr_example_with_its_tariff_mended_is_translated() -> None:
    cdr = copy.deepcopy(EXAMPLES["cdr_example.json"])
    cdr["tariffs"][0]["tax_included"] = "NO"
    data, ext = v230.to_canonical(Kind.CDR, cdr)
    assert data["total_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert data["total_time_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert ext is None  # {"name": "VAT", "amount": 0.4} is exactly what 2.2.1's incl_vat rebuilds
    assert v230.from_canonical(Kind.CDR, data, ext) == norm230(Kind.CDR, cdr)


def test_energy_mix_example_keeps_its_environmental_impact() -> None:
    location = {**EXAMPLES["location_example_uc5_home_charge_point.json"]}
    location["energy_mix"] = ENERGY_MIX_COMPLETE
    data, ext = v230.to_canonical(Kind.LOCATION, location)
    assert data["energy_mix"]["environ_impact"] == ENERGY_MIX_COMPLETE["environ_impact"]
    assert ext is None


# --- Locations ----------------------------------------------------------------------------------


def test_parking_places_and_parking_links_are_kept_out_of_2_2_1_data() -> None:
    location = EXAMPLES["location_example.json"]
    data, ext = v230.to_canonical(Kind.LOCATION, location)
    assert "parking_places" not in data
    assert all("parking" not in evse for evse in data["evses"])
    # Everything 2.2.1 has is in data as sent.
    assert data["evses"][0]["connectors"][0]["tariff_ids"] == ["11"]
    assert ext is not None
    rebuilt = v230.from_canonical(Kind.LOCATION, data, ext)
    assert rebuilt["parking_places"][2]["physical_reference"] == "B3"
    assert rebuilt["evses"][1]["parking"] == [
        {"parking_id": "2", "evse_position": "LEFT"},
        {"parking_id": "3", "evse_position": "RIGHT"},
    ]


def _location(**changes: Any) -> dict[str, Any]:
    location = copy.deepcopy(EXAMPLES["location_example.json"])
    location.update(changes)
    return location


def _connector(cid: str, standard: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "standard": standard,
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 1000,
        "max_amperage": 1500,
        "last_updated": "2024-12-05T17:39:09Z",
        **extra,
    }


def _evse(uid: str, *connectors: dict[str, Any]) -> dict[str, Any]:
    return {
        "uid": uid,
        "evse_id": f"BE*BEC*E{uid}",
        "status": "AVAILABLE",
        "connectors": list(connectors),
        "last_updated": "2024-12-05T17:39:09Z",
    }


def test_connectors_2_2_1_cannot_name_are_not_carried_and_come_back_in_place() -> None:
    location = _location(
        evses=[
            _evse("A", _connector("1", "IEC_62196_T2_COMBO"), _connector("2", "MCS")),
            _evse("B", _connector("1", "MCS")),  # only a truck plug
            _evse("C", _connector("1", "SAE_J3400"), _connector("2", "X_VENDOR_PLUG")),
        ]
    )
    data, ext = v230.to_canonical(Kind.LOCATION, location)
    assert [e["uid"] for e in data["evses"]] == ["A", "C"]
    assert [c["id"] for c in data["evses"][0]["connectors"]] == ["1"]
    # SAE J3400 is the NACS plug, which 2.2.1 calls TESLA_S ("Mechanically compatible").
    assert data["evses"][1]["connectors"] == [
        {**normalise(s_locations.Connector, _connector("1", "TESLA_S"))}
    ]
    assert v230.from_canonical(Kind.LOCATION, data, ext) == norm230(Kind.LOCATION, location)
    # The EVSE alone: 2.2.1 cannot carry it at all, ext holds all of it.
    evse_data, evse_ext = v230.to_canonical(Kind.EVSE, location["evses"][1])
    assert evse_data is None
    assert v230.from_canonical(Kind.EVSE, None, evse_ext) == norm230(
        Kind.EVSE, location["evses"][1]
    )
    assert extmod.at(ext, [("evses", "B")]) == evse_ext
    with pytest.raises(NotRepresentable, match="only in ext"):
        translate.from_canonical("2.2.1", Kind.EVSE, evse_data, evse_ext)


def test_a_connector_patch_to_an_unknown_standard_is_refused() -> None:
    patch = {"standard": "MCS", "last_updated": "2024-12-05T17:39:09Z"}
    with pytest.raises(NotRepresentable, match="standard") as caught:
        v230.to_canonical(Kind.CONNECTOR_PATCH, patch)
    assert caught.value.status_code == 2001
    patch = {"standard": "SAE_J3400", "last_updated": "2024-12-05T17:39:09Z"}
    data, ext = v230.to_canonical(Kind.CONNECTOR_PATCH, patch)
    assert data["standard"] == "TESLA_S"
    assert v230.from_canonical(Kind.CONNECTOR_PATCH, data, ext)["standard"] == "SAE_J3400"


def test_open_enum_values_2_2_1_lacks_get_their_closest_legal_form() -> None:
    location = _location(
        facilities=["CAFE", "EV_LOUNGE"],
        parking_type="TRUCK_STOP",
        images=[{"url": "https://x.example/1.png", "category": "DRONE_VIEW", "type": "png"}],
    )
    location["evses"][0]["capabilities"] = ["RESERVABLE", "PLUG_AND_CHARGE_ISO15118"]
    location["evses"][0]["parking_restrictions"] = ["EV_ONLY", "TAXIS"]
    location["energy_mix"] = {
        "is_green_energy": True,
        "environ_impact": [
            {"category": "CARBON_DIOXIDE", "amount": 10},
            {"category": "PARTICULATES", "amount": 1},
        ],
    }
    data, ext = v230.to_canonical(Kind.LOCATION, location)
    assert data["facilities"] == ["CAFE"]
    assert "parking_type" not in data
    assert data["images"][0]["category"] == "OTHER"
    assert data["evses"][0]["capabilities"] == ["RESERVABLE"]
    assert data["evses"][0]["parking_restrictions"] == ["EV_ONLY"]
    assert data["energy_mix"]["environ_impact"] == [{"category": "CARBON_DIOXIDE", "amount": 10}]
    assert v230.from_canonical(Kind.LOCATION, data, ext) == norm230(Kind.LOCATION, location)


def test_a_long_address_is_cut_for_2_2_1_and_whole_for_2_3_0() -> None:
    address = "Industriepark Zuid, Kaai 1234, Havenbedrijf Gent, poort 7, loskade B"
    location = _location(address=address, state="Oost-Vlaanderen (Provincie)")
    data, ext = v230.to_canonical(Kind.LOCATION, location)
    assert data["address"] == address[:45]
    assert data["state"] == "Oost-Vlaanderen (Provincie)"[:20]
    assert v230.from_canonical(Kind.LOCATION, data, ext)["address"] == address
    # Another writer (the owner on 2.2.1, say) changed the address since: its value wins over
    # the stale one in ext.
    data["address"] = "Kaai 2"
    assert v230.from_canonical(Kind.LOCATION, data, ext)["address"] == "Kaai 2"


def test_extension_fields_are_kept_at_every_level() -> None:
    location = _location(network_brand="Voltroam", help_phone="+32 9 123 45 67")
    location["evses"][0]["connectors"][0]["max_charging_cable_length"] = 5
    location["operator"]["kvk_number"] = "12345678"
    data, ext = v230.to_canonical(Kind.LOCATION, location)
    assert "network_brand" not in data
    assert "max_charging_cable_length" not in data["evses"][0]["connectors"][0]
    rebuilt = v230.from_canonical(Kind.LOCATION, data, ext)
    assert rebuilt["network_brand"] == "Voltroam"
    assert rebuilt["help_phone"] == "+32 9 123 45 67"
    assert rebuilt["evses"][0]["connectors"][0]["max_charging_cable_length"] == 5
    assert rebuilt["operator"]["kvk_number"] == "12345678"
    assert rebuilt == norm230(Kind.LOCATION, location)


def test_a_2_3_0_evse_patch_updates_the_stored_ext() -> None:
    location = EXAMPLES["location_example.json"]
    data, ext = v230.to_canonical(Kind.LOCATION, location)
    patch = {
        "status": "CHARGING",
        "parking": [{"parking_id": "3", "evse_position": "CENTER"}],
        "last_updated": "2024-12-05T17:39:09Z",
    }
    patch_data, patch_ext = v230.to_canonical(Kind.EVSE_PATCH, patch)
    assert patch_data == {"status": "CHARGING", "last_updated": "2024-12-05T17:39:09Z"}
    # What the hub does with a PATCH: merge the 2.2.1 fields into data, the ext beside it.
    data["evses"][0].update(patch_data)
    ext = extmod.patch_at(ext, [("evses", "3256")], patch, patch_ext)
    rebuilt = v230.from_canonical(Kind.LOCATION, data, ext)
    assert rebuilt["evses"][0]["status"] == "CHARGING"
    assert rebuilt["evses"][0]["parking"] == [{"parking_id": "3", "evse_position": "CENTER"}]
    assert rebuilt["evses"][1]["parking"][0]["parking_id"] == "2"  # the other EVSE's untouched
    # The PATCH itself goes on to 2.3.0 receivers as it came.
    assert v230.from_canonical(Kind.EVSE_PATCH, patch_data, patch_ext) == norm230(
        Kind.EVSE_PATCH, patch
    )


def test_the_same_2_2_1_object_goes_to_2_3_0_without_ext() -> None:
    data = normalise(s_locations.Location, {**_location(), "evses": []})
    assert translate.from_canonical("2.2.1", Kind.LOCATION, data, None) is data
    as230 = v230.from_canonical(Kind.LOCATION, data, None)
    assert Location.model_validate(as230)
    assert v230.to_canonical(Kind.LOCATION, as230) == (data, None)


# --- Tariffs and money --------------------------------------------------------------------------


def test_price_limits_keep_both_amounts() -> None:
    data, ext = v230.to_canonical(Kind.TARIFF, EXAMPLES["tariff_12_025kwh_min_price.json"])
    assert data["min_price"] == {"excl_vat": 0.5, "incl_vat": 0.55}
    assert ext is None


def _tariff(tax_included: str, price: float, vat: float | None) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "ENERGY", "price": price, "step_size": 1}
    if vat is not None:
        component["vat"] = vat
    return {
        "country_code": "NL",
        "party_id": "ABC",
        "id": "T1",
        "currency": "EUR",
        "elements": [{"price_components": [component]}],
        "tax_included": tax_included,
        "last_updated": "2024-12-05T18:30:14Z",
    }


def test_prices_including_taxes_become_exact_prices_excluding_vat() -> None:
    tariff = _tariff("YES", 0.363, 21)
    data, ext = v230.to_canonical(Kind.TARIFF, tariff)
    component = data["elements"][0]["price_components"][0]
    assert Decimal(str(component["price"])) == Decimal("0.3")  # 0.3 * 1.21 = 0.363
    assert component["vat"] == 21
    assert v230.from_canonical(Kind.TARIFF, data, ext) == norm230(Kind.TARIFF, tariff)
    # 2.2.1 parties see the same money: 0.30 excl. VAT, 21 % VAT on top.
    assert translate.from_canonical("2.2.1", Kind.TARIFF, data, ext) == data


@pytest.mark.parametrize(
    ("price", "vat"), [(0.35, 21), (2.10, None), (1.0, 7.7)], ids=["inexact", "no-vat", "1/1.077"]
)
def test_prices_including_taxes_that_have_no_exact_price_excluding_vat_are_refused(
    price: float, vat: float | None
) -> None:
    with pytest.raises(NotRepresentable, match="including taxes"):
        v230.to_canonical(Kind.TARIFF, _tariff("YES", price, vat))


def test_a_free_tariff_including_taxes_is_free_excluding_vat() -> None:
    data, _ext = v230.to_canonical(Kind.TARIFF, _tariff("YES", 0, None))
    assert data["elements"][0]["price_components"][0]["price"] == 0


def test_no_taxes_applicable_keeps_the_prices() -> None:
    tariff = _tariff("N/A", 0.25, None)
    data, ext = v230.to_canonical(Kind.TARIFF, tariff)
    assert data["elements"][0]["price_components"][0] == {
        "type": "ENERGY",
        "price": 0.25,
        "step_size": 1,
    }
    assert v230.from_canonical(Kind.TARIFF, data, ext)["tax_included"] == "N/A"
    assert v230.from_canonical(Kind.TARIFF, data, None)["tax_included"] == "NO"


def test_preauthorize_amount_is_kept_in_ext() -> None:
    tariff = {**_tariff("NO", 0.25, 21), "preauthorize_amount": 50}
    data, ext = v230.to_canonical(Kind.TARIFF, tariff)
    assert "preauthorize_amount" not in data
    assert v230.from_canonical(Kind.TARIFF, data, ext)["preauthorize_amount"] == 50


def test_north_american_taxes_sum_to_the_2_2_1_price_including_tax() -> None:
    session = copy.deepcopy(EXAMPLES["session_example_2_short_finished.json"])
    session["total_cost"] = {
        "before_taxes": 8.50,
        "taxes": [
            {"name": "GST", "percentage": 5, "amount": 0.43, "account_number": "123456789RT0001"},
            {"name": "QST", "percentage": 9.975, "amount": 0.85},
        ],
    }
    data, ext = v230.to_canonical(Kind.SESSION, session)
    assert data["total_cost"] == {"excl_vat": 8.5, "incl_vat": 9.78}
    rebuilt = v230.from_canonical(Kind.SESSION, data, ext)
    assert rebuilt["total_cost"] == norm230(Kind.SESSION, session)["total_cost"]
    # Without ext (what a 2.3.0 partner gets from a 2.2.1 sender): the same total, as one tax.
    plain = v230.from_canonical(Kind.SESSION, data, None)
    assert plain["total_cost"] == {"before_taxes": 8.5, "taxes": [{"name": "VAT", "amount": 1.28}]}


def test_a_price_without_taxes_has_no_incl_vat() -> None:
    session = copy.deepcopy(EXAMPLES["session_example_1_simple_start.json"])
    session["total_cost"] = {"before_taxes": 2.5}
    data, ext = v230.to_canonical(Kind.SESSION, session)
    # An empty list does not say the price is tax free: incl_vat is not invented.
    assert data["total_cost"] == {"excl_vat": 2.5}
    assert ext is None


def test_a_cdr_keeps_out_the_tariffs_2_2_1_cannot_state() -> None:
    cdr = copy.deepcopy(EXAMPLES["cdr_example.json"])
    cdr["tariffs"] = [
        {**cdr["tariffs"][0], "tax_included": "NO"},
        {**_tariff("YES", 2.10, None), "id": "NA1"},
    ]
    data, ext = v230.to_canonical(Kind.CDR, cdr)
    assert [t["id"] for t in data["tariffs"]] == ["12"]
    assert s_cdrs.CDR.model_validate(data)
    assert v230.from_canonical(Kind.CDR, data, ext) == norm230(Kind.CDR, cdr)


def test_a_cdr_at_a_connector_2_2_1_cannot_name_is_refused() -> None:
    cdr = copy.deepcopy(EXAMPLES["cdr_example.json"])
    cdr["tariffs"] = []
    cdr["cdr_location"]["connector_standard"] = "MCS"
    with pytest.raises(NotRepresentable, match="connector_standard"):
        v230.to_canonical(Kind.CDR, cdr)
    cdr["cdr_location"]["connector_standard"] = "SAE_J3400"
    data, ext = v230.to_canonical(Kind.CDR, cdr)
    assert data["cdr_location"]["connector_standard"] == "TESLA_S"
    assert v230.from_canonical(Kind.CDR, data, ext) == norm230(Kind.CDR, cdr)


def test_signed_data_longer_than_2_2_1_allows_is_left_out_of_data() -> None:
    cdr = copy.deepcopy(EXAMPLES["cdr_example.json"])
    cdr["tariffs"] = []
    cdr["signed_data"] = {
        "encoding_method": "OCMF",
        "signed_values": [{"nature": "Start", "plain_data": "O" * 600, "signed_data": "S" * 90}],
    }
    data, ext = v230.to_canonical(Kind.CDR, cdr)
    assert "signed_data" not in data
    assert v230.from_canonical(Kind.CDR, data, ext)["signed_data"] == cdr["signed_data"]
    assert CDR.model_validate(v230.from_canonical(Kind.CDR, data, ext))


# --- Tokens, credentials, client info, commands -------------------------------------------------


def test_emaid_tokens_are_other_tokens_in_2_2_1() -> None:
    token = {**EXAMPLES["token_example_2_full_rfid.json"], "type": "EMAID"}
    data, ext = v230.to_canonical(Kind.TOKEN, token)
    assert data["type"] == "OTHER"
    assert v230.from_canonical(Kind.TOKEN, data, ext)["type"] == "EMAID"
    start = {
        "response_url": "https://emsp.example/ocpi/2.3.0/commands/START_SESSION/1",
        "token": token,
        "location_id": "LOC1",
    }
    data, ext = v230.to_canonical(Kind.START_SESSION, start)
    assert data["token"]["type"] == "OTHER"
    assert v230.from_canonical(Kind.START_SESSION, data, ext)["token"]["type"] == "EMAID"


HUB_ROLE = {
    "role": "HUB",
    "party_id": "VRH",
    "country_code": "NL",
    "business_details": {"name": "Voltroam"},
}


def test_a_hub_s_credentials_name_it_in_hub_party_id_and_list_the_reachable_parties() -> None:
    canonical = {
        "token": "9e80a9c4-28be-11e9-b210-d663bd873d93",
        "url": "https://hub.example/ocpi/versions",
        "roles": [HUB_ROLE],
    }
    reachable = tuple(EXAMPLES["credentials_example4.json"]["roles"])
    out = v230.from_canonical(
        Kind.CREDENTIALS, canonical, None, TranslationContext(reachable=reachable)
    )
    assert out["hub_party_id"] == "NLVRH"
    assert [r["party_id"] for r in out["roles"]] == ["EXO", "PFC", "CGP"]
    with pytest.raises(NotRepresentable, match="roles"):
        v230.from_canonical(Kind.CREDENTIALS, canonical, None)


def test_a_partner_hub_s_hub_party_id_is_kept_in_ext() -> None:
    creds = {**EXAMPLES["credentials_example4.json"], "hub_party_id": "NLHUB"}
    data, ext = v230.to_canonical(Kind.CREDENTIALS, creds)
    assert "hub_party_id" not in data
    assert len(data["roles"]) == 3
    assert v230.from_canonical(Kind.CREDENTIALS, data, ext)["hub_party_id"] == "NLHUB"


def test_a_hub_cannot_be_a_client_info_role_in_2_3_0() -> None:
    info = {
        "party_id": "VRH",
        "country_code": "NL",
        "role": "HUB",
        "status": "CONNECTED",
        "last_updated": "2024-12-05T18:30:14Z",
    }
    with pytest.raises(NotRepresentable, match="HUB"):
        v230.from_canonical(Kind.CLIENT_INFO, info, None)
    info["role"] = "CPO"
    assert v230.from_canonical(Kind.CLIENT_INFO, info, None) == info


def test_commands_2_2_1_does_not_know_are_refused() -> None:
    assert v230.command_kind("START_SESSION") == Kind.START_SESSION
    with pytest.raises(NotRepresentable, match="CHARGE_HARDER"):
        v230.command_kind("CHARGE_HARDER")


def test_charging_profiles_pass_through_with_their_extension_fields() -> None:
    body = {
        "charging_profile": {
            "charging_rate_unit": "W",
            "charging_profile_period": [{"start_period": 0, "limit": 11000.0}],
            "phase_rotation": "RST",
        },
        "response_url": "https://scsp.example/ocpi/2.3.0/chargingprofiles/101/9b2d",
    }
    data, ext = v230.to_canonical(Kind.SET_CHARGING_PROFILE, body)
    assert "phase_rotation" not in data["charging_profile"]
    assert v230.from_canonical(Kind.SET_CHARGING_PROFILE, data, ext) == body


def test_models_accept_the_2_3_0_shapes() -> None:
    # Reference checks that the models follow the 2.3.0 object tables.
    assert Tariff.model_validate(EXAMPLES["tariff_19_simple_north_american_exclusive.json"])
    assert EVSE.model_validate(EXAMPLES["location_example.json"]["evses"][0]).parking[0].parking_id
    tariff = copy.deepcopy(EXAMPLES["tariff_1_simple_2hour.json"])
    del tariff["tax_included"]
    with pytest.raises(ValidationError, match="tax_included"):
        Tariff.model_validate(tariff)
    assert s_tariffs.Tariff.model_validate(tariff)  # a legal 2.2.1 tariff
