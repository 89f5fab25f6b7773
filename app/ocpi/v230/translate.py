"""OCPI 2.3.0 <-> the canonical form (2.2.1 ``data`` + ``ext``), both ways, pure functions.

``to_canonical`` validates the 2.3.0 object, maps it to its closest legal 2.2.1 form (``data``) and
keeps in ``ext`` the difference between the object and what ``from_canonical`` rebuilds from
``data`` alone (:mod:`app.ocpi.ext`). So ``from_canonical(kind, *to_canonical(kind, obj))`` gives
``obj`` back exactly (as normalised JSON), and a 2.2.1 object goes 2.2.1 -> 2.3.0 -> 2.2.1 unchanged
with no ``ext``. Field by field: ``app/ocpi/TRANSLATION.md``.

The 2.2.1 form of a 2.3.0 value, where they differ:

* Price ``{before_taxes, taxes}`` <-> ``{excl_vat, incl_vat}``: ``excl_vat = before_taxes``;
  ``incl_vat = before_taxes + sum(taxes.amount)`` when there are taxes, absent otherwise (an
  empty list does not say that the price is tax free). Back: ``taxes = [{"name": "VAT", "amount":
  incl_vat - excl_vat}]`` when ``incl_vat`` is given.
* PriceLimit ``{before_taxes, after_taxes}`` <-> Price ``{excl_vat, incl_vat}``.
* Tariff ``tax_included``: NO and N/A keep the prices (2.2.1 prices are excl. VAT); YES prices
  are converted to excl. VAT only where that is exact (``price * 100 / (100 + vat)`` with at most
  4 decimals, or a price of 0); otherwise the Tariff is not representable in 2.2.1 (a CDR leaves
  it out of ``tariffs``).
* OpenEnum values unknown to 2.2.1: dropped from lists; Image.category -> OTHER; ParkingType
  omitted; TokenType EMAID (or other) -> OTHER; ConnectorType SAE_J3400 -> TESLA_S (the same plug,
  "Mechanically compatible"); a Connector of another unknown type is not carried (and an EVSE
  left without Connectors); in a CdrLocation it is not representable.
* Strings longer than 2.2.1 allows (Location address 255 -> 45, state 45 -> 20) are cut;
  SignedData with a ``plain_data`` longer than 512 is left out.
* Role HUB (2.2.1 credentials and ClientInfo): 2.3.0 has ``hub_party_id`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel

from app.ocpi import ext as extmod
from app.ocpi.ext import MISSING, Ext, copy_json
from app.ocpi.schemas import locations as s_locations
from app.ocpi.schemas import tokens as s_tokens
from app.ocpi.schemas.commands import CommandType
from app.ocpi.schemas.common import Role as Role221
from app.ocpi.translation import (
    CANONICAL,
    EMPTY_CONTEXT,
    Kind,
    NotRepresentable,
    Shape,
    TranslationContext,
    normalise,
)
from app.ocpi.v230 import (
    cdrs,
    chargingprofiles,
    commands,
    credentials,
    hubclientinfo,
    locations,
    sessions,
    tariffs,
    tokens,
    versions,
)

__all__ = ("VERSION", "command_kind", "from_canonical", "to_canonical")

VERSION = "2.3.0"

_KNOWN_CAPABILITIES = frozenset(s_locations.Capability)
_KNOWN_CONNECTOR_TYPES = frozenset(s_locations.ConnectorType)
_KNOWN_IMPACTS = frozenset(s_locations.EnvironmentalImpactCategory)
_KNOWN_FACILITIES = frozenset(s_locations.Facility)
_KNOWN_IMAGE_CATEGORIES = frozenset(s_locations.ImageCategory)
_KNOWN_PARKING_RESTRICTIONS = frozenset(s_locations.ParkingRestriction)
_KNOWN_PARKING_TYPES = frozenset(s_locations.ParkingType)
_KNOWN_TOKEN_TYPES = frozenset(s_tokens.TokenType)
# ConnectorType values 2.3.0 added that have an exact 2.2.1 counterpart: SAE J3400 is the NACS
# plug, "Mechanically compatible with SAE J3400" (2.3.0's TESLA_S description).
_CONNECTOR_TYPE_221 = {"SAE_J3400": s_locations.ConnectorType.TESLA_S.value}
_PLAIN_DATA_221 = 512
_ADDRESS_221 = 45
_STATE_221 = 20
_FOUR_DECIMALS = Decimal("0.0001")
_EXACT = Context(prec=60)


def command_kind(command: str) -> Kind:
    """The Kind of a 2.3.0 ``{command}`` request body. CommandType is an OpenEnum in 2.3.0: a
    command 2.2.1 does not know is not representable (the hub answers NOT_SUPPORTED)."""
    try:
        return _COMMAND_KINDS[CommandType(command)]
    except ValueError:
        raise NotRepresentable(
            "command", f"{command} is not a command OCPI 2.2.1 knows", version=VERSION
        ) from None


_COMMAND_KINDS = {
    CommandType.CANCEL_RESERVATION: Kind.CANCEL_RESERVATION,
    CommandType.RESERVE_NOW: Kind.RESERVE_NOW,
    CommandType.START_SESSION: Kind.START_SESSION,
    CommandType.STOP_SESSION: Kind.STOP_SESSION,
    CommandType.UNLOCK_CONNECTOR: Kind.UNLOCK_CONNECTOR,
}


# --- entry points -------------------------------------------------------------------------------


def to_canonical(
    kind: Kind, obj: Any, ctx: TranslationContext = EMPTY_CONTEXT
) -> tuple[Any, Ext | None]:
    """A 2.3.0 message as (2.2.1 ``data``, ``ext``).

    ``data`` is None only for an EVSE or Connector that 2.2.1 cannot carry at all (every
    Connector of an unknown standard): it then exists in ``ext`` only."""
    spec = _spec(kind)
    orig = _normalise(spec.model230, obj)
    down = spec.down(copy_json(orig), ctx)
    if down is None:
        return None, extmod.diff(orig, MISSING)
    data = _normalise(CANONICAL[kind], down)
    raw = spec.up(copy_json(data), ctx)
    base = _normalise(spec.model230, raw)
    return data, extmod.diff(orig, base, raw)


def from_canonical(
    kind: Kind, data: Any, ext: Ext | None, ctx: TranslationContext = EMPTY_CONTEXT
) -> Any:
    """The 2.3.0 form (JSON) of a canonical message: rebuilt from ``data``, then ``ext``
    applied."""
    spec = _spec(kind)
    if data is None:
        base = MISSING
    else:
        if isinstance(data, BaseModel):
            data = _normalise(CANONICAL[kind], data)
        base = _normalise(spec.model230, spec.up(copy_json(data), ctx))
    if not ext:
        if base is MISSING:
            raise ValueError(f"no {kind} in data and no ext to rebuild it from")
        return base
    result, stale = extmod.apply_in_place(base, ext)
    if result is None:
        raise ValueError(f"no {kind} in data and ext does not add one")
    # Part of ext was stale (another writer changed data since): the mix must still be legal.
    return _normalise(spec.model230, result) if stale else result


# --- the table of kinds -------------------------------------------------------------------------

Down = Callable[[Any, TranslationContext], Any]
Up = Callable[[Any, TranslationContext], Any]


@dataclass(frozen=True)
class _Spec:
    model230: Shape
    down: Down
    up: Up


def _same(value: Any, _ctx: TranslationContext) -> Any:
    return value


_normalise = normalise


def _spec(kind: Kind) -> _Spec:
    try:
        return _SPECS[kind]
    except KeyError:
        raise NotRepresentable(
            "kind", f"{kind} is not exchanged in OCPI 2.3.0", version=VERSION
        ) from None


# --- numbers and money --------------------------------------------------------------------------


def _dec(value: Any) -> Decimal:
    # JSON numbers of normalised objects: the Number serializer wrote at most 4 decimals, so the
    # shortest repr of the float is that decimal.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _price_down(price: dict[str, Any] | None) -> dict[str, Any] | None:
    if price is None:
        return None
    out: dict[str, Any] = {"excl_vat": price["before_taxes"]}
    taxes = price.get("taxes") or []
    if taxes:
        total = _dec(price["before_taxes"]) + sum((_dec(t["amount"]) for t in taxes), Decimal(0))
        out["incl_vat"] = total
    return out


def _price_up(price: dict[str, Any] | None) -> dict[str, Any] | None:
    if price is None:
        return None
    out: dict[str, Any] = {"before_taxes": price["excl_vat"], "taxes": []}
    if "incl_vat" in price:
        amount = _dec(price["incl_vat"]) - _dec(price["excl_vat"])
        out["taxes"] = [{"name": "VAT", "amount": amount}]
    return out


def _limit_down(limit: dict[str, Any] | None) -> dict[str, Any] | None:
    if limit is None:
        return None
    out = {"excl_vat": limit["before_taxes"]}
    if "after_taxes" in limit:
        out["incl_vat"] = limit["after_taxes"]
    return out


def _limit_up(price: dict[str, Any] | None) -> dict[str, Any] | None:
    if price is None:
        return None
    out = {"before_taxes": price["excl_vat"]}
    if "incl_vat" in price:
        out["after_taxes"] = price["incl_vat"]
    return out


def _map_fields(obj: dict[str, Any], names: tuple[str, ...], fn: Callable[[Any], Any]) -> None:
    for name in names:
        if name in obj:
            obj[name] = fn(obj[name])


_CDR_PRICES = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def _excl_vat_price(price: Decimal, vat: Any) -> Decimal | None:
    """``price`` (incl. VAT) without VAT, when that is exact to 4 decimals; else None."""
    if price == 0:
        return Decimal(0)
    if vat is None:
        return None
    rate = Decimal(100) + _dec(vat)
    if rate == 0:
        return None
    try:
        excl = _EXACT.divide(_EXACT.multiply(price, Decimal(100)), rate)
        exact = _EXACT.multiply(excl, rate) == _EXACT.multiply(price, Decimal(100))
        return excl if exact and excl == excl.quantize(_FOUR_DECIMALS) else None
    except InvalidOperation:
        return None


# --- Locations ----------------------------------------------------------------------------------


def _images_down(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for image in images:
        if image.get("category") not in _KNOWN_IMAGE_CATEGORIES:
            image["category"] = s_locations.ImageCategory.OTHER.value
    return images


def _business_down(details: dict[str, Any] | None) -> dict[str, Any] | None:
    if details and details.get("logo"):
        _images_down([details["logo"]])
    return details


def _energy_mix_down(mix: dict[str, Any] | None) -> dict[str, Any] | None:
    if mix and mix.get("environ_impact"):
        mix["environ_impact"] = [
            i for i in mix["environ_impact"] if i.get("category") in _KNOWN_IMPACTS
        ]
    return mix


def _known(values: list[str] | None, known: frozenset[str]) -> list[str] | None:
    return None if values is None else [v for v in values if v in known]


def _connector_standard_221(standard: str) -> str | None:
    if standard in _KNOWN_CONNECTOR_TYPES:
        return standard
    return _CONNECTOR_TYPE_221.get(standard)


def _connector_down(connector: dict[str, Any], _ctx: TranslationContext) -> dict[str, Any] | None:
    standard = _connector_standard_221(connector["standard"])
    if standard is None:
        return None
    connector["standard"] = standard
    return connector


def _connector_patch_down(patch: dict[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    if "standard" in patch:
        standard = _connector_standard_221(patch["standard"])
        if standard is None:
            raise NotRepresentable(
                "standard",
                f"connector type {patch['standard']} has no OCPI 2.2.1 equivalent; "
                "PUT the Connector (or its EVSE) instead",
                version=VERSION,
            )
        patch["standard"] = standard
    return patch


def _evse_fields_down(evse: dict[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    evse["capabilities"] = _known(evse.get("capabilities"), _KNOWN_CAPABILITIES)
    evse["parking_restrictions"] = _known(
        evse.get("parking_restrictions"), _KNOWN_PARKING_RESTRICTIONS
    )
    if evse.get("images"):
        _images_down(evse["images"])
    if evse.get("connectors") is not None:
        evse["connectors"] = [
            c for c in (_connector_down(c, ctx) for c in evse["connectors"]) if c is not None
        ]
    return evse


def _evse_down(evse: dict[str, Any], ctx: TranslationContext) -> dict[str, Any] | None:
    evse = _evse_fields_down(evse, ctx)
    return evse if evse["connectors"] else None


def _evse_patch_down(patch: dict[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    had_connectors = "connectors" in patch
    patch = _evse_fields_down(patch, ctx)
    if had_connectors and not patch["connectors"]:
        raise NotRepresentable(
            "connectors",
            "no Connector of this EVSE has a standard OCPI 2.2.1 knows; PUT the EVSE instead",
            version=VERSION,
        )
    return patch


def _location_down(location: dict[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    if len(location.get("address") or "") > _ADDRESS_221:
        location["address"] = location["address"][:_ADDRESS_221]
    if len(location.get("state") or "") > _STATE_221:
        location["state"] = location["state"][:_STATE_221]
    if location.get("parking_type") not in _KNOWN_PARKING_TYPES:
        location.pop("parking_type", None)
    location["facilities"] = _known(location.get("facilities"), _KNOWN_FACILITIES)
    if location.get("publish_allowed_to"):
        # An entry for a token type 2.2.1 does not know would widen or break the match: left out.
        location["publish_allowed_to"] = [
            p
            for p in location["publish_allowed_to"]
            if p.get("type") is None or p["type"] in _KNOWN_TOKEN_TYPES
        ]
    if location.get("images"):
        _images_down(location["images"])
    for name in ("operator", "suboperator", "owner"):
        _business_down(location.get(name))
    _energy_mix_down(location.get("energy_mix"))
    if location.get("evses") is not None:
        location["evses"] = [
            e for e in (_evse_down(e, ctx) for e in location["evses"]) if e is not None
        ]
    return location


# --- Tariffs ------------------------------------------------------------------------------------


def _tariff_down(tariff: dict[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    _map_fields(tariff, ("min_price", "max_price"), _limit_down)
    _energy_mix_down(tariff.get("energy_mix"))
    if tariff.pop("tax_included", None) == tariffs.TaxIncluded.YES.value:
        for element in tariff["elements"]:
            for component in element["price_components"]:
                excl = _excl_vat_price(_dec(component["price"]), component.get("vat"))
                if excl is None:
                    raise NotRepresentable(
                        "elements.price_components.price",
                        f"a price of {component['price']} including taxes "
                        f"(vat {component.get('vat', 'not given')}) has no exact price excluding "
                        "VAT, which is what OCPI 2.2.1 prices are",
                        version=VERSION,
                    )
                component["price"] = excl
    return tariff


def _tariff_up(tariff: dict[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    _map_fields(tariff, ("min_price", "max_price"), _limit_up)
    tariff["tax_included"] = tariffs.TaxIncluded.NO.value
    return tariff


# --- Tokens, Sessions, CDRs ---------------------------------------------------------------------


def _token_type_221(value: str) -> str:
    return value if value in _KNOWN_TOKEN_TYPES else s_tokens.TokenType.OTHER.value


def _token_down(token: dict[str, Any] | None, _ctx: TranslationContext) -> dict[str, Any] | None:
    if token is not None and "type" in token:
        token["type"] = _token_type_221(token["type"])
    return token


def _with_token_down(obj: dict[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    _token_down(obj.get("token"), ctx)
    return obj


def _session_down(session: dict[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    _map_fields(session, ("total_cost",), _price_down)
    _token_down(session.get("cdr_token"), ctx)
    return session


def _session_up(session: dict[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    _map_fields(session, ("total_cost",), _price_up)
    return session


def _cdr_down(cdr: dict[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    _map_fields(cdr, _CDR_PRICES, _price_down)
    _token_down(cdr["cdr_token"], ctx)
    where = cdr["cdr_location"]
    standard = _connector_standard_221(where["connector_standard"])
    if standard is None:
        raise NotRepresentable(
            "cdr_location.connector_standard",
            f"connector type {where['connector_standard']} has no OCPI 2.2.1 equivalent",
            version=VERSION,
        )
    where["connector_standard"] = standard
    kept = []
    for tariff in cdr.get("tariffs") or []:
        try:
            kept.append(_tariff_down(tariff, ctx))
        except NotRepresentable:
            # The CDR's totals are what is owed; a Tariff 2.2.1 cannot state exactly is left out
            # of the 2.2.1 list (and kept in ext).
            continue
    cdr["tariffs"] = kept
    signed = cdr.get("signed_data")
    if signed and any(len(v["plain_data"]) > _PLAIN_DATA_221 for v in signed["signed_values"]):
        del cdr["signed_data"]
    return cdr


def _cdr_up(cdr: dict[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    _map_fields(cdr, _CDR_PRICES, _price_up)
    cdr["tariffs"] = [_tariff_up(t, ctx) for t in cdr.get("tariffs") or []]
    return cdr


# --- Credentials and HubClientInfo --------------------------------------------------------------


def _credentials_up(creds: dict[str, Any], ctx: TranslationContext) -> dict[str, Any]:
    roles = creds["roles"]
    hubs = [r for r in roles if r["role"] == Role221.HUB.value]
    if hubs:
        creds["hub_party_id"] = f"{hubs[0]['country_code']}{hubs[0]['party_id']}"
    kept = [r for r in roles if r["role"] != Role221.HUB.value]
    present = {(r["role"], r["country_code"].upper(), r["party_id"].upper()) for r in kept}
    for extra in ctx.reachable:
        ident = (extra["role"], extra["country_code"].upper(), extra["party_id"].upper())
        if extra["role"] != Role221.HUB.value and ident not in present:
            kept.append(copy_json(dict(extra)))
            present.add(ident)
    if not kept:
        raise NotRepresentable(
            "roles",
            "2.3.0 credentials list the parties reachable through a hub and need at least one; "
            "pass them in the context (reachable)",
            version=VERSION,
        )
    creds["roles"] = kept
    return creds


def _client_info_up(info: dict[str, Any], _ctx: TranslationContext) -> dict[str, Any]:
    if info["role"] == Role221.HUB.value:
        raise NotRepresentable(
            "role", "OCPI 2.3.0 has no HUB role (a hub is a hub_party_id)", version=VERSION
        )
    return info


# --- the table ----------------------------------------------------------------------------------

_SPECS: dict[Kind, _Spec] = {
    Kind.LOCATION: _Spec(locations.Location, _location_down, _same),
    Kind.EVSE: _Spec(locations.EVSE, _evse_down, _same),
    Kind.CONNECTOR: _Spec(locations.Connector, _connector_down, _same),
    Kind.LOCATION_PATCH: _Spec(locations.LocationPatch, _location_down, _same),
    Kind.EVSE_PATCH: _Spec(locations.EvsePatch, _evse_patch_down, _same),
    Kind.CONNECTOR_PATCH: _Spec(locations.ConnectorPatch, _connector_patch_down, _same),
    Kind.TARIFF: _Spec(tariffs.Tariff, _tariff_down, _tariff_up),
    Kind.TOKEN: _Spec(tokens.Token, _token_down, _same),
    Kind.TOKEN_PATCH: _Spec(tokens.TokenPatch, _token_down, _same),
    Kind.SESSION: _Spec(sessions.Session, _session_down, _session_up),
    Kind.SESSION_PATCH: _Spec(sessions.SessionPatch, _session_down, _session_up),
    Kind.CDR: _Spec(cdrs.CDR, _cdr_down, _cdr_up),
    Kind.CHARGING_PREFERENCES: _Spec(sessions.ChargingPreferences, _same, _same),
    Kind.LOCATION_REFERENCES: _Spec(tokens.LocationReferences, _same, _same),
    Kind.AUTHORIZATION_INFO: _Spec(tokens.AuthorizationInfo, _with_token_down, _same),
    Kind.START_SESSION: _Spec(commands.StartSession, _with_token_down, _same),
    Kind.STOP_SESSION: _Spec(commands.StopSession, _same, _same),
    Kind.RESERVE_NOW: _Spec(commands.ReserveNow, _with_token_down, _same),
    Kind.CANCEL_RESERVATION: _Spec(commands.CancelReservation, _same, _same),
    Kind.UNLOCK_CONNECTOR: _Spec(commands.UnlockConnector, _same, _same),
    Kind.COMMAND_RESPONSE: _Spec(commands.CommandResponse, _same, _same),
    Kind.COMMAND_RESULT: _Spec(commands.CommandResult, _same, _same),
    Kind.CREDENTIALS: _Spec(credentials.Credentials, _same, _credentials_up),
    Kind.VERSIONS: _Spec(("list", versions.Version), _same, _same),
    Kind.VERSION_DETAILS: _Spec(versions.VersionDetails, _same, _same),
    Kind.CLIENT_INFO: _Spec(hubclientinfo.ClientInfo, _same, _client_info_up),
    Kind.SET_CHARGING_PROFILE: _Spec(chargingprofiles.SetChargingProfile, _same, _same),
    Kind.ACTIVE_CHARGING_PROFILE: _Spec(chargingprofiles.ActiveChargingProfile, _same, _same),
    Kind.CHARGING_PROFILE_RESPONSE: _Spec(chargingprofiles.ChargingProfileResponse, _same, _same),
    Kind.ACTIVE_CHARGING_PROFILE_RESULT: _Spec(
        chargingprofiles.ActiveChargingProfileResult,
        _same,
        _same,
    ),
    Kind.CHARGING_PROFILE_RESULT: _Spec(chargingprofiles.ChargingProfileResult, _same, _same),
    Kind.CLEAR_PROFILE_RESULT: _Spec(chargingprofiles.ClearProfileResult, _same, _same),
}
