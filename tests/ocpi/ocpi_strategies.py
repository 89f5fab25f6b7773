"""Hypothesis strategies for OCPI objects of 2.2.1 (the canonical form) and 2.1.1, as JSON.

Written from the object tables of the specs: every strategy draws legal objects, optional fields
present or not, lists empty or not. 2.3.0 objects are made from 2.2.1 ones plus what only 2.3.0 has
(see test_translate_properties.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from app.ocpi.schemas import cdrs, chargingprofiles, commands, locations, sessions, tariffs, tokens
from app.ocpi.schemas.common import format_datetime
from app.ocpi.v211 import locations as l211

Json = dict[str, Any]

# --- basics -------------------------------------------------------------------------------------

ids = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=8)
countries = st.sampled_from(["NL", "BE", "DE", "CA"])
parties = st.sampled_from(["ABC", "TNM", "BEC", "VRC"])
texts = st.text(
    alphabet=st.sampled_from("abcdefghij KLMNOP-.,0123456789éüß"), min_size=1, max_size=20
)
urls = ids.map(lambda i: f"https://ocpi.example/{i}")
moments = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
).map(format_datetime)
money = st.decimals(min_value=0, max_value=10000, places=2)
amounts = st.decimals(min_value=0, max_value=1000, places=4)
percentages = st.sampled_from([Decimal(0), Decimal(6), Decimal("7.7"), Decimal(19), Decimal(21)])
small_ints = st.integers(min_value=0, max_value=99999)


def enum(cls: Any) -> st.SearchStrategy[str]:
    return st.sampled_from([member.value for member in cls])


def subset(cls: Any) -> st.SearchStrategy[list[str]]:
    return st.lists(enum(cls), unique=True, max_size=3)


def optional(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Json]:
    """A dict with any subset of these fields."""
    return st.fixed_dictionaries({}, optional=fields)


def merged(*parts: st.SearchStrategy[Json]) -> st.SearchStrategy[Json]:
    return st.tuples(*parts).map(lambda ds: {k: v for d in ds for k, v in d.items()})


def coordinate(degrees: int, decimals: tuple[int, int], length: int) -> st.SearchStrategy[str]:
    """Matching ``-?[0-9]{1,2|3}\\.[0-9]{5,7}`` and at most ``length`` characters (string(10)
    for a latitude, string(11) for a longitude: "-10.1234567" is a legal pattern but too long)."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        places = draw(st.integers(*decimals))
        whole = draw(st.integers(-degrees + 1, degrees - 1))
        fraction = draw(st.integers(0, 10**places - 1))
        sign = "-" if whole == 0 and draw(st.booleans()) else ""
        return f"{sign}{whole}.{fraction:0{places}d}"

    return build().filter(lambda text: len(text) <= length)


def geo(decimals: tuple[int, int] = (5, 7)) -> st.SearchStrategy[Json]:
    return st.fixed_dictionaries(
        {"latitude": coordinate(90, decimals, 10), "longitude": coordinate(180, decimals, 11)}
    )


display_texts = st.fixed_dictionaries({"language": st.sampled_from(["en", "nl"]), "text": texts})
hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
dates = st.dates(min_value=datetime(2015, 1, 1).date(), max_value=datetime(2030, 1, 1).date()).map(
    str
)


def price() -> st.SearchStrategy[Json]:
    @st.composite
    def build(draw: st.DrawFn) -> Json:
        excl = draw(money)
        out: Json = {"excl_vat": excl}
        if draw(st.booleans()):
            out["incl_vat"] = excl + draw(money)
        return out

    return build()


# --- Locations (2.2.1) --------------------------------------------------------------------------

