"""OCPI 2.1.1 <-> the canonical form (2.2.1 ``data``), both ways, pure functions.

2.1.1 has none of the 2.3.0 fields, so ``to_canonical`` always returns ``ext = None`` and
``from_canonical`` ignores ``ext``. What 2.1.1 objects lack and 2.2.1 requires comes from the
:class:`TranslationContext` (the owner's country_code/party_id, the Token behind an ``auth_id``,
the Location a Session or CDR embeds, ...); what 2.2.1 has and 2.1.1 cannot say is either given
its closest legal 2.1.1 form or refused with :class:`NotRepresentable`. Field by field:
``app/ocpi/TRANSLATION.md``.

Money keeps its meaning: 2.1.1 prices and ``total_cost`` are excl. VAT and become ``price`` /
``excl_vat``; ``incl_vat`` is never filled from a 2.1.1 object (it cannot be derived exactly) and is
not carried to 2.1.1 (it has no place there).

Invalid input raises pydantic's ``ValidationError`` (2.1.1 models on the way in, the 2.2.1 models
are the input on the way out); a valid message whose translation is not legal in the other version
raises :class:`NotRepresentable` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from app.ocpi.ext import Ext, copy_json
from app.ocpi.schemas import cdrs as s_cdrs
from app.ocpi.schemas import commands as s_commands
from app.ocpi.schemas import locations as s_locations
from app.ocpi.schemas import sessions as s_sessions
from app.ocpi.schemas import tariffs as s_tariffs
from app.ocpi.schemas.common import (
    Role,
)
from app.ocpi.schemas.versions import InterfaceRole, ModuleID
from app.ocpi.translation import (
    CANONICAL,
    EMPTY_CONTEXT,
    Kind,
    MissingContext,
    NotRepresentable,
    PartyIds,
    Shape,
    TranslationContext,
    normalise,
)
from app.ocpi.v211 import (
    cdrs,
    commands,
    credentials,
    locations,
    sessions,
    tariffs,
    tokens,
    versions,
)

__all__ = ("VERSION", "from_canonical", "to_canonical")

VERSION = "2.1.1"

_NA = "#NA"
_SIX_DECIMALS = Decimal("0.000001")
_CAPABILITIES_211 = frozenset(locations.Capability)
_CONNECTOR_TYPES_211 = frozenset(locations.ConnectorType)
_FACILITIES_211 = frozenset(locations.Facility)
_DIMENSIONS_211 = frozenset(s_cdrs.CdrDimensionType) & frozenset(cdrs.CdrDimensionType)
_MODULES_211 = frozenset(
    {
        ModuleID.CDRS,
        ModuleID.COMMANDS,
        ModuleID.CREDENTIALS,
        ModuleID.LOCATIONS,
        ModuleID.SESSIONS,
        ModuleID.TARIFFS,
        ModuleID.TOKENS,
    }
)
# The 2.2.1 interface role of each module's 2.1.1 "CPO interface" (the eMSP interface is the
# other one). Credentials have no side; 2.2.1 says to disregard their role.
_CPO_INTERFACE = {
    ModuleID.LOCATIONS: InterfaceRole.SENDER,
    ModuleID.TARIFFS: InterfaceRole.SENDER,
    ModuleID.SESSIONS: InterfaceRole.SENDER,
    ModuleID.CDRS: InterfaceRole.SENDER,
    ModuleID.TOKENS: InterfaceRole.RECEIVER,
    ModuleID.COMMANDS: InterfaceRole.RECEIVER,
}
# 2.2.1 LocationType/ParkingType values that name the same kind of place.
_PARKING_TYPE_IN = {
    locations.LocationType.ON_STREET: s_locations.ParkingType.ON_STREET,
    locations.LocationType.PARKING_GARAGE: s_locations.ParkingType.PARKING_GARAGE,
    locations.LocationType.UNDERGROUND_GARAGE: s_locations.ParkingType.UNDERGROUND_GARAGE,
    locations.LocationType.PARKING_LOT: s_locations.ParkingType.PARKING_LOT,
}
_LOCATION_TYPE_OUT = {v.value: k.value for k, v in _PARKING_TYPE_IN.items()}
# The 2.1.1 CommandResponseType a 2.2.1 CommandResult becomes (the rest are the same word).
_RESULT_OUT = {
    s_commands.CommandResultType.CANCELED_RESERVATION: commands.CommandResponseType.REJECTED,
    s_commands.CommandResultType.EVSE_OCCUPIED: commands.CommandResponseType.REJECTED,
    s_commands.CommandResultType.EVSE_INOPERATIVE: commands.CommandResponseType.REJECTED,
    s_commands.CommandResultType.FAILED: commands.CommandResponseType.REJECTED,
    s_commands.CommandResultType.UNKNOWN_RESERVATION: commands.CommandResponseType.REJECTED,
}


# --- entry points -------------------------------------------------------------------------------


def to_canonical(
    kind: Kind, obj: Any, ctx: TranslationContext = EMPTY_CONTEXT
) -> tuple[Any, Ext | None]:
    """A 2.1.1 message as (2.2.1 ``data``, None)."""
    spec = _spec(kind, inbound=True)
    source = _normalise(spec.model211, obj)
    assert spec.inbound is not None
    result = spec.inbound(source, ctx)
    return _legal(CANONICAL[kind], result, "2.2.1"), None


def from_canonical(
    kind: Kind, data: Any, ext: Ext | None = None, ctx: TranslationContext = EMPTY_CONTEXT
) -> Any:
    """The 2.1.1 form (JSON) of a canonical message. ``ext`` holds only what 2.3.0 adds and is
    not used."""
    spec = _spec(kind, inbound=False)
    if isinstance(data, BaseModel):
        data = _normalise(CANONICAL[kind], data)
    assert spec.outbound is not None
    result = spec.outbound(copy_json(data), ctx)
    return _legal(spec.model211, result, VERSION)


# --- plumbing -----------------------------------------------------------------------------------

Fn = Callable[[Any, TranslationContext], Any]


@dataclass(frozen=True)
class _Spec:
    model211: Shape
    inbound: Fn | None
    outbound: Fn | None


_normalise = normalise


def _legal(shape: Shape, obj: Any, version: str) -> Any:
    """The translated object, validated by the target version's model: a valid message whose
    translation breaks a rule of the other version is not representable there."""
    try:
        return _normalise(shape, obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "object"
        raise NotRepresentable(where, first["msg"], version=version) from None


def _spec(kind: Kind, *, inbound: bool) -> _Spec:
    spec = _SPECS.get(kind)
    if spec is None or (spec.inbound if inbound else spec.outbound) is None:
        raise NotRepresentable("kind", f"OCPI 2.1.1 has no {kind}", version=VERSION)
    return spec


def _refuse(field: str, reason: str) -> NotRepresentable:
    return NotRepresentable(field, reason, version=VERSION)


def _owner(ctx: TranslationContext, field: str) -> PartyIds:
    if ctx.owner is None:
        raise MissingContext(
            field, "the owner's country_code/party_id (ctx.owner)", version=VERSION
        )
    return ctx.owner


def _copy(src: Mapping[str, Any], out: dict[str, Any], *names: str) -> None:
    for name in names:
        if name in src:
            out[name] = src[name]


def _last_updated_in(src: Mapping[str, Any], out: dict[str, Any], ctx: TranslationContext) -> None:
    """2.2.1 requires ``last_updated`` in every PATCH; 2.1.1 does not."""
    if "last_updated" in src:
        out["last_updated"] = src["last_updated"]
    elif ctx.now is not None:
        out["last_updated"] = ctx.now
    else:
        raise MissingContext(
            "last_updated", "the time the PATCH was received (ctx.now)", version=VERSION
        )


# --- Locations in (2.1.1 -> 2.2.1) --------------------------------------------------------------


def _time_in(value: str, field: str, end_of_day: str) -> str:
    # 2.1.1 allows "24:00" (and, by its regex, up to "29:59"); 2.2.1 hours stop at 23.
    if value < "24:00":
        return value
    if value == "24:00":
        return end_of_day
    raise _refuse(field, f"{value} is not a time of day")


def _hours_in(hours: Mapping[str, Any]) -> dict[str, Any]:
    regular = [
        {
            "weekday": r["weekday"],
            "period_begin": _time_in(r["period_begin"], "regular_hours.period_begin", "23:59"),
            # "24:00" (end of the day) becomes the last minute 2.2.1 can say; 00:00 would not be
            # "later than period_begin".
            "period_end": _time_in(r["period_end"], "regular_hours.period_end", "23:59"),
        }
        for r in hours.get("regular_hours", [])
    ]
    twentyfourseven = hours.get("twentyfourseven")
    return {
        "twentyfourseven": bool(twentyfourseven) if twentyfourseven is not None else False,
        "regular_hours": regular,
        "exceptional_openings": hours.get("exceptional_openings", []),
        "exceptional_closings": hours.get("exceptional_closings", []),
    }


def _energy_mix_in(mix: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(mix)
    out["environ_impact"] = [
        {"category": i["source"], "amount": i["amount"]} for i in mix.get("environ_impact", [])
    ]
    return out


def _connector_in(src: Mapping[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy(src, out, "id", "standard", "format", "power_type")
    if "voltage" in src:
        out["max_voltage"] = src["voltage"]
    if "amperage" in src:
        out["max_amperage"] = src["amperage"]
    if "tariff_id" in src:
        out["tariff_ids"] = [src["tariff_id"]]
    _copy(src, out, "terms_and_conditions", "last_updated")
    return out


def _connector_patch_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = _connector_in(src, ctx)
    _last_updated_in(src, out, ctx)
    return out


def _evse_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = dict(src)
    if "connectors" in src:
        out["connectors"] = [_connector_in(c, ctx) for c in src["connectors"]]
    return out


def _evse_patch_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = _evse_in(src, ctx)
    _last_updated_in(src, out, ctx)
    return out


def _location_fields_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy(src, out, "id", "name", "address", "city", "country", "coordinates")
    if src.get("postal_code"):
        # "" is how a 2.1.1 party says "no postal code" (it is required there); 2.2.1 omits it.
        out["postal_code"] = src["postal_code"]
    _copy(src, out, "related_locations", "directions", "operator", "suboperator", "owner")
    _copy(src, out, "facilities", "time_zone", "charging_when_closed", "images", "last_updated")
    if "type" in src and src["type"] in _PARKING_TYPE_IN:
        out["parking_type"] = _PARKING_TYPE_IN[src["type"]]
    if "evses" in src:
        out["evses"] = [_evse_in(e, ctx) for e in src["evses"]]
    if src.get("opening_times") is not None:
        out["opening_times"] = _hours_in(src["opening_times"])
    if src.get("energy_mix") is not None:
        out["energy_mix"] = _energy_mix_in(src["energy_mix"])
    return out


def _location_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    owner = _owner(ctx, "country_code")
    out = _location_fields_in(src, ctx)
    out["country_code"] = owner.country_code
    out["party_id"] = owner.party_id
    # 2.1.1 has no visibility control: every Location is for everyone.
    out["publish"] = True
    if "time_zone" not in out:
        if ctx.time_zone is None:
            raise MissingContext(
                "time_zone", "the partner's time zone (ctx.time_zone)", version=VERSION
            )
        out["time_zone"] = ctx.time_zone
    return out


def _location_patch_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    # A type of OTHER/UNKNOWN means "no parking_type" in 2.2.1, which a PATCH cannot say (absent
    # is "unchanged"): the stored parking_type stays (TRANSLATION.md).
    out = _location_fields_in(src, ctx)
    _last_updated_in(src, out, ctx)
    return out


# --- Locations out (2.2.1 -> 2.1.1) -------------------------------------------------------------


def _coordinate_out(value: str) -> str:
    # 2.1.1: exactly six decimals; 2.2.1 allows five to seven.
    return f"{Decimal(value).quantize(_SIX_DECIMALS, rounding=ROUND_HALF_EVEN):f}"


def _geo_out(geo: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(geo)
    out["latitude"] = _coordinate_out(geo["latitude"])
    out["longitude"] = _coordinate_out(geo["longitude"])
    return out


def _hours_out(hours: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "exceptional_openings": hours.get("exceptional_openings", []),
        "exceptional_closings": hours.get("exceptional_closings", []),
    }
    if hours["twentyfourseven"]:
        out["twentyfourseven"] = True
    else:
        # As the 2.1.1 example does: the regular hours, and twentyfourseven false.
        out["regular_hours"] = hours.get("regular_hours", [])
        out["twentyfourseven"] = False
    return out


def _energy_mix_out(mix: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(mix)
    out["environ_impact"] = [
        {"source": i["category"], "amount": i["amount"]} for i in mix.get("environ_impact", [])
    ]
    return out


def _power_type_out(value: str) -> str | None:
    if value == s_locations.PowerType.AC_2_PHASE_SPLIT:
        # North American split phase: single phase 240 V as the vehicle sees it.
        return locations.PowerType.AC_1_PHASE.value
    if value == s_locations.PowerType.AC_2_PHASE:
        return None
    return value


def _tariff_id_out(ids: list[str], ctx: TranslationContext) -> str | None:
    """The one tariff a 2.1.1 Connector can name: the one for everybody (no type or REGULAR).
    Without ``ctx.tariff_types`` the first id whose type is not known to be another one."""
    if len(ids) <= 1:
        return ids[0] if ids else None
    general = [i for i in ids if i in ctx.tariff_types and ctx.tariff_types[i] in (None, "REGULAR")]
    if general:
        return general[0]
    unknown = [i for i in ids if i not in ctx.tariff_types]
    return unknown[0] if unknown else None


def _connector_fields_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy(src, out, "id", "format", "terms_and_conditions", "last_updated")
    if "standard" in src:
        if src["standard"] not in _CONNECTOR_TYPES_211:
            raise _refuse("standard", f"OCPI 2.1.1 has no connector type {src['standard']}")
        out["standard"] = src["standard"]
    if "power_type" in src:
        power = _power_type_out(src["power_type"])
        if power is None:
            raise _refuse("power_type", f"OCPI 2.1.1 has no power type {src['power_type']}")
        out["power_type"] = power
    if "max_voltage" in src:
        out["voltage"] = src["max_voltage"]
    if "max_amperage" in src:
        out["amperage"] = src["max_amperage"]
    if src.get("tariff_ids") is not None:
        tariff_id = _tariff_id_out(src["tariff_ids"], ctx)
        if tariff_id is not None:
            out["tariff_id"] = tariff_id
    return out


def _connector_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any] | None:
    """None: a 2.1.1 party cannot be told about this Connector (type or power type unknown)."""
    try:
        return _connector_fields_out(src, ctx)
    except NotRepresentable:
        return None


def _evse_fields_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = dict(src)
    if src.get("capabilities") is not None:
        out["capabilities"] = [c for c in src["capabilities"] if c in _CAPABILITIES_211]
    if src.get("coordinates") is not None:
        out["coordinates"] = _geo_out(src["coordinates"])
    if src.get("connectors") is not None:
        out["connectors"] = [
            c for c in (_connector_out(c, ctx) for c in src["connectors"]) if c is not None
        ]
    return out


def _evse_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any] | None:
    """None: no Connector of this EVSE can be told to a 2.1.1 party."""
    out = _evse_fields_out(src, ctx)
    return out if out["connectors"] else None


def _evse_only_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = _evse_out(src, ctx)
    if out is None:
        raise _refuse("connectors", "no Connector of this EVSE has a type/power type 2.1.1 knows")
    return out


def _evse_patch_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = _evse_fields_out(src, ctx)
    if "connectors" in src and not out["connectors"]:
        raise _refuse("connectors", "no Connector of this EVSE has a type/power type 2.1.1 knows")
    return out


def _location_fields_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy(src, out, "id", "name", "address", "city", "country", "directions", "operator")
    _copy(src, out, "suboperator", "owner", "time_zone", "charging_when_closed", "images")
    _copy(src, out, "last_updated")
    if "postal_code" in src:
        out["postal_code"] = src["postal_code"]
    if src.get("coordinates") is not None:
        out["coordinates"] = _geo_out(src["coordinates"])
    if src.get("related_locations") is not None:
        out["related_locations"] = [_geo_out(r) for r in src["related_locations"]]
    if src.get("facilities") is not None:
        out["facilities"] = [f for f in src["facilities"] if f in _FACILITIES_211]
    if src.get("parking_type") is not None:
        out["type"] = _LOCATION_TYPE_OUT.get(src["parking_type"], locations.LocationType.OTHER)
    if src.get("evses") is not None:
        out["evses"] = [e for e in (_evse_out(e, ctx) for e in src["evses"]) if e is not None]
    if src.get("opening_times") is not None:
        out["opening_times"] = _hours_out(src["opening_times"])
    if src.get("energy_mix") is not None:
        out["energy_mix"] = _energy_mix_out(src["energy_mix"])
    return out


def _location_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    if not src["publish"]:
        raise _refuse(
            "publish",
            "a Location that may not be published cannot be sent: 2.1.1 parties show every "
            "Location to everybody",
        )
    return _embedded_location_out(src, ctx)


def _embedded_location_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = _location_fields_out(src, ctx)
    out.setdefault("type", locations.LocationType.UNKNOWN.value)
    # Required in 2.1.1; a 2.2.1 Location "may only omit [it] when the location has no postal
    # code": "" says exactly that.
    out.setdefault("postal_code", "")
    return out


def _location_patch_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    if src.get("publish") is False:
        raise _refuse("publish", "2.1.1 parties show every Location to everybody")
    return _location_fields_out(src, ctx)


# --- Tariffs ------------------------------------------------------------------------------------


def _restrictions_in(src: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if src is None:
        return None
    out = dict(src)
    for name in ("start_time", "end_time"):
        if name in src:
            # "To stop at end of the day use: 00:00" (2.2.1, TariffRestrictions).
            out[name] = _time_in(src[name], f"restrictions.{name}", "00:00")
    return out


def _elements_in(elements: list[Mapping[str, Any]], ctx: TranslationContext) -> list[Any]:
    out = []
    for element in elements:
        components = []
        for component in element["price_components"]:
            priced = dict(component)
            if ctx.vat is not None:
                priced["vat"] = ctx.vat
            components.append(priced)
        item: dict[str, Any] = {"price_components": components}
        restrictions = _restrictions_in(element.get("restrictions"))
        if restrictions is not None:
            item["restrictions"] = restrictions
        out.append(item)
    return out


def _tariff_fields_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy(src, out, "id", "currency", "tariff_alt_text", "tariff_alt_url", "last_updated")
    if "elements" in src:
        out["elements"] = _elements_in(src["elements"], ctx)
    if src.get("energy_mix") is not None:
        out["energy_mix"] = _energy_mix_in(src["energy_mix"])
    return out


def _tariff_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    owner = _owner(ctx, "country_code")
    out = _tariff_fields_in(src, ctx)
    out["country_code"] = owner.country_code
    out["party_id"] = owner.party_id
    return out


def _tariff_patch_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = _tariff_fields_in(src, ctx)
    _last_updated_in(src, out, ctx)
    return out


def _tariff_out(src: Mapping[str, Any], ctx: TranslationContext, *, in_cdr: bool = False) -> Any:
    kind = src.get("type")
    if kind not in (None, s_tariffs.TariffType.REGULAR) and not in_cdr:
        # 2.1.1 Tariffs have no type: an AD_HOC_PAYMENT or PROFILE_* tariff would be read as the
        # tariff for everybody.
        raise _refuse("type", f"a {kind} Tariff would be taken for the tariff of every session")
    elements = []
    for element in src["elements"]:
        restrictions = dict(element.get("restrictions") or {})
        if restrictions.get("reservation") is not None:
            continue  # reservation costs: 2.1.1 has no way to price a reservation
        for name in ("min_current", "max_current"):
            if name in restrictions:
                raise _refuse(
                    f"elements.restrictions.{name}",
                    "2.1.1 restrictions have no current; without it the element would apply "
                    "more widely",
                )
        components = [
            {"type": c["type"], "price": c["price"], "step_size": c["step_size"]}
            for c in element["price_components"]
        ]
        item: dict[str, Any] = {"price_components": components}
        if restrictions:
            item["restrictions"] = restrictions
        elements.append(item)
    if not elements:
        raise _refuse("elements", "only reservation elements, which 2.1.1 cannot state")
    out: dict[str, Any] = {"elements": elements}
    _copy(src, out, "id", "currency", "tariff_alt_text", "tariff_alt_url", "last_updated")
    if src.get("energy_mix") is not None:
        out["energy_mix"] = _energy_mix_out(src["energy_mix"])
    return out


def _tariff_module_out(src: Mapping[str, Any], ctx: TranslationContext) -> Any:
    return _tariff_out(src, ctx)


# --- Tokens -------------------------------------------------------------------------------------


def _token_fields_in(src: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy(src, out, "uid", "type", "visual_number", "issuer", "valid", "whitelist", "language")
    _copy(src, out, "last_updated")
    if "auth_id" in src:
        out["contract_id"] = src["auth_id"]
    return out


def _token_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    owner = _owner(ctx, "country_code")
    out = _token_fields_in(src)
    out["country_code"] = owner.country_code
    out["party_id"] = owner.party_id
    return out


def _token_patch_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = _token_fields_in(src)
    _last_updated_in(src, out, ctx)
    return out


def _token_out(src: Mapping[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy(src, out, "uid", "visual_number", "issuer", "valid", "whitelist", "language")
    _copy(src, out, "last_updated")
    if "type" in src:
        # APP_USER and AD_HOC_USER: "Other type of token" is what 2.1.1 has.
        out["type"] = src["type"] if src["type"] in set(tokens.TokenType) else "OTHER"
    if "contract_id" in src:
        out["auth_id"] = src["contract_id"]
    return out


def _references_in(src: Mapping[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    return {"location_id": src["location_id"], "evse_uids": src.get("evse_uids", [])}


def _references_out(src: Mapping[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    return {"location_id": src["location_id"], "evse_uids": src.get("evse_uids", [])}


def _context_token(ctx: TranslationContext, field: str) -> Mapping[str, Any]:
    if ctx.token is None:
        raise MissingContext(field, "the Token it is about (ctx.token)", version=VERSION)
    return ctx.token


def _authorization_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {"allowed": src["allowed"], "token": dict(_context_token(ctx, "token"))}
    if src.get("location") is not None:
        out["location"] = _references_in(src["location"], ctx)
    _copy(src, out, "info")
    return out


def _authorization_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {"allowed": src["allowed"]}
    if src.get("location") is not None:
        out["location"] = _references_out(src["location"], ctx)
    _copy(src, out, "info")
    return out


# --- Sessions and CDRs --------------------------------------------------------------------------


def _cdr_token(ctx: TranslationContext, auth_id: str) -> dict[str, Any]:
    token = _context_token(ctx, "auth_id")
    if str(token.get("contract_id", "")).upper() != auth_id.upper():
        raise _refuse("auth_id", "is not the contract_id of the Token in ctx.token")
    return {
        "country_code": token["country_code"],
        "party_id": token["party_id"],
        "uid": token["uid"],
        "type": token["type"],
        "contract_id": token["contract_id"],
    }


def _place_in(location: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, Any]:
    """The one EVSE and Connector of an embedded 2.1.1 Location ("including only the relevant
    EVSE and connector")."""
    evses = location.get("evses") or []
    if not evses:
        return None, None
    if len(evses) > 1 or len(evses[0]["connectors"]) > 1:
        raise _refuse("location.evses", "more than one EVSE/Connector: which one was used?")
    return evses[0], evses[0]["connectors"][0]


def _periods_in(periods: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for period in periods:
        # FLAT has no 2.2.1 dimension (fixed costs are a CDR total there, not a volume).
        dims = [d for d in period["dimensions"] if d["type"] != cdrs.CdrDimensionType.FLAT]
        if dims:
            out.append({"start_date_time": period["start_date_time"], "dimensions": dims})
    return out


def _periods_out(periods: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for period in periods:
        dims = [d for d in period["dimensions"] if d["type"] in _DIMENSIONS_211]
        if dims:
            out.append({"start_date_time": period["start_date_time"], "dimensions": dims})
    return out


def _session_fields_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy(src, out, "id", "kwh", "auth_method", "meter_id", "currency", "status", "last_updated")
    if "start_datetime" in src:
        out["start_date_time"] = src["start_datetime"]
    if "end_datetime" in src:
        out["end_date_time"] = src["end_datetime"]
    if "auth_id" in src:
        out["cdr_token"] = _cdr_token(ctx, src["auth_id"])
    if src.get("location") is not None:
        evse, connector = _place_in(src["location"])
        out["location_id"] = src["location"]["id"]
        # No EVSE yet (a reservation): 2.2.1 says "#NA".
        out["evse_uid"] = evse["uid"] if evse else _NA
        out["connector_id"] = connector["id"] if connector else _NA
    if "total_cost" in src:
        out["total_cost"] = {"excl_vat": src["total_cost"]}
    return out


def _session_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    owner = _owner(ctx, "country_code")
    out = _session_fields_in(src, ctx)
    out["country_code"] = owner.country_code
    out["party_id"] = owner.party_id
    out["charging_periods"] = _periods_in(src.get("charging_periods", []))
    return out


def _session_patch_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = _session_fields_in(src, ctx)
    if src.get("charging_periods") is not None:
        # A 2.1.1 PATCH replaces the list; a 2.2.1 PATCH appends to it. Only the periods after
        # the stored ones can be sent on.
        new = _periods_in(src["charging_periods"])
        if ctx.stored is None:
            raise MissingContext(
                "charging_periods", "the stored Session (ctx.stored)", version=VERSION
            )
        stored = _normalise(s_sessions.Session, ctx.stored).get("charging_periods", [])
        mine = _normalise(("list", s_cdrs.ChargingPeriod), new)  # the stored ones' normal form
        if mine[: len(stored)] != stored:
            raise _refuse(
                "charging_periods",
                "the new list does not start with the stored periods; PUT the whole Session",
            )
        out["charging_periods"] = new[len(stored) :]
    _last_updated_in(src, out, ctx)
    return out


def _context_location(ctx: TranslationContext, field: str) -> Mapping[str, Any]:
    if ctx.location is None:
        raise MissingContext(field, "the stored Location (ctx.location)", version=VERSION)
    return ctx.location


def _place_out(
    location: Mapping[str, Any], evse_uid: str, connector_id: str, ctx: TranslationContext
) -> dict[str, Any]:
    """The 2.1.1 Location of a Session or CDR: the stored Location with only that EVSE and
    Connector."""
    place = dict(location)
    if evse_uid == _NA:
        place["evses"] = []
        return _embedded_location_out(place, ctx)
    evse = next(
        (e for e in location.get("evses", []) if e["uid"].upper() == evse_uid.upper()), None
    )
    if evse is None:
        raise _refuse("evse_uid", f"EVSE {evse_uid} is not in the Location in ctx.location")
    connector = next(
        (c for c in evse["connectors"] if c["id"].upper() == connector_id.upper()), None
    )
    if connector is None:
        raise _refuse("connector_id", f"Connector {connector_id} is not in EVSE {evse_uid}")
    place["evses"] = [{**evse, "connectors": [connector]}]
    out = _embedded_location_out(place, ctx)
    if not out["evses"]:
        raise _refuse(
            "connector_id", f"the type/power type of Connector {connector_id} is not in 2.1.1"
        )
    return out


def _session_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    location = _context_location(ctx, "location_id")
    if location["id"].upper() != src["location_id"].upper():
        raise _refuse("location_id", "is not the Location in ctx.location")
    out = _session_fields_out(src)
    out["location"] = _place_out(location, src["evse_uid"], src["connector_id"], ctx)
    return out


def _session_fields_out(src: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _copy(src, out, "id", "kwh", "meter_id", "currency", "last_updated")
    if "start_date_time" in src:
        out["start_datetime"] = src["start_date_time"]
    if "end_date_time" in src:
        out["end_datetime"] = src["end_date_time"]
    if "cdr_token" in src:
        out["auth_id"] = src["cdr_token"]["contract_id"]
    if "auth_method" in src:
        out["auth_method"] = _auth_method_out(src["auth_method"])
    if "status" in src:
        # "The session is reserved": 2.1.1's "has not yet started" is the closest.
        reserved = src["status"] == s_sessions.SessionStatus.RESERVATION
        out["status"] = sessions.SessionStatus.PENDING.value if reserved else src["status"]
    if src.get("total_cost") is not None:
        out["total_cost"] = src["total_cost"]["excl_vat"]
    if src.get("charging_periods") is not None:
        out["charging_periods"] = _periods_out(src["charging_periods"])
    return out


def _session_patch_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = _session_fields_out(src)
    if src.get("charging_periods"):
        # 2.2.1 appends; a 2.1.1 PATCH carries the whole list.
        if ctx.stored is None:
            raise MissingContext(
                "charging_periods",
                "the stored Session after the PATCH (ctx.stored)",
                version=VERSION,
            )
        out["charging_periods"] = _periods_out(ctx.stored.get("charging_periods", []))
    if any(k in src for k in ("location_id", "evse_uid", "connector_id")):
        stored = ctx.stored or {}
        location = _context_location(ctx, "location_id")
        out["location"] = _place_out(
            location,
            src.get("evse_uid", stored.get("evse_uid", _NA)),
            src.get("connector_id", stored.get("connector_id", _NA)),
            ctx,
        )
    return out


def _auth_method_out(value: str) -> str:
    # COMMAND (started by the eMSP's command) is closest to "Authentication request from the
    # eMSP".
    return cdrs.AuthMethod.AUTH_REQUEST.value if value == s_cdrs.AuthMethod.COMMAND else value


def _cdr_location_in(location: Mapping[str, Any]) -> dict[str, Any]:
    evse, connector = _place_in(location)
    if evse is None or connector is None:
        raise _refuse("location.evses", "a CDR needs the EVSE and Connector that were used")
    if not evse.get("evse_id"):
        raise _refuse("location.evses.evse_id", "a 2.2.1 CDR requires the EVSE's evse_id")
    out: dict[str, Any] = {}
    _copy(location, out, "id", "name", "address", "city", "country", "coordinates")
    if location.get("postal_code"):
        out["postal_code"] = location["postal_code"]
    out.update(
        evse_uid=evse["uid"],
        evse_id=evse["evse_id"],
        connector_id=connector["id"],
        connector_standard=connector["standard"],
        connector_format=connector["format"],
        connector_power_type=connector["power_type"],
    )
    return out


def _cdr_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    owner = _owner(ctx, "country_code")
    periods = _periods_in(src["charging_periods"])
    if not periods:
        raise _refuse("charging_periods", "only FLAT dimensions, which 2.2.1 does not have")
    out: dict[str, Any] = {
        "country_code": owner.country_code,
        "party_id": owner.party_id,
        "end_date_time": src["stop_date_time"],
        "cdr_token": _cdr_token(ctx, src["auth_id"]),
        "cdr_location": _cdr_location_in(src["location"]),
        "tariffs": [_tariff_in(t, ctx) for t in src.get("tariffs", [])],
        "charging_periods": periods,
        "total_cost": {"excl_vat": src["total_cost"]},
    }
    _copy(src, out, "id", "start_date_time", "auth_method", "meter_id", "currency")
    _copy(src, out, "total_energy", "total_time", "total_parking_time", "remark", "last_updated")
    return out


def _cdr_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    if src.get("credit"):
        raise _refuse("credit", "2.1.1 has no Credit CDRs (it would read as a negative CDR)")
    where = src["cdr_location"]
    location = _context_location(ctx, "cdr_location")
    place = _place_out(location, where["evse_uid"], where["connector_id"], ctx)
    # The CDR's own record of the place, "as they were at the start of the session", wins.
    place.update({k: where[k] for k in ("id", "address", "city", "country") if k in where})
    if "name" in where:
        place["name"] = where["name"]
    place["postal_code"] = where.get("postal_code", "")
    place["coordinates"] = _geo_out(where["coordinates"])
    if place["evses"]:
        evse = place["evses"][0]
        evse["evse_id"] = where["evse_id"]
        connector = evse["connectors"][0]
        fields = _connector_fields_out(
            {"standard": where["connector_standard"], "power_type": where["connector_power_type"]},
            ctx,
        )
        connector.update(fields, format=where["connector_format"])
    periods = _periods_out(src["charging_periods"])
    if not periods:
        raise _refuse("charging_periods", "no dimension 2.1.1 knows")
    tariffs_out = []
    for tariff in src.get("tariffs", []):
        try:
            tariffs_out.append(_tariff_out(tariff, ctx, in_cdr=True))
        except NotRepresentable:
            # The CDR's totals are what is owed; a Tariff 2.1.1 cannot state is left out.
            continue
    out: dict[str, Any] = {
        "stop_date_time": src["end_date_time"],
        "auth_id": src["cdr_token"]["contract_id"],
        "auth_method": _auth_method_out(src["auth_method"]),
        "location": place,
        "tariffs": tariffs_out,
        "charging_periods": periods,
        "total_cost": src["total_cost"]["excl_vat"],
    }
    _copy(src, out, "id", "start_date_time", "meter_id", "currency", "total_energy", "total_time")
    _copy(src, out, "total_parking_time", "remark", "last_updated")
    return out


# --- Commands -----------------------------------------------------------------------------------


def _start_session_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = dict(src)
    out["token"] = _token_in(src["token"], ctx)
    return out


def _start_session_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out: dict[str, Any] = {"token": _token_out(src["token"], ctx)}
    _copy(src, out, "response_url", "location_id", "evse_uid")
    return out


def _reserve_now_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    out = dict(src)
    out["token"] = _token_in(src["token"], ctx)
    out["reservation_id"] = str(src["reservation_id"])
    return out


def _reserve_now_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    reservation = src["reservation_id"]
    if not reservation.isdigit() or str(int(reservation)) != reservation:
        raise _refuse("reservation_id", f"{reservation!r} is not an int, as 2.1.1 requires")
    out: dict[str, Any] = {
        "token": _token_out(src["token"], ctx),
        "reservation_id": int(reservation),
    }
    _copy(src, out, "response_url", "expiry_date", "location_id", "evse_uid")
    return out


def _same(src: Any, _ctx: TranslationContext) -> Any:
    return src


def _command_response_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    if ctx.command_timeout is None:
        raise MissingContext(
            "timeout",
            "the seconds the hub waits for the result (ctx.command_timeout)",
            version=VERSION,
        )
    result = src["result"]
    if result == commands.CommandResponseType.TIMEOUT:
        # The CPO could not reach the Charge Point: the command will not be carried out.
        result = s_commands.CommandResponseType.REJECTED.value
    return {"result": result, "timeout": ctx.command_timeout}


def _command_response_out(src: Mapping[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    return {"result": src["result"]}


def _command_result_in(src: Mapping[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    result = src["result"]
    if result == commands.CommandResponseType.UNKNOWN_SESSION:
        result = s_commands.CommandResultType.REJECTED.value
    return {"result": result}


def _command_result_out(src: Mapping[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    result = src["result"]
    return {"result": _RESULT_OUT.get(result, result)}


# --- Credentials and Versions -------------------------------------------------------------------


def _credentials_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    if not ctx.roles:
        raise MissingContext(
            "roles",
            "the partner's role(s): 2.1.1 credentials do not say (ctx.roles)",
            version=VERSION,
        )
    party = {
        "business_details": src["business_details"],
        "party_id": src["party_id"],
        "country_code": src["country_code"],
    }
    return {
        "token": src["token"],
        "url": src["url"],
        "roles": [{"role": role.value, **copy_json(party)} for role in ctx.roles],
    }


def _credentials_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    roles = src["roles"]
    chosen = next((r for r in roles if r["role"] == Role.HUB), None)
    if chosen is None and ctx.hub is not None:
        chosen = next(
            (
                r
                for r in roles
                if r["country_code"].upper() == ctx.hub.country_code.upper()
                and r["party_id"].upper() == ctx.hub.party_id.upper()
            ),
            None,
        )
    chosen = chosen or roles[0]
    return {
        "token": src["token"],
        "url": src["url"],
        "business_details": chosen["business_details"],
        "party_id": chosen["party_id"],
        "country_code": chosen["country_code"],
    }


def _partner_interface(ctx: TranslationContext, field: str) -> bool:
    """True when the 2.1.1 partner implements the CPO interface of its modules."""
    if not ctx.roles:
        raise MissingContext(field, "the partner's role (ctx.roles)", version=VERSION)
    return ctx.roles[0] == Role.CPO


def _interface_role(module: str, cpo_interface: bool) -> str:
    cpo = _CPO_INTERFACE.get(ModuleID(module)) if module in set(ModuleID) else None
    if cpo is None:
        return InterfaceRole.SENDER.value
    if cpo_interface:
        return cpo.value
    return (InterfaceRole.RECEIVER if cpo == InterfaceRole.SENDER else InterfaceRole.SENDER).value


def _version_details_in(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    cpo = _partner_interface(ctx, "endpoints.role")
    return {
        "version": src["version"],
        "endpoints": [
            {
                "identifier": e["identifier"],
                "role": _interface_role(e["identifier"], cpo),
                "url": e["url"],
            }
            for e in src["endpoints"]
        ],
    }


def _version_details_out(src: Mapping[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    # The hub plays the other side: a 2.1.1 eMSP talks to the hub's CPO interface.
    partner_is_cpo = _partner_interface(ctx, "endpoints")
    endpoints = []
    seen: set[str] = set()
    for endpoint in src["endpoints"]:
        module = endpoint["identifier"]
        if module not in _MODULES_211 or module in seen:
            continue
        wanted = _interface_role(module, not partner_is_cpo)
        if module != ModuleID.CREDENTIALS and endpoint.get("role", InterfaceRole.SENDER) != wanted:
            continue
        seen.add(module)
        endpoints.append({"identifier": module, "url": endpoint["url"]})
    if not endpoints:
        raise _refuse("endpoints", "no module of OCPI 2.1.1 is offered")
    return {"version": VERSION, "endpoints": endpoints}


# --- the table ----------------------------------------------------------------------------------

_SPECS: dict[Kind, _Spec] = {
    Kind.LOCATION: _Spec(locations.Location, _location_in, _location_out),
    Kind.EVSE: _Spec(locations.EVSE, _evse_in, _evse_only_out),
    Kind.CONNECTOR: _Spec(locations.Connector, _connector_in, _connector_fields_out),
    Kind.LOCATION_PATCH: _Spec(locations.LocationPatch, _location_patch_in, _location_patch_out),
    Kind.EVSE_PATCH: _Spec(locations.EvsePatch, _evse_patch_in, _evse_patch_out),
    Kind.CONNECTOR_PATCH: _Spec(
        locations.ConnectorPatch,
        _connector_patch_in,
        _connector_fields_out,
    ),
    Kind.TARIFF: _Spec(tariffs.Tariff, _tariff_in, _tariff_module_out),
    Kind.TARIFF_PATCH: _Spec(tariffs.TariffPatch, _tariff_patch_in, None),
    Kind.TOKEN: _Spec(tokens.Token, _token_in, _token_out),
    Kind.TOKEN_PATCH: _Spec(tokens.TokenPatch, _token_patch_in, _token_out),
    Kind.SESSION: _Spec(sessions.Session, _session_in, _session_out),
    Kind.SESSION_PATCH: _Spec(sessions.SessionPatch, _session_patch_in, _session_patch_out),
    Kind.CDR: _Spec(cdrs.CDR, _cdr_in, _cdr_out),
    Kind.LOCATION_REFERENCES: _Spec(tokens.LocationReferences, _references_in, _references_out),
    Kind.AUTHORIZATION_INFO: _Spec(tokens.AuthorizationInfo, _authorization_in, _authorization_out),
    Kind.START_SESSION: _Spec(commands.StartSession, _start_session_in, _start_session_out),
    Kind.STOP_SESSION: _Spec(commands.StopSession, _same, _same),
    Kind.RESERVE_NOW: _Spec(commands.ReserveNow, _reserve_now_in, _reserve_now_out),
    Kind.UNLOCK_CONNECTOR: _Spec(commands.UnlockConnector, _same, _same),
    Kind.COMMAND_RESPONSE: _Spec(
        commands.CommandResponse,
        _command_response_in,
        _command_response_out,
    ),
    Kind.COMMAND_RESULT: _Spec(commands.CommandResponse, _command_result_in, _command_result_out),
    Kind.CREDENTIALS: _Spec(credentials.Credentials, _credentials_in, _credentials_out),
    Kind.VERSIONS: _Spec(("list", versions.Version), _same, _same),
    Kind.VERSION_DETAILS: _Spec(
        versions.VersionDetails,
        _version_details_in,
        _version_details_out,
    ),
}
