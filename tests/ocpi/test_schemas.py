"""OCPI 2.2.1 module schemas against the spec's example payloads (copied verbatim into examples/).

Spec examples that violate the spec itself are listed in DEFECTIVE_EXAMPLES and checked to fail for
exactly the documented reasons.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.ocpi.schemas import (
    cdrs,
    chargingprofiles,
    commands,
    common,
    hubclientinfo,
    locations,
    sessions,
    tariffs,
    tokens,
)

EXAMPLES = Path(__file__).parent / "examples"
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def _dig(data: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


# (file, model, path inside the file to the object; () = the whole file). A path ending in "*"
# means "every item of this list".
SPEC_EXAMPLES: list[tuple[str, type[common.OcpiModel], tuple[str | int, ...]]] = [
    # Tariffs
    *[
        (name, tariffs.Tariff, ())
        for name in (
            "tariff_1_simple_2hour.json",
            "tariff_2_alt_text.json",
            "tariff_3_alt_url.json",
            "tariff_4_complex.json",
            "tariff_5_free_of_charge.json",
            "tariff_6_025kwh_start_max_price.json",
            "tariff_8_simple_025kwh.json",
            "tariff_9_025kwh_start.json",
            "tariff_10_025kwh_parking_start.json",
            "tariff_11_not_possible_alt_text.json",
            "tariff_12_025kwh_min_price.json",
            "tariff_13_simple_3hour_5parking.json",
            "tariff_14_step_size.json",
            "tariff_15_reservation_5_euro_per_hour.json",
            "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json",
            "tariff_17_reservation_with_expire_fee.json",
            "tariff_18_reservation_with_expire_time.json",
            "tariffrestriction_example_max_duration.json",
            "tariffrestriction_example_max_power.json",
        )
    ],
    # CDRs
    ("cdr_example.json", cdrs.CDR, ()),
    # Locations
    *[
        (name, locations.Location, ())
        for name in (
            "location_example.json",
            "location_example_parking_garage_opening_hours.json",
            "location_example_uc2_destination_charger.json",
            "location_example_uc3_destination_charger_not_published.json",
            "location_example_uc4_limited_visibility.json",
            "location_example_uc5_home_charge_point.json",
        )
    ],
    ("location_energymix_example_simple.json", locations.EnergyMix, ("energy_mix",)),
    ("location_energymix_example_energy_provider.json", locations.EnergyMix, ("energy_mix",)),
    ("location_energymix_example_complete.json", locations.EnergyMix, ("energy_mix",)),
    ("location_hours_247_open_exception_closing.json", locations.Hours, ()),
    ("location_hours_opening_hours_with_exceptional_closing.json", locations.Hours, ()),
    ("location_hours_opening_hours_with_exceptional_opening.json", locations.Hours, ()),
    ("location_regularhours_example.json", locations.Hours, ("opening_times",)),
    ("location_patch_example_location.json", locations.LocationPatch, ()),
    ("location_patch_example_status.json", locations.EvsePatch, ()),
    ("location_patch_example_remove_evse.json", locations.EvsePatch, ()),
    ("location_patch_example_tariff.json", locations.ConnectorPatch, ()),
    # Sessions
    ("session_example_1_simple_start.json", sessions.Session, ()),
    ("session_example_2_short_finished.json", sessions.Session, ()),
    ("session_patch_example_total_cost.json", sessions.SessionPatch, ()),
    ("session_patch_example_charging_period.json", sessions.SessionPatch, ()),
    # Tokens
    ("token_example_1_app_user.json", tokens.Token, ()),
    ("token_example_2_full_rfid.json", tokens.Token, ()),
    ("token_put_example.json", tokens.Token, ()),
    ("token_patch_example.json", tokens.TokenPatch, ()),
    ("transport_and_format_get_token_example.json", tokens.Token, ("data",)),
    ("transport_and_format_get_token_list_example.json", tokens.Token, ("data", "*")),
]


def _objects(name: str, path: tuple[str | int, ...]) -> list[Any]:
    data = load(name)
    if path and path[-1] == "*":
        items = _dig(data, path[:-1])
        assert isinstance(items, list) and items
        return list(items)
    return [_dig(data, path)]


def _datetimes_end_in_z(data: Any) -> None:
    if isinstance(data, dict):
        for value in data.values():
            _datetimes_end_in_z(value)
    elif isinstance(data, list):
        for value in data:
            _datetimes_end_in_z(value)
    elif isinstance(data, str) and _DATETIME.match(data):
        assert data.endswith("Z"), data


def _assert_contains(original: Any, dumped: Any, where: str = "$") -> None:
    """Every non-null value of the original payload is in the dump, with the same meaning."""
    if isinstance(original, dict):
        assert isinstance(dumped, dict), where
        for key, value in original.items():
            if value is None:
                continue
            assert key in dumped, f"{where}.{key} lost"
            _assert_contains(value, dumped[key], f"{where}.{key}")
    elif isinstance(original, list):
        assert isinstance(dumped, list) and len(dumped) == len(original), where
        for index, (a, b) in enumerate(zip(original, dumped, strict=True)):
            _assert_contains(a, b, f"{where}[{index}]")
    elif isinstance(original, bool) or original is None:
        assert dumped == original, where
    elif isinstance(original, int | float):
        assert Decimal(str(dumped)) == Decimal(str(original)), where
    else:
        assert dumped == original, where


@pytest.mark.parametrize(
    ("name", "model", "path"),
    [pytest.param(n, m, p, id=n) for n, m, p in SPEC_EXAMPLES],
)
def test_spec_example_parses_and_round_trips(
    name: str, model: type[common.OcpiModel], path: tuple[str | int, ...]
) -> None:
    for original in _objects(name, path):
        parsed = model.model_validate(original)
        dumped = parsed.to_json()
        # Real JSON, not just a dict of Python objects.
        text = json.dumps(dumped)
        _datetimes_end_in_z(dumped)
        _assert_contains(original, dumped)
        assert model.model_validate(json.loads(text)) == parsed
        assert model.model_validate_json(text) == parsed


def test_every_copied_example_is_used() -> None:
    used = {name for name, _, _ in SPEC_EXAMPLES} | set(DEFECTIVE_EXAMPLES)
    assert {p.name for p in EXAMPLES.glob("*.json")} == used


# Spec examples that contradict the spec's own object tables, with the errors they must raise.
DEFECTIVE_EXAMPLES: dict[str, tuple[type[common.OcpiModel], set[tuple[tuple[str | int, ...], str]]]]
DEFECTIVE_EXAMPLES = {
    # Tariff.last_updated has cardinality 1, the PUT example leaves it out.
    "tariff_put_example.json": (tariffs.Tariff, {(("last_updated",), "missing")}),
    # Written for OCPI 2.1 ("floor" instead of floor_level, which is ignored as unknown):
    # physical_reference is a JSON number, and the connector lacks four required fields.
    "location_put_example_add_evse.json": (
        locations.EVSE,
        {
            (("connectors", 0, "power_type"), "missing"),
            (("connectors", 0, "max_voltage"), "missing"),
            (("connectors", 0, "max_amperage"), "missing"),
            (("connectors", 0, "last_updated"), "missing"),
            (("physical_reference",), "string_type"),
        },
    ),
}


@pytest.mark.parametrize("name", sorted(DEFECTIVE_EXAMPLES))
def test_defective_spec_example_fails_for_the_documented_reasons(name: str) -> None:
    model, expected = DEFECTIVE_EXAMPLES[name]
    with pytest.raises(ValidationError) as info:
        model.model_validate(load(name))
    assert {(tuple(e["loc"]), e["type"]) for e in info.value.errors()} == expected


def test_tariff_put_example_parses_once_last_updated_is_added() -> None:
    data = load("tariff_put_example.json") | {"last_updated": "2019-06-24T12:39:09"}
    tariff = tariffs.Tariff.model_validate(data)
    assert tariff.to_json()["last_updated"] == "2019-06-24T12:39:09Z"


# --- Payloads for objects the spec gives no example file for --------------------------------------

TOKEN = load("token_example_2_full_rfid.json")
CHARGING_PROFILE = {
    "start_date_time": "2024-01-01T10:00:00",
    "duration": 3600,
    "charging_rate_unit": "A",
    "min_charging_rate": 6.0,
    "charging_profile_period": [
        {"start_period": 0, "limit": 16.0},
        {"start_period": 1800, "limit": 8.1},
    ],
}
INLINE_EXAMPLES: list[tuple[str, type[common.OcpiModel], dict[str, Any]]] = [
    (
        "start_session",
        commands.StartSession,
        {
            "response_url": "https://emsp.example.com/ocpi/2.2.1/commands/START_SESSION/1",
            "token": TOKEN,
            "location_id": "LOC1",
            "evse_uid": "3256",
            "connector_id": "1",
            "authorization_reference": "AUTH-1",
        },
    ),
    (
        "stop_session",
        commands.StopSession,
        {"response_url": "https://emsp.example.com/r/2", "session_id": "101"},
    ),
    (
        "reserve_now",
        commands.ReserveNow,
        {
            "response_url": "https://emsp.example.com/r/3",
            "token": TOKEN,
            "expiry_date": "2024-01-01T12:00:00.5+02:00",
            "reservation_id": "R1",
            "location_id": "LOC1",
        },
    ),
    (
        "cancel_reservation",
        commands.CancelReservation,
        {"response_url": "https://emsp.example.com/r/4", "reservation_id": "R1"},
    ),
    (
        "unlock_connector",
        commands.UnlockConnector,
        {
            "response_url": "https://emsp.example.com/r/5",
            "location_id": "LOC1",
            "evse_uid": "3256",
            "connector_id": "1",
        },
    ),
    (
        "command_response",
        commands.CommandResponse,
        {"result": "ACCEPTED", "timeout": 30, "message": [{"language": "en", "text": "OK"}]},
    ),
    ("command_result", commands.CommandResult, {"result": "EVSE_OCCUPIED"}),
    (
        "set_charging_profile",
        chargingprofiles.SetChargingProfile,
        {"charging_profile": CHARGING_PROFILE, "response_url": "https://emsp.example.com/r/6"},
    ),
    (
        "active_charging_profile_result",
        chargingprofiles.ActiveChargingProfileResult,
        {
            "result": "ACCEPTED",
            "profile": {
                "start_date_time": "2024-01-01T10:00:00Z",
                "charging_profile": CHARGING_PROFILE,
            },
        },
    ),
    (
        "charging_profile_response",
        chargingprofiles.ChargingProfileResponse,
        {"result": "TOO_OFTEN", "timeout": 20},
    ),
    ("charging_profile_result", chargingprofiles.ChargingProfileResult, {"result": "REJECTED"}),
    ("clear_profile_result", chargingprofiles.ClearProfileResult, {"result": "UNKNOWN"}),
    (
        # mod_hub_client_info "Example: put a new ClientInfo object", with the trailing comma that
        # makes the spec's text invalid JSON removed and the required last_updated added.
        "client_info",
        hubclientinfo.ClientInfo,
        {
            "country_code": "NL",
            "party_id": "ALL",
            "role": "CPO",
            "status": "PLANNED",
            "last_updated": "2019-06-24T12:39:09Z",
        },
    ),
    (
        "charging_preferences",
        sessions.ChargingPreferences,
        {
            "profile_type": "FAST",
            "departure_time": "2024-01-01T18:00:00Z",
            "energy_need": 32.5,
            "discharge_allowed": False,
        },
    ),
    (
        "authorization_info",
        tokens.AuthorizationInfo,
        {
            "allowed": "ALLOWED",
            "token": TOKEN,
            "location": {"location_id": "LOC1", "evse_uids": ["3256", "3257"]},
            "authorization_reference": "AUTH-1",
            "info": {"language": "nl", "text": "Welkom"},
        },
    ),
]


@pytest.mark.parametrize(
    ("model", "payload"), [pytest.param(m, p, id=i) for i, m, p in INLINE_EXAMPLES]
)
def test_inline_payload_parses_and_round_trips(
    model: type[common.OcpiModel], payload: dict[str, Any]
) -> None:
    parsed = model.model_validate(payload)
    dumped = parsed.to_json()
    _datetimes_end_in_z(dumped)
    assert model.model_validate_json(json.dumps(dumped)) == parsed


def test_reserve_now_expiry_is_normalised_to_utc() -> None:
    payload = dict(INLINE_EXAMPLES[2][2])
    reserve = commands.ReserveNow.model_validate(payload)
    assert reserve.to_json()["expiry_date"] == "2024-01-01T10:00:00.5Z"


# --- Invalid input ---------------------------------------------------------------------------

TARIFF = load("tariff_4_complex.json")
CDR = load("cdr_example.json")
LOCATION = load("location_example.json")
SESSION = load("session_example_2_short_finished.json")


def _without(data: dict[str, Any], *path: str | int) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    parent = _dig(data, path[:-1])
    del parent[path[-1]]
    return data


def _with(data: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    data = json.loads(json.dumps(data))
    _dig(data, path[:-1])[path[-1]] = value
    return data


INVALID: list[tuple[str, type[common.OcpiModel], dict[str, Any]]] = [
    # missing required field
    ("tariff-missing-currency", tariffs.Tariff, _without(TARIFF, "currency")),
    (
        "tariff-missing-step_size",
        tariffs.Tariff,
        _without(TARIFF, "elements", 0, "price_components", 0, "step_size"),
    ),
    ("tariff-empty-elements", tariffs.Tariff, _with(TARIFF, [], "elements")),
    ("cdr-missing-cdr_token", cdrs.CDR, _without(CDR, "cdr_token")),
    ("cdr-missing-charging_periods", cdrs.CDR, _without(CDR, "charging_periods")),
    (
        "cdr-period-without-dimensions",
        cdrs.CDR,
        _with(CDR, [], "charging_periods", 0, "dimensions"),
    ),
    ("location-missing-time_zone", locations.Location, _without(LOCATION, "time_zone")),
    ("evse-without-connectors", locations.Location, _with(LOCATION, [], "evses", 0, "connectors")),
    ("session-missing-kwh", sessions.Session, _without(SESSION, "kwh")),
    ("token-missing-whitelist", tokens.Token, _without(TOKEN, "whitelist")),
    ("token-patch-missing-last_updated", tokens.TokenPatch, {"valid": False}),
    (
        "client-info-missing-last_updated",
        hubclientinfo.ClientInfo,
        _without(INLINE_EXAMPLES[12][2], "last_updated"),
    ),
    # oversize / malformed strings
    ("tariff-id-37", tariffs.Tariff, _with(TARIFF, "x" * 37, "id")),
    ("tariff-currency-4", tariffs.Tariff, _with(TARIFF, "EURO", "currency")),
    ("tariff-party_id-4", tariffs.Tariff, _with(TARIFF, "ABCD", "party_id")),
    (
        "tariff-alt-text-513",
        tariffs.Tariff,
        _with(TARIFF, [{"language": "en", "text": "x" * 513}], "tariff_alt_text"),
    ),
    (
        "tariff-start_time-syntax",
        tariffs.Tariff,
        _with(TARIFF, "7:00", "elements", 1, "restrictions", "start_time"),
    ),
    (
        "tariff-end_date-syntax",
        tariffs.Tariff,
        _with(TARIFF, {"end_date": "2015-13-01"}, "elements", 0, "restrictions"),
    ),
    ("cdr-id-40", cdrs.CDR, _with(CDR, "x" * 40, "id")),
    ("cdr-address-46", cdrs.CDR, _with(CDR, "x" * 46, "cdr_location", "address")),
    ("cdr-non-ascii-cistring", cdrs.CDR, _with(CDR, "Zürich", "cdr_location", "id")),
    ("location-name-256", locations.Location, _with(LOCATION, "x" * 256, "name")),
    ("location-name-newline", locations.Location, _with(LOCATION, "Gent\nZuid", "name")),
    (
        "location-latitude-precision",
        locations.Location,
        _with(LOCATION, "51.0475", "coordinates", "latitude"),
    ),
    (
        "evse-physical_reference-17",
        locations.Location,
        _with(LOCATION, "x" * 17, "evses", 0, "physical_reference"),
    ),
    ("session-id-37", sessions.Session, _with(SESSION, "x" * 37, "id")),
    ("token-issuer-65", tokens.Token, _with(TOKEN, "x" * 65, "issuer")),
    (
        "stop-session-url-256",
        commands.StopSession,
        {"response_url": "https://e.com/" + "x" * 242, "session_id": "1"},
    ),
    # wrong enum value
    (
        "tariff-dimension",
        tariffs.Tariff,
        _with(TARIFF, "KWH", "elements", 0, "price_components", 0, "type"),
    ),
    (
        "tariff-day_of_week",
        tariffs.Tariff,
        _with(TARIFF, ["MON"], "elements", 1, "restrictions", "day_of_week"),
    ),
    ("tariff-type-lowercase", tariffs.Tariff, _with(TARIFF, "regular", "type")),
    ("cdr-auth_method", cdrs.CDR, _with(CDR, "RFID", "auth_method")),
    (
        "cdr-dimension-type",
        cdrs.CDR,
        _with(CDR, "KWH", "charging_periods", 0, "dimensions", 0, "type"),
    ),
    ("cdr-connector_standard", cdrs.CDR, _with(CDR, "TYPE2", "cdr_location", "connector_standard")),
    ("location-parking_type", locations.Location, _with(LOCATION, "STREET", "parking_type")),
    ("evse-status", locations.Location, _with(LOCATION, "FREE", "evses", 0, "status")),
    ("session-status", sessions.Session, _with(SESSION, "DONE", "status")),
    ("token-type", tokens.Token, _with(TOKEN, "CARD", "type")),
    ("client-info-role", hubclientinfo.ClientInfo, _with(INLINE_EXAMPLES[12][2], "MSP", "role")),
    ("command-result", commands.CommandResult, {"result": "OK"}),
    (
        "charging-rate-unit",
        chargingprofiles.ChargingProfile,
        _with(CHARGING_PROFILE, "kW", "charging_rate_unit"),
    ),
    # wrong type
    (
        "tariff-price-string",
        tariffs.Tariff,
        _with(TARIFF, "cheap", "elements", 0, "price_components", 0, "price"),
    ),
    (
        "tariff-price-bool",
        tariffs.Tariff,
        _with(TARIFF, True, "elements", 0, "price_components", 0, "price"),
    ),
    (
        "tariff-step_size-fraction",
        tariffs.Tariff,
        _with(TARIFF, 1.5, "elements", 0, "price_components", 0, "step_size"),
    ),
    ("tariff-last_updated-number", tariffs.Tariff, _with(TARIFF, 1435613949, "last_updated")),
    ("tariff-last_updated-garbage", tariffs.Tariff, _with(TARIFF, "yesterday", "last_updated")),
    ("tariff-elements-object", tariffs.Tariff, _with(TARIFF, {"price_components": []}, "elements")),
    ("cdr-total_energy-list", cdrs.CDR, _with(CDR, [15], "total_energy")),
    ("cdr-total_cost-number", cdrs.CDR, _with(CDR, 4.0, "total_cost")),
    ("location-publish-string", locations.Location, _with(LOCATION, "maybe", "publish")),
    ("location-id-number", locations.Location, _with(LOCATION, 1, "id")),
    (
        "connector-max_voltage-string",
        locations.Location,
        _with(LOCATION, "high", "evses", 0, "connectors", 0, "max_voltage"),
    ),
    ("session-kwh-nan", sessions.Session, _with(SESSION, "NaN", "kwh")),
    ("token-valid-string", tokens.Token, _with(TOKEN, [True], "valid")),
    (
        "command-response-timeout",
        commands.CommandResponse,
        {"result": "ACCEPTED", "timeout": "soon"},
    ),
]


@pytest.mark.parametrize(("model", "payload"), [pytest.param(m, p, id=i) for i, m, p in INVALID])
def test_invalid_payload_is_rejected(
    model: type[common.OcpiModel], payload: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(payload)
    # The base payloads are valid, so the one mutation is the one error.
    assert info.value.error_count() == 1, info.value.errors()


# --- Tolerance: unknown fields and explicit nulls ----------------------------------------------


def test_unknown_fields_are_ignored_at_every_level() -> None:
    data = _with(CDR, "x", "vendor_extension")
    data = _with(data, {"nested": True}, "cdr_location", "vendor_extension")
    data = _with(data, 1, "tariffs", 0, "elements", 0, "price_components", 0, "vendor_extension")
    cdr = cdrs.CDR.model_validate(data)
    dumped = json.dumps(cdr.to_json())
    assert "vendor_extension" not in dumped
    assert cdr == cdrs.CDR.model_validate(CDR)


@pytest.mark.parametrize(
    ("model", "payload", "optional_fields"),
    [
        pytest.param(
            tariffs.Tariff,
            TARIFF,
            [
                "type",
                "tariff_alt_text",
                "tariff_alt_url",
                "min_price",
                "max_price",
                "start_date_time",
                "end_date_time",
                "energy_mix",
            ],
            id="tariff",
        ),
        pytest.param(
            cdrs.CDR,
            CDR,
            [
                "session_id",
                "authorization_reference",
                "meter_id",
                "tariffs",
                "signed_data",
                "total_fixed_cost",
                "total_energy_cost",
                "total_time_cost",
                "total_parking_time",
                "total_parking_cost",
                "total_reservation_cost",
                "remark",
                "invoice_reference_id",
                "credit",
                "credit_reference_id",
                "home_charging_compensation",
            ],
            id="cdr",
        ),
        pytest.param(
            locations.Location,
            LOCATION,
            [
                "publish_allowed_to",
                "name",
                "postal_code",
                "state",
                "related_locations",
                "parking_type",
                "evses",
                "directions",
                "operator",
                "suboperator",
                "owner",
                "facilities",
                "opening_times",
                "charging_when_closed",
                "images",
                "energy_mix",
            ],
            id="location",
        ),
        pytest.param(
            sessions.Session,
            SESSION,
            [
                "end_date_time",
                "authorization_reference",
                "meter_id",
                "charging_periods",
                "total_cost",
            ],
            id="session",
        ),
        pytest.param(
            tokens.Token,
            TOKEN,
            ["visual_number", "group_id", "language", "default_profile_type", "energy_contract"],
            id="token",
        ),
        pytest.param(
            chargingprofiles.ChargingProfile,
            CHARGING_PROFILE,
            ["start_date_time", "duration", "min_charging_rate", "charging_profile_period"],
            id="charging-profile",
        ),
        pytest.param(
            commands.CommandResult, {"result": "ACCEPTED"}, ["message"], id="command-result"
        ),
    ],
)
def test_explicit_null_for_optional_fields_is_accepted(
    model: type[common.OcpiModel], payload: dict[str, Any], optional_fields: list[str]
) -> None:
    data = dict(payload) | dict.fromkeys(optional_fields)
    parsed = model.model_validate(data)
    dumped = parsed.to_json()
    for field in optional_fields:
        value = getattr(parsed, field)
        # "*" lists come back as empty lists, everything else as None.
        assert value is None or value == [], field
        assert dumped.get(field) in (None, []), field


def test_required_field_is_not_nullable() -> None:
    with pytest.raises(ValidationError):
        tariffs.Tariff.model_validate(TARIFF | {"currency": None})


# --- Rules beyond single fields ------------------------------------------------------------------


def test_numbers_are_decimals_not_floats() -> None:
    tariff = tariffs.Tariff.model_validate(TARIFF)
    price = tariff.elements[0].price_components[0].price
    assert isinstance(price, Decimal)
    cdr = cdrs.CDR.model_validate_json((EXAMPLES / "cdr_example.json").read_text())
    assert cdr.total_cost.incl_vat == Decimal("4.40")
    assert cdr.total_energy == Decimal("15.342")


def test_datetime_without_zone_means_utc() -> None:
    data = load("session_patch_example_total_cost.json") | {
        "last_updated": "2019-06-23T08:11:00.123"
    }
    patch = sessions.SessionPatch.model_validate(data)
    assert patch.to_json()["last_updated"] == "2019-06-23T08:11:00.123Z"


def test_profile_type_is_shared_by_sessions_and_tokens() -> None:
    assert sessions.ProfileType is tokens.ProfileType
    token = tokens.Token.model_validate(TOKEN | {"default_profile_type": "GREEN"})
    assert token.default_profile_type is sessions.ProfileType.GREEN


def test_shared_types_are_defined_once() -> None:
    assert cdrs.CdrToken.model_fields["type"].annotation is tokens.TokenType
    assert cdrs.CdrLocation.model_fields["coordinates"].annotation is locations.GeoLocation
    assert tariffs.Tariff.model_fields["energy_mix"].annotation == locations.EnergyMix | None
    assert sessions.Session.model_fields["cdr_token"].annotation is cdrs.CdrToken


def test_publish_token_rules() -> None:
    location = load("location_example_uc4_limited_visibility.json")
    assert locations.Location.model_validate(location).publish_allowed_to
    for bad in ({"uid": "123"}, {"visual_number": "X-1"}, {"issuer": "ACME"}, {}):
        with pytest.raises(ValidationError):
            locations.PublishTokenType.model_validate(bad)
    ok = locations.PublishTokenType.model_validate({"group_id": "G1"})
    assert ok.to_json() == {"group_id": "G1"}


def test_start_session_connector_requires_evse() -> None:
    payload = INLINE_EXAMPLES[0][2]
    with pytest.raises(ValidationError):
        commands.StartSession.model_validate(_without(payload, "evse_uid"))
    started = commands.StartSession.model_validate(
        _without(_without(payload, "evse_uid"), "connector_id")
    )
    assert started.evse_uid is None


def test_credit_cdr_requires_credit_reference() -> None:
    with pytest.raises(ValidationError):
        cdrs.CDR.model_validate(CDR | {"credit": True})
    credit = cdrs.CDR.model_validate(
        CDR | {"id": "12345-C", "credit": True, "credit_reference_id": "12345"}
    )
    assert credit.credit_reference_id == "12345"


@pytest.mark.parametrize("limit", [8.15, 16.05, "1e40"])
def test_charging_rate_accepts_one_decimal_only(limit: Any) -> None:
    with pytest.raises(ValidationError):
        chargingprofiles.ChargingProfilePeriod.model_validate({"start_period": 0, "limit": limit})


def test_charging_rate_trailing_zeros_are_fine() -> None:
    period = chargingprofiles.ChargingProfilePeriod.model_validate_json(
        '{"start_period": 0, "limit": 16.00}'
    )
    assert period.limit == Decimal("16")


def test_regular_hours_weekday_range() -> None:
    for weekday in (0, 8):
        with pytest.raises(ValidationError):
            locations.RegularHours.model_validate(
                {"weekday": weekday, "period_begin": "08:00", "period_end": "20:00"}
            )


def test_command_request_models_cover_every_command() -> None:
    assert set(commands.COMMAND_REQUEST_MODELS) == set(commands.CommandType)


@pytest.mark.parametrize(
    "module",
    [tariffs, cdrs, locations, sessions, tokens, commands, chargingprofiles, hubclientinfo],
    ids=lambda m: m.__name__.rsplit(".", 1)[-1],
)
def test_dunder_all_is_a_tuple_of_existing_names(module: Any) -> None:
    assert isinstance(module.__all__, tuple)
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name