images = merged(
    st.fixed_dictionaries(
        {
            "url": urls,
            "category": enum(locations.ImageCategory),
            "type": st.sampled_from(["png", "jpeg"]),
        }
    ),
    optional({"thumbnail": urls, "width": small_ints, "height": small_ints}),
)
business = merged(
    st.fixed_dictionaries({"name": texts}), optional({"website": urls, "logo": images})
)
energy_mix = merged(
    st.fixed_dictionaries({"is_green_energy": st.booleans()}),
    optional(
        {
            "energy_sources": st.lists(
                st.fixed_dictionaries(
                    {
                        "source": enum(locations.EnergySourceCategory),
                        "percentage": st.decimals(0, 100, places=1),
                    }
                ),
                max_size=3,
            ),
            "environ_impact": st.lists(
                st.fixed_dictionaries(
                    {
                        "category": enum(locations.EnvironmentalImpactCategory),
                        "amount": amounts,
                    }
                ),
                max_size=2,
            ),
            "supplier_name": texts,
            "energy_product_name": texts,
        }
    ),
)
periods = st.fixed_dictionaries({"period_begin": moments, "period_end": moments})
regular_hours = st.fixed_dictionaries(
    {"weekday": st.integers(1, 7), "period_begin": hhmm, "period_end": hhmm}
)
hours = st.one_of(
    st.fixed_dictionaries({"twentyfourseven": st.just(True)}),
    st.fixed_dictionaries(
        {
            "twentyfourseven": st.just(False),
            "regular_hours": st.lists(regular_hours, min_size=1, max_size=3),
        }
    ),
).flatmap(
    lambda h: merged(
        st.just(h),
        optional(
            {
                "exceptional_openings": st.lists(periods, max_size=2),
                "exceptional_closings": st.lists(periods, max_size=2),
            }
        ),
    )
)


def connector(standards: Any = locations.ConnectorType) -> st.SearchStrategy[Json]:
    return merged(
        st.fixed_dictionaries(
            {
                "id": ids,
                "standard": enum(standards),
                "format": enum(locations.ConnectorFormat),
                "power_type": enum(locations.PowerType),
                "max_voltage": small_ints,
                "max_amperage": small_ints,
                "tariff_ids": st.lists(ids, max_size=2),
                "last_updated": moments,
            }
        ),
        optional({"max_electric_power": small_ints, "terms_and_conditions": urls}),
    )


status_schedules = merged(
    st.fixed_dictionaries({"period_begin": moments, "status": enum(locations.Status)}),
    optional({"period_end": moments}),
)
evse_optional = {
    "evse_id": ids,
    "status_schedule": st.lists(status_schedules, max_size=2),
    "capabilities": subset(locations.Capability),
    "floor_level": st.sampled_from(["-1", "0", "2"]),
    "coordinates": geo(),
    "physical_reference": ids,
    "directions": st.lists(display_texts, max_size=2),
    "parking_restrictions": subset(locations.ParkingRestriction),
    "images": st.lists(images, max_size=2),
}
evses = merged(
    st.fixed_dictionaries(
        {
            "uid": ids,
            "status": enum(locations.Status),
            "connectors": st.lists(
                connector(), min_size=1, max_size=3, unique_by=lambda c: c["id"]
            ),
            "last_updated": moments,
        }
    ),
    optional(evse_optional),
)
location_optional = {
    "name": texts,
    "postal_code": st.sampled_from(["9000", "1012 AB", "H3Z 2Y7"]),
    "state": st.sampled_from(["Quebec", "Bayern"]),
    "related_locations": st.lists(merged(geo(), optional({"name": display_texts})), max_size=2),
    "parking_type": enum(locations.ParkingType),
    "evses": st.lists(evses, max_size=3, unique_by=lambda e: e["uid"]),
    "directions": st.lists(display_texts, max_size=2),
    "operator": business,
    "suboperator": business,
    "owner": business,
    "facilities": subset(locations.Facility),
    "opening_times": hours,
    "charging_when_closed": st.booleans(),
    "images": st.lists(images, max_size=2),
    "energy_mix": energy_mix,
}
location = merged(
    st.fixed_dictionaries(
        {
            "country_code": countries,
            "party_id": parties,
            "id": ids,
            "publish": st.booleans(),
            "address": texts,
            "city": texts,
            "country": st.sampled_from(["BEL", "NLD", "CAN"]),
            "coordinates": geo(),
            "time_zone": st.sampled_from(["Europe/Brussels", "America/Toronto"]),
            "last_updated": moments,
        }
    ),
    optional(location_optional),
)


