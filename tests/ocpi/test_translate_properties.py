"""Property tests of the version translators (hypothesis).

* 2.2.1 -> 2.3.0 -> 2.2.1 is the identity for every kind of message, with no ``ext``.
* 2.3.0 -> canonical -> 2.3.0 is the identity for objects with 2.3.0-only fields, values 2.2.1
  does not know and extension fields, and the canonical ``data`` is legal 2.2.1.
* 2.1.1 -> canonical -> 2.1.1 keeps every field 2.1.1 has.
* Money keeps its value and its meaning (excl./incl. VAT) in every direction.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ocpi.schemas.common import Role
from app.ocpi.translation import CANONICAL, Kind, PartyIds, TranslationContext, normalise
from app.ocpi.v211 import translate as v211
from app.ocpi.v230 import translate as v230
from tests.ocpi import ocpi_strategies as s

Json = dict[str, Any]
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


# --- 2.2.1 -> 2.3.0 -> 2.2.1 --------------------------------------------------------------------

STRATEGIES_221: dict[Kind, st.SearchStrategy[Any]] = {
    Kind.LOCATION: s.location,
    Kind.EVSE: s.evses,
    Kind.CONNECTOR: s.connector(),
    Kind.TARIFF: s.tariff,
    Kind.TOKEN: s.token,
    Kind.SESSION: s.session,
    Kind.CDR: s.cdr(),
    Kind.LOCATION_PATCH: s.patch_of(s.location),
    Kind.EVSE_PATCH: s.patch_of(s.evses),
    Kind.CONNECTOR_PATCH: s.patch_of(s.connector()),
    Kind.TOKEN_PATCH: s.patch_of(s.token),
    Kind.SESSION_PATCH: s.patch_of(s.session),
    Kind.CHARGING_PREFERENCES: s.charging_preferences,
    Kind.LOCATION_REFERENCES: s.location_references,
    Kind.AUTHORIZATION_INFO: s.authorization_info,
    Kind.START_SESSION: s.start_session,
    Kind.STOP_SESSION: s.stop_session,
    Kind.RESERVE_NOW: s.reserve_now,
    Kind.CANCEL_RESERVATION: s.cancel_reservation,
    Kind.UNLOCK_CONNECTOR: s.unlock_connector,
    Kind.COMMAND_RESPONSE: s.command_response,
    Kind.COMMAND_RESULT: s.command_result,
    Kind.CREDENTIALS: s.credentials,
    Kind.VERSIONS: s.versions,
    Kind.VERSION_DETAILS: s.version_details,
    Kind.CLIENT_INFO: s.client_info,
    Kind.SET_CHARGING_PROFILE: st.fixed_dictionaries(
        {"charging_profile": s.charging_profile, "response_url": s.urls}
    ),
    Kind.ACTIVE_CHARGING_PROFILE: s.active_charging_profile,
    Kind.CHARGING_PROFILE_RESPONSE: st.fixed_dictionaries(
        {
            "result": st.sampled_from(["ACCEPTED", "NOT_SUPPORTED", "REJECTED", "TOO_OFTEN"]),
            "timeout": st.integers(0, 600),
        }
    ),
    Kind.ACTIVE_CHARGING_PROFILE_RESULT: s.merged(
        s.profile_result, s.optional({"profile": s.active_charging_profile})
    ),
    Kind.CHARGING_PROFILE_RESULT: s.profile_result,
    Kind.CLEAR_PROFILE_RESULT: s.profile_result,
}


def test_every_2_2_1_kind_has_a_strategy() -> None:
    assert set(STRATEGIES_221) == set(CANONICAL) - {Kind.TARIFF_PATCH}


@pytest.mark.parametrize("kind", list(STRATEGIES_221))
@FAST
@given(data=st.data())
def test_2_2_1_to_2_3_0_and_back_is_the_identity(kind: Kind, data: st.DataObject) -> None:
    canonical = normalise(CANONICAL[kind], data.draw(STRATEGIES_221[kind]))
    as230 = v230.from_canonical(kind, canonical, None)
    assert normalise(v230._SPECS[kind].model230, as230) == as230
    assert v230.to_canonical(kind, as230) == (canonical, None)


# --- 2.3.0 -> canonical -> 2.3.0 ----------------------------------------------------------------

vendor_values = st.one_of(
    st.integers(0, 9), st.text("xyz", min_size=1, max_size=3), st.lists(st.booleans(), max_size=2)
)


def add_extension_fields(draw: st.DrawFn, value: Any, depth: int = 0) -> None:
    """Sprinkle non-specified fields (2.3.0 "Non-specified JSON fields") over the object tree."""
    if isinstance(value, dict):
        for child in list(value.values()):
            add_extension_fields(draw, child, depth + 1)
        if draw(st.integers(0, 3)) == 0:
            value[f"vendor_{draw(st.sampled_from(['note', 'rank', 'flags']))}_{depth}"] = draw(
                vendor_values
            )
    elif isinstance(value, list):
        for child in value:
            add_extension_fields(draw, child, depth + 1)


tax_lists = st.lists(
    s.merged(
        st.fixed_dictionaries(
            {"name": st.sampled_from(["GST", "PST", "QST", "VAT"]), "amount": s.money}
        ),
        s.optional({"percentage": s.percentages, "account_number": s.ids}),
    ),
    max_size=3,
)
parking_places = st.lists(
    s.merged(
        st.fixed_dictionaries(
            {
                "id": s.ids,
                "vehicle_types": st.lists(
                    st.sampled_from(["PERSONAL_VEHICLE", "VAN", "BUS", "CARGO_BIKE"]),
                    min_size=1,
                    max_size=2,
                    unique=True,
                ),
                "restricted_to_type": st.booleans(),
                "reservation_required": st.booleans(),
            }
        ),
        s.optional(
            {
                "physical_reference": st.sampled_from(["B1", "A12"]),
                "max_vehicle_height": s.amounts,
                "direction": st.sampled_from(["PARALLEL", "ANGLE"]),
                "roofed": st.booleans(),
                "standards": st.lists(st.just("PAS 1899"), max_size=1),
            }
        ),
    ),
    max_size=3,
    unique_by=lambda p: p["id"],
)
unknown_standards = st.sampled_from(["MCS", "SAE_J3400", "X_VENDOR_PLUG"])


def enrich_connector(draw: st.DrawFn, connector: Json) -> None:
    if draw(st.booleans()):
        connector["capabilities"] = draw(
            st.lists(
                st.sampled_from(["ISO_15118_2_PLUG_AND_CHARGE", "V2G"]), max_size=2, unique=True
            )
        )
    if draw(st.integers(0, 3)) == 0:
        connector["standard"] = draw(unknown_standards)


def enrich_evse(
    draw: st.DrawFn, evse: Json, parking_ids: list[str], *, patch: bool = False
) -> None:
    for index, connector in enumerate(evse["connectors"]):
        enrich_connector(draw, connector)
        if patch and index == 0 and connector["standard"] != "SAE_J3400":
            # A PATCH whose every Connector is unknown to 2.2.1 is refused (unit-tested).
            connector["standard"] = "CHADEMO"
    if parking_ids and draw(st.booleans()):
        evse["parking"] = [
            {"parking_id": p, "evse_position": draw(st.sampled_from(["LEFT", "RIGHT", "CENTER"]))}
            for p in draw(st.lists(st.sampled_from(parking_ids), unique=True, max_size=2))
        ]
    if draw(st.booleans()):
        evse["accepted_service_providers"] = draw(st.lists(s.texts, max_size=2))
    if draw(st.booleans()):
        evse["capabilities"] = [*evse.get("capabilities", []), "PLUG_AND_CHARGE"]
        evse["parking_restrictions"] = [*evse.get("parking_restrictions", []), "TAXIS"]


def enrich_location(draw: st.DrawFn, location: Json) -> None:
    places = draw(parking_places)
    if places:
        location["parking_places"] = places
    for evse in location.get("evses", []):
        enrich_evse(draw, evse, [p["id"] for p in places])
    if draw(st.booleans()):
        location["help_phone"] = draw(st.sampled_from(["+32 9 123 45 67", "0800-VOLT"]))
    if draw(st.booleans()):
        location["address"] = draw(st.text("Kaai straat 12", min_size=46, max_size=120))
    if draw(st.booleans()):
        location["facilities"] = [*location.get("facilities", []), "EV_LOUNGE"]
        location["parking_type"] = "TRUCK_STOP"
    for image in location.get("images", []):
        if draw(st.booleans()):
            image["category"] = "DRONE_VIEW"


def enrich_price(draw: st.DrawFn, price: Json | None) -> None:
    if price is not None and draw(st.booleans()):
        price["taxes"] = draw(tax_lists)


def enrich_tariff(draw: st.DrawFn, tariff: Json, *, exact: bool = True) -> None:
    choice = draw(st.sampled_from(["NO", "N/A", "YES"]))
    if choice == "YES" and exact:
        # Prices including VAT that have an exact price excluding VAT: (2 decimals) * (1 + vat).
        for element in tariff["elements"]:
            for component in element["price_components"]:
                excl = draw(s.money)
                vat = draw(st.sampled_from([Decimal(0), Decimal(6), Decimal(19), Decimal(21)]))
                component.update(vat=vat, price=excl * (100 + vat) / 100)
    tariff["tax_included"] = choice
    if draw(st.booleans()):
        tariff["preauthorize_amount"] = draw(s.money)


def enrich(draw: st.DrawFn, kind: Kind, obj: Any) -> None:
    if kind in (Kind.LOCATION, Kind.LOCATION_PATCH):
        enrich_location(draw, obj)
    elif kind in (Kind.EVSE, Kind.EVSE_PATCH) and "connectors" in obj:
        enrich_evse(draw, obj, [], patch=kind == Kind.EVSE_PATCH)
    elif kind == Kind.CONNECTOR:
        enrich_connector(draw, obj)
    elif kind == Kind.TARIFF:
        enrich_tariff(draw, obj)
    elif kind in (Kind.SESSION, Kind.SESSION_PATCH):
        enrich_price(draw, obj.get("total_cost"))
    elif kind == Kind.CDR:
        for name in v230._CDR_PRICES:
            enrich_price(draw, obj.get(name))
        for tariff in obj.get("tariffs", []):
            enrich_tariff(draw, tariff, exact=draw(st.booleans()))
        if draw(st.integers(0, 3)) == 0:
            obj["cdr_location"]["connector_standard"] = "SAE_J3400"
        if obj.get("signed_data") and draw(st.booleans()):
            obj["signed_data"]["signed_values"][0]["plain_data"] = "O" * 600
    elif kind == Kind.CREDENTIALS and draw(st.booleans()):
        obj["hub_party_id"] = "NLHUB"
    token = None
    if kind in (Kind.AUTHORIZATION_INFO, Kind.START_SESSION, Kind.RESERVE_NOW):
        token = obj["token"]
    elif kind in (Kind.SESSION, Kind.CDR, Kind.SESSION_PATCH):
        token = obj.get("cdr_token")
    elif kind in (Kind.TOKEN, Kind.TOKEN_PATCH) and "type" in obj:
        token = obj
    if token is not None and draw(st.integers(0, 2)) == 0:
        token["type"] = draw(st.sampled_from(["EMAID", "X_BADGE"]))
    add_extension_fields(draw, obj)


@pytest.mark.parametrize("kind", list(STRATEGIES_221))
@FAST
@given(data=st.data())
def test_2_3_0_to_canonical_and_back_is_the_identity(kind: Kind, data: st.DataObject) -> None:
    canonical = normalise(CANONICAL[kind], data.draw(STRATEGIES_221[kind]))
    obj = copy.deepcopy(v230.from_canonical(kind, canonical, None))
    enrich(data.draw, kind, obj)
    obj = normalise(v230._SPECS[kind].model230, obj)
    stored, ext = v230.to_canonical(kind, obj)
    if stored is not None:
        assert normalise(CANONICAL[kind], stored) == stored  # legal 2.2.1, in stored form
    assert v230.from_canonical(kind, stored, ext) == obj


# --- 2.1.1 -> canonical -> 2.1.1 ----------------------------------------------------------------

CPO = PartyIds("NL", "ABC")
EMSP = PartyIds("DE", "TNM")


def contains(original: Any, translated: Any, path: str = "") -> None:
    """Every field of ``original`` is in ``translated`` with the same value (fields may be added,
    e.g. the time zone 2.2.1 requires)."""
    if isinstance(original, dict):
        assert isinstance(translated, dict), path
        for name, value in original.items():
            assert name in translated, f"{path}.{name} is lost"
            contains(value, translated[name], f"{path}.{name}")
    elif isinstance(original, list):
        assert isinstance(translated, list) and len(translated) == len(original), path
        for index, (a, b) in enumerate(zip(original, translated, strict=True)):
            contains(a, b, f"{path}[{index}]")
    else:
        assert original == translated, f"{path}: {original!r} became {translated!r}"


@st.composite
def session_211(draw: st.DrawFn, *, cdr: bool = False) -> tuple[Json, Json]:
    token = draw(s.token_211)
    place = draw(s.place_211())
    if cdr:
        body = {
            "id": draw(s.ids),
            "start_date_time": draw(s.moments),
            "stop_date_time": draw(s.moments),
            "auth_id": token["auth_id"],
            "auth_method": draw(st.sampled_from(["AUTH_REQUEST", "WHITELIST"])),
            "location": place,
            "currency": "EUR",
            "tariffs": draw(st.lists(s.tariff_211, max_size=2)),
            "charging_periods": draw(s.periods_211.filter(bool)),
            "total_cost": draw(s.money),
            "total_energy": draw(s.amounts),
            "total_time": draw(s.amounts),
            "last_updated": draw(s.moments),
        }
        body.update(
            draw(
                s.optional({"meter_id": s.ids, "total_parking_time": s.amounts, "remark": s.texts})
            )
        )
    else:
        body = {
            "id": draw(s.ids),
            "start_datetime": draw(s.moments),
            "kwh": draw(s.amounts),
            "auth_id": token["auth_id"],
            "auth_method": draw(st.sampled_from(["AUTH_REQUEST", "WHITELIST"])),
            "location": place,
            "currency": "EUR",
            "charging_periods": draw(s.periods_211),
            "status": draw(st.sampled_from(["ACTIVE", "COMPLETED", "INVALID", "PENDING"])),
            "last_updated": draw(s.moments),
        }
        body.update(
            draw(s.optional({"end_datetime": s.moments, "meter_id": s.ids, "total_cost": s.money}))
        )
    return body, token


def context_211(token: Json | None = None) -> TranslationContext:
    canonical = None
    if token is not None:
        canonical, _ = v211.to_canonical(Kind.TOKEN, token, TranslationContext(owner=EMSP))
    return TranslationContext(
        owner=CPO, time_zone="Europe/Amsterdam", token=canonical, command_timeout=30
    )


SIMPLE_211: dict[Kind, st.SearchStrategy[Any]] = {
    Kind.LOCATION: s.location_211,
    Kind.EVSE: s.evse_211,
    Kind.CONNECTOR: s.connector_211,
    Kind.TARIFF: s.tariff_211,
    Kind.TOKEN: s.token_211,
    Kind.STOP_SESSION: st.fixed_dictionaries({"response_url": s.urls, "session_id": s.ids}),
    Kind.UNLOCK_CONNECTOR: st.fixed_dictionaries(
        {"response_url": s.urls, "location_id": s.ids39, "evse_uid": s.ids, "connector_id": s.ids}
    ),
    Kind.START_SESSION: s.merged(
        st.fixed_dictionaries({"response_url": s.urls, "token": s.token_211, "location_id": s.ids}),
        s.optional({"evse_uid": s.ids}),
    ),
    Kind.RESERVE_NOW: s.merged(
        st.fixed_dictionaries(
            {
                "response_url": s.urls,
                "token": s.token_211,
                "expiry_date": s.moments,
                "reservation_id": st.integers(0, 2**31 - 1),
                "location_id": s.ids,
            }
        ),
        s.optional({"evse_uid": s.ids}),
    ),
    # Values that have a 2.2.1 equal (TIMEOUT and UNKNOWN_SESSION become REJECTED: unit-tested).
    Kind.COMMAND_RESPONSE: st.fixed_dictionaries(
        {"result": st.sampled_from(["ACCEPTED", "REJECTED", "NOT_SUPPORTED", "UNKNOWN_SESSION"])}
    ),
    Kind.COMMAND_RESULT: st.fixed_dictionaries(
        {"result": st.sampled_from(["ACCEPTED", "REJECTED", "NOT_SUPPORTED", "TIMEOUT"])}
    ),
    Kind.LOCATION_REFERENCES: s.merged(
        st.fixed_dictionaries({"location_id": s.ids}),
        s.optional({"evse_uids": st.lists(s.ids, max_size=2)}),
    ),
    Kind.VERSIONS: st.lists(
        st.fixed_dictionaries({"version": st.sampled_from(["2.0", "2.1.1"]), "url": s.urls}),
        min_size=1,
        max_size=2,
    ),
}


@pytest.mark.parametrize("kind", list(SIMPLE_211))
@FAST
@given(data=st.data())
def test_2_1_1_to_canonical_and_back_keeps_every_field(kind: Kind, data: st.DataObject) -> None:
    original = normalise(v211._SPECS[kind].model211, data.draw(SIMPLE_211[kind]))
    ctx = TranslationContext(owner=CPO, time_zone="Europe/Amsterdam", command_timeout=30)
    canonical, ext = v211.to_canonical(kind, original, ctx)
    assert ext is None
    assert normalise(CANONICAL[kind], canonical) == canonical
    contains(original, v211.from_canonical(kind, canonical, None, ctx))


@pytest.mark.parametrize("kind", [Kind.SESSION, Kind.CDR])
@FAST
@given(data=st.data())
def test_2_1_1_sessions_and_cdrs_keep_every_field(kind: Kind, data: st.DataObject) -> None:
    body, token = data.draw(session_211(cdr=kind == Kind.CDR))
    original = normalise(v211._SPECS[kind].model211, body)
    ctx = context_211(token)
    canonical, _ = v211.to_canonical(kind, original, ctx)
    # The hub knows the Location from the Locations module; here: the one the message embeds.
    location, _ = v211.to_canonical(Kind.LOCATION, original["location"], ctx)
    back = v211.from_canonical(kind, canonical, None, TranslationContext(location=location))
    contains(original, back)


@FAST
@given(data=st.data())
def test_2_1_1_credentials_keep_every_field(data: st.DataObject) -> None:
    body = data.draw(
        st.fixed_dictionaries(
            {
                "token": s.ids,
                "url": s.urls,
                "business_details": s.business,
                "party_id": s.parties,
                "country_code": s.countries,
            }
        )
    )
    original = normalise(v211._SPECS[Kind.CREDENTIALS].model211, body)
    ctx = TranslationContext(roles=(data.draw(st.sampled_from([Role.CPO, Role.EMSP])),))
    canonical, _ = v211.to_canonical(Kind.CREDENTIALS, original, ctx)
    assert v211.from_canonical(Kind.CREDENTIALS, canonical, None, ctx) == original


# --- money --------------------------------------------------------------------------------------


def taxes_total(price: Json) -> Decimal:
    return sum((dec(t["amount"]) for t in price.get("taxes", [])), Decimal(0))


@FAST
@given(data=st.data())
def test_2_2_1_prices_keep_value_and_meaning_in_2_3_0(data: st.DataObject) -> None:
    cdr = normalise(CANONICAL[Kind.CDR], data.draw(s.cdr()))
    as230 = v230.from_canonical(Kind.CDR, cdr, None)
    for name in v230._CDR_PRICES:
        if name not in cdr:
            continue
        price, limit = cdr[name], as230[name]
        assert dec(limit["before_taxes"]) == dec(price["excl_vat"])
        if "incl_vat" in price:
            assert dec(limit["before_taxes"]) + taxes_total(limit) == dec(price["incl_vat"])
        else:
            assert limit["taxes"] == []  # no tax amount is made up
    for original, translated in zip(cdr.get("tariffs", []), as230["tariffs"], strict=True):
        assert translated["tax_included"] == "NO"  # 2.2.1 prices are excl. VAT
        assert translated["elements"] == original["elements"]


@FAST
@given(data=st.data())
def test_2_3_0_prices_keep_value_and_meaning_in_2_2_1(data: st.DataObject) -> None:
    canonical = normalise(CANONICAL[Kind.CDR], data.draw(s.cdr()))
    obj = copy.deepcopy(v230.from_canonical(Kind.CDR, canonical, None))
    for name in v230._CDR_PRICES:
        enrich_price(data.draw, obj.get(name))
    stored, _ = v230.to_canonical(Kind.CDR, obj)
    for name in v230._CDR_PRICES:
        if name not in obj:
            continue
        assert dec(stored[name]["excl_vat"]) == dec(obj[name]["before_taxes"])
        if obj[name]["taxes"]:
            assert dec(stored[name]["incl_vat"]) == dec(obj[name]["before_taxes"]) + taxes_total(
                obj[name]
            )
        else:
            assert "incl_vat" not in stored[name]


@FAST
@given(data=st.data())
def test_2_3_0_prices_including_taxes_are_exact_excluding_vat_in_2_2_1(data: st.DataObject) -> None:
    tariff = copy.deepcopy(
        v230.from_canonical(
            Kind.TARIFF, normalise(CANONICAL[Kind.TARIFF], data.draw(s.tariff)), None
        )
    )
    enrich_tariff(data.draw, tariff)
    stored, _ = v230.to_canonical(Kind.TARIFF, tariff)
    for element, kept in zip(tariff["elements"], stored["elements"], strict=True):
        for component, excl in zip(
            element["price_components"], kept["price_components"], strict=True
        ):
            if tariff["tax_included"] == "YES":
                rate = 100 + dec(component["vat"])
                assert dec(excl["price"]) * rate == dec(component["price"]) * 100
            else:
                assert dec(excl["price"]) == dec(component["price"])
    for name in ("min_price", "max_price"):
        if name in tariff:
            assert dec(stored[name]["excl_vat"]) == dec(tariff[name]["before_taxes"])


@FAST
@given(data=st.data())
def test_2_1_1_money_is_excl_vat_both_ways(data: st.DataObject) -> None:
    body, token = data.draw(session_211(cdr=True))
    ctx = context_211(token)
    canonical, _ = v211.to_canonical(Kind.CDR, body, ctx)
    # total_cost excl. VAT stays excl. VAT and nothing incl. VAT is made up.
    assert dec(canonical["total_cost"]["excl_vat"]) == dec(body["total_cost"])
    assert "incl_vat" not in canonical["total_cost"]
    for original, translated in zip(body["tariffs"], canonical["tariffs"], strict=True):
        for element, kept in zip(original["elements"], translated["elements"], strict=True):
            for component, price in zip(
                element["price_components"], kept["price_components"], strict=True
            ):
                assert dec(price["price"]) == dec(component["price"])
                assert "vat" not in price  # unknown unless the partner's rate is configured
    # And a 2.2.1 price incl. VAT goes to 2.1.1 as its excl. VAT part.
    with_vat = {**canonical, "total_cost": {"excl_vat": 10, "incl_vat": 12.1}}
    location, _ = v211.to_canonical(Kind.LOCATION, body["location"], ctx)
    out = v211.from_canonical(Kind.CDR, with_vat, None, TranslationContext(location=location))
    assert out["total_cost"] == 10