def patch_of(
    full: st.SearchStrategy[Json], *, keep: tuple[str, ...] = ()
) -> st.SearchStrategy[Json]:
    """A PATCH body: some fields of a full object, always with last_updated."""

    @st.composite
    def build(draw: st.DrawFn) -> Json:
        obj = draw(full)
        names = draw(st.sets(st.sampled_from(sorted(obj)), max_size=5))
        return {k: v for k, v in obj.items() if k in names or k in keep or k == "last_updated"}

    return build()


# --- Tariffs (2.2.1) ----------------------------------------------------------------------------

price_components = merged(
    st.fixed_dictionaries(
        {
            "type": enum(tariffs.TariffDimensionType),
            "price": st.decimals(min_value=0, max_value=100, places=4),
            "step_size": st.integers(0, 3600),
        }
    ),
    optional({"vat": percentages}),
)
restrictions = optional(
    {
        "start_time": hhmm,
        "end_time": hhmm,
        "start_date": dates,
        "end_date": dates,
        "min_kwh": amounts,
        "max_kwh": amounts,
        "min_current": amounts,
        "max_current": amounts,
        "min_power": amounts,
        "max_power": amounts,
        "min_duration": st.integers(0, 86400),
        "max_duration": st.integers(0, 86400),
        "day_of_week": subset(tariffs.DayOfWeek),
        "reservation": enum(tariffs.ReservationRestrictionType),
    }
)
elements = merged(
    st.fixed_dictionaries({"price_components": st.lists(price_components, min_size=1, max_size=3)}),
    optional({"restrictions": restrictions}),
)
tariff = merged(
    st.fixed_dictionaries(
        {
            "country_code": countries,
            "party_id": parties,
            "id": ids,
            "currency": st.sampled_from(["EUR", "CAD"]),
            "elements": st.lists(elements, min_size=1, max_size=3),
            "last_updated": moments,
        }
    ),
    optional(
        {
            "type": enum(tariffs.TariffType),
            "tariff_alt_text": st.lists(display_texts, max_size=2),
            "tariff_alt_url": urls,
            "min_price": price(),
            "max_price": price(),
            "start_date_time": moments,
            "end_date_time": moments,
            "energy_mix": energy_mix,
        }
    ),
)

# --- Tokens, Sessions, CDRs (2.2.1) -------------------------------------------------------------

token_optional = {
    "visual_number": ids,
    "group_id": ids,
    "language": st.sampled_from(["en", "nl"]),
    "default_profile_type": enum(tokens.ProfileType),
    "energy_contract": merged(
        st.fixed_dictionaries({"supplier_name": texts}), optional({"contract_id": ids})
    ),
}
token = merged(
    st.fixed_dictionaries(
        {
            "country_code": countries,
            "party_id": parties,
            "uid": ids,
            "type": enum(tokens.TokenType),
            "contract_id": ids,
            "issuer": texts,
            "valid": st.booleans(),
            "whitelist": enum(tokens.WhitelistType),
            "last_updated": moments,
        }
    ),
    optional(token_optional),
)
cdr_token = st.fixed_dictionaries(
    {
        "country_code": countries,
        "party_id": parties,
        "uid": ids,
        "type": enum(tokens.TokenType),
        "contract_id": ids,
    }
)
charging_periods = merged(
    st.fixed_dictionaries(
        {
            "start_date_time": moments,
            "dimensions": st.lists(
                st.fixed_dictionaries({"type": enum(cdrs.CdrDimensionType), "volume": amounts}),
                min_size=1,
                max_size=3,
            ),
        }
    ),
    optional({"tariff_id": ids}),
)
session = merged(
    st.fixed_dictionaries(
        {
            "country_code": countries,
            "party_id": parties,
            "id": ids,
            "start_date_time": moments,
            "kwh": amounts,
            "cdr_token": cdr_token,
            "auth_method": enum(cdrs.AuthMethod),
            "location_id": ids,
            "evse_uid": ids,
            "connector_id": ids,
            "currency": st.sampled_from(["EUR", "CAD"]),
            "status": enum(sessions.SessionStatus),
            "last_updated": moments,
        }
    ),
    optional(
        {
            "end_date_time": moments,
            "authorization_reference": ids,
            "meter_id": ids,
            "charging_periods": st.lists(charging_periods, max_size=3),
            "total_cost": price(),
        }
    ),
)
cdr_location = merged(
    st.fixed_dictionaries(
        {
            "id": ids,
            "address": texts,
            "city": texts,
            "country": st.sampled_from(["BEL", "NLD"]),
            "coordinates": geo(),
            "evse_uid": ids,
            "evse_id": ids,
            "connector_id": ids,
            "connector_standard": enum(locations.ConnectorType),
            "connector_format": enum(locations.ConnectorFormat),
            "connector_power_type": enum(locations.PowerType),
        }
    ),
    optional({"name": texts, "postal_code": st.just("9000"), "state": st.just("Bayern")}),
)
signed_data = merged(
    st.fixed_dictionaries(
        {
            "encoding_method": st.just("OCMF"),
            "signed_values": st.lists(
                st.fixed_dictionaries(
                    {"nature": st.just("Start"), "plain_data": texts, "signed_data": texts}
                ),
                min_size=1,
                max_size=2,
            ),
        }
    ),
    optional({"encoding_method_version": st.integers(0, 3), "public_key": texts, "url": texts}),
)


@st.composite
def cdr(draw: st.DrawFn) -> Json:
    out = draw(
        merged(
            st.fixed_dictionaries(
                {
                    "country_code": countries,
                    "party_id": parties,
                    "id": ids,
                    "start_date_time": moments,
                    "end_date_time": moments,
                    "cdr_token": cdr_token,
                    "auth_method": enum(cdrs.AuthMethod),
                    "cdr_location": cdr_location,
                    "currency": st.sampled_from(["EUR", "CAD"]),
                    "charging_periods": st.lists(charging_periods, min_size=1, max_size=3),
                    "total_cost": price(),
                    "total_energy": amounts,
                    "total_time": amounts,
                    "last_updated": moments,
                }
            ),
            optional(
                {
                    "session_id": ids,
                    "authorization_reference": ids,
                    "meter_id": ids,
                    "tariffs": st.lists(tariff, max_size=2),
                    "signed_data": signed_data,
                    "total_fixed_cost": price(),
                    "total_energy_cost": price(),
                    "total_time_cost": price(),
                    "total_parking_time": amounts,
                    "total_parking_cost": price(),
                    "total_reservation_cost": price(),
                    "remark": texts,
                    "invoice_reference_id": ids,
                    "home_charging_compensation": st.booleans(),
                }
            ),
        )
    )
    if draw(st.booleans()):
        out["credit"] = draw(st.booleans())
        if out["credit"]:
            out["credit_reference_id"] = draw(ids)
    return out


# --- Requests and answers (2.2.1) ---------------------------------------------------------------

location_references = merged(
    st.fixed_dictionaries({"location_id": ids}), optional({"evse_uids": st.lists(ids, max_size=2)})
)
authorization_info = merged(
    st.fixed_dictionaries({"allowed": enum(tokens.AllowedType), "token": token}),
    optional(
        {"location": location_references, "authorization_reference": ids, "info": display_texts}
    ),
)
charging_preferences = merged(
    st.fixed_dictionaries({"profile_type": enum(tokens.ProfileType)}),
    optional(
        {"departure_time": moments, "energy_need": amounts, "discharge_allowed": st.booleans()}
    ),
)
messages = st.lists(display_texts, max_size=2)
start_session = merged(
    st.fixed_dictionaries({"response_url": urls, "token": token, "location_id": ids}),
    optional({"authorization_reference": ids}),
    st.one_of(
        st.just({}),
        st.fixed_dictionaries({"evse_uid": ids}),
        st.fixed_dictionaries({"evse_uid": ids, "connector_id": ids}),
    ),
)
stop_session = st.fixed_dictionaries({"response_url": urls, "session_id": ids})
reserve_now = merged(
    st.fixed_dictionaries(
        {
            "response_url": urls,
            "token": token,
            "expiry_date": moments,
            "reservation_id": ids,
            "location_id": ids,
        }
    ),
    optional({"evse_uid": ids, "authorization_reference": ids}),
)
cancel_reservation = st.fixed_dictionaries({"response_url": urls, "reservation_id": ids})
unlock_connector = st.fixed_dictionaries(
    {"response_url": urls, "location_id": ids, "evse_uid": ids, "connector_id": ids}
)
command_response = merged(
    st.fixed_dictionaries(
        {"result": enum(commands.CommandResponseType), "timeout": st.integers(0, 600)}
    ),
    optional({"message": messages}),
)
command_result = merged(
    st.fixed_dictionaries({"result": enum(commands.CommandResultType)}),
    optional({"message": messages}),
)
credentials_roles = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["CPO", "EMSP", "NSP", "SCSP"]),
            "business_details": business,
            "party_id": parties,
            "country_code": countries,
        }
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda r: (r["role"], r["party_id"], r["country_code"]),
)
credentials = st.fixed_dictionaries({"token": ids, "url": urls, "roles": credentials_roles})
versions = st.lists(
    st.fixed_dictionaries({"version": st.sampled_from(["2.1.1", "2.2.1", "2.3.0"]), "url": urls}),
    min_size=1,
    max_size=3,
)
version_details = st.fixed_dictionaries(
    {
        "version": st.just("2.2.1"),
        "endpoints": st.lists(
            st.fixed_dictionaries(
                {
                    "identifier": st.sampled_from(["locations", "tokens", "credentials", "cdrs"]),
                    "role": st.sampled_from(["SENDER", "RECEIVER"]),
                    "url": urls,
                }
            ),
            min_size=1,
            max_size=4,
        ),
    }
)
client_info = st.fixed_dictionaries(
    {
        "party_id": parties,
        "country_code": countries,
        "role": st.sampled_from(["CPO", "EMSP", "NSP", "SCSP", "NAP", "OTHER"]),
        "status": st.sampled_from(["CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"]),
        "last_updated": moments,
    }
)
rates = st.decimals(min_value=0, max_value=1000, places=1)
charging_profile = merged(
    st.fixed_dictionaries(
        {
            "charging_rate_unit": enum(chargingprofiles.ChargingRateUnit),
            "charging_profile_period": st.lists(
                st.fixed_dictionaries({"start_period": st.integers(0, 7200), "limit": rates}),
                max_size=3,
            ),
        }
    ),
    optional(
        {"start_date_time": moments, "duration": st.integers(0, 7200), "min_charging_rate": rates}
    ),
)
active_charging_profile = st.fixed_dictionaries(
    {"start_date_time": moments, "charging_profile": charging_profile}
)
profile_result = st.fixed_dictionaries({"result": enum(chargingprofiles.ChargingProfileResultType)})

# --- 2.1.1 --------------------------------------------------------------------------------------

ids39 = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=36)
connector_211 = merged(
    st.fixed_dictionaries(
        {
            "id": ids,
            "standard": enum(l211.ConnectorType),
            "format": enum(locations.ConnectorFormat),
            "power_type": enum(l211.PowerType),
            "voltage": small_ints,
            "amperage": small_ints,
            "last_updated": moments,
        }
    ),
    optional({"tariff_id": ids, "terms_and_conditions": urls}),
)
evse_211 = merged(
    st.fixed_dictionaries(
        {
            "uid": ids,
            "status": enum(locations.Status),
            "connectors": st.lists(
                connector_211, min_size=1, max_size=3, unique_by=lambda c: c["id"]
            ),
            "last_updated": moments,
        }
    ),
    optional(
        {
            **evse_optional,
            "capabilities": subset(l211.Capability),
            "coordinates": geo((6, 6)),
        }
    ),
)
energy_mix_211 = merged(
    st.fixed_dictionaries({"is_green_energy": st.booleans()}),
    optional(
        {
            "environ_impact": st.lists(
                st.fixed_dictionaries(
                    {"source": enum(locations.EnvironmentalImpactCategory), "amount": amounts}
                ),
                max_size=2,
            ),
            "supplier_name": texts,
        }
    ),
)
location_211 = merged(
    st.fixed_dictionaries(
        {
            "id": ids,
            # OTHER comes back as UNKNOWN (2.2.1 has no parking_type for either): unit-tested.
            "type": st.sampled_from(
                ["ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "UNKNOWN"]
            ),
            "address": texts,
            "city": texts,
            "postal_code": st.sampled_from(["9000", ""]),
            "country": st.sampled_from(["BEL", "NLD"]),
            "coordinates": geo((6, 6)),
            "last_updated": moments,
        }
    ),
    optional(
        {
            "name": texts,
            "related_locations": st.lists(geo((6, 6)), max_size=2),
            "evses": st.lists(evse_211, max_size=3, unique_by=lambda e: e["uid"]),
            "directions": st.lists(display_texts, max_size=2),
            "operator": business,
            "facilities": subset(l211.Facility),
            "time_zone": st.just("Europe/Amsterdam"),
            "opening_times": hours,
            "charging_when_closed": st.booleans(),
            "images": st.lists(images, max_size=2),
            "energy_mix": energy_mix_211,
        }
    ),
)
tariff_211 = merged(
    st.fixed_dictionaries(
        {
            "id": ids,
            "currency": st.sampled_from(["EUR"]),
            "elements": st.lists(
                merged(
                    st.fixed_dictionaries(
                        {
                            "price_components": st.lists(
                                st.fixed_dictionaries(
                                    {
                                        "type": enum(tariffs.TariffDimensionType),
                                        "price": st.decimals(0, 100, places=4),
                                        "step_size": st.integers(0, 3600),
                                    }
                                ),
                                min_size=1,
                                max_size=3,
                            )
                        }
                    ),
                    optional(
                        {
                            "restrictions": optional(
                                {
                                    "start_time": hhmm,
                                    "end_time": hhmm,
                                    "start_date": dates,
                                    "min_kwh": amounts,
                                    "max_power": amounts,
                                    "max_duration": st.integers(0, 86400),
                                    "day_of_week": subset(tariffs.DayOfWeek),
                                }
                            )
                        }
                    ),
                ),
                min_size=1,
                max_size=3,
            ),
            "last_updated": moments,
        }
    ),
    optional(
        {
            "tariff_alt_text": st.lists(display_texts, max_size=2),
            "tariff_alt_url": urls,
            "energy_mix": energy_mix_211,
        }
    ),
)
token_211 = merged(
    st.fixed_dictionaries(
        {
            "uid": ids,
            "type": st.sampled_from(["RFID", "OTHER"]),
            "auth_id": ids,
            "issuer": texts,
            "valid": st.booleans(),
            "whitelist": enum(tokens.WhitelistType),
            "last_updated": moments,
        }
    ),
    optional({"visual_number": ids, "language": st.sampled_from(["en", "nl"])}),
)
periods_211 = st.lists(
    st.fixed_dictionaries(
        {
            "start_date_time": moments,
            # FLAT has no 2.2.1 dimension (unit-tested).
            "dimensions": st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(
                            ["ENERGY", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"]
                        ),
                        "volume": amounts,
                    }
                ),
                min_size=1,
                max_size=3,
            ),
        }
    ),
    max_size=3,
)


def place_211() -> st.SearchStrategy[Json]:
    """The Location a 2.1.1 Session/CDR embeds: only the EVSE and Connector used."""
    one_evse = merged(
        evse_211.map(lambda e: {**e, "connectors": e["connectors"][:1]}),
        st.fixed_dictionaries({"evse_id": ids}),
    )
    return merged(
        location_211, st.fixed_dictionaries({"evses": st.lists(one_evse, min_size=1, max_size=1)})
    )
