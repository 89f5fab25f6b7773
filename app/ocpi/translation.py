"""What the OCPI version translators share: the kinds of message, the context, the errors.

The hub keeps one canonical form of every object: ``data``, the legal OCPI 2.2.1 JSON of it (what
2.2.1 partners get byte for byte), and ``ext``, what 2.2.1 cannot carry but a 2.3.0 sender gave
(see :mod:`app.ocpi.ext`). Each other version has a pure translator module with the same two
functions::

    to_canonical(kind, obj, ctx) -> (data_221, ext)
    from_canonical(kind, data_221, ext, ctx) -> obj in that version (JSON)

(:mod:`app.ocpi.v211.translate`, :mod:`app.ocpi.v230.translate`; :mod:`app.ocpi.translate`
dispatches on the version). ``obj`` is JSON as received (or a model of that version); invalid
input raises pydantic's ``ValidationError``. What a version cannot carry raises
:class:`NotRepresentable`, never a silent drop: every field's fate is in ``TRANSLATION.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter

from app.ocpi.errors import OcpiError
from app.ocpi.schemas import (
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
from app.ocpi.schemas.common import (
    URL,
    CiString36,
    DateTime,
    DisplayText,
    OcpiModel,
    Role,
    String3,
)
from app.ocpi.status import OcpiStatus

__all__ = (
    "CANONICAL",
    "EMPTY_CONTEXT",
    "Kind",
    "MissingContext",
    "NotRepresentable",
    "PartyIds",
    "Shape",
    "TariffFields",
    "TranslationContext",
    "normalise",
)


class Kind(StrEnum):
    """What a message is, which decides how it is translated."""

    # Stored objects (the hub keeps them as data + ext).
    LOCATION = "location"
    EVSE = "evse"
    CONNECTOR = "connector"
    TARIFF = "tariff"
    TOKEN = "token"
    SESSION = "session"
    CDR = "cdr"
    # PATCH bodies: only the fields to change.
    LOCATION_PATCH = "location_patch"
    EVSE_PATCH = "evse_patch"
    CONNECTOR_PATCH = "connector_patch"
    TOKEN_PATCH = "token_patch"
    SESSION_PATCH = "session_patch"
    # 2.1.1 only: 2.2.1 has no Tariff PATCH; the canonical side is a partial Tariff (the fields
    # to replace), not a 2.2.1 message.
    TARIFF_PATCH = "tariff_patch"
    # Requests and answers that are relayed, not stored.
    CHARGING_PREFERENCES = "charging_preferences"
    LOCATION_REFERENCES = "location_references"
    AUTHORIZATION_INFO = "authorization_info"
    START_SESSION = "start_session"
    STOP_SESSION = "stop_session"
    RESERVE_NOW = "reserve_now"
    CANCEL_RESERVATION = "cancel_reservation"
    UNLOCK_CONNECTOR = "unlock_connector"
    # The CPO's synchronous answer to a command.
    COMMAND_RESPONSE = "command_response"
    # The asynchronous result POSTed to response_url (2.1.1: a CommandResponse object too).
    COMMAND_RESULT = "command_result"
    CREDENTIALS = "credentials"
    VERSIONS = "versions"
    VERSION_DETAILS = "version_details"
    CLIENT_INFO = "client_info"
    SET_CHARGING_PROFILE = "set_charging_profile"
    ACTIVE_CHARGING_PROFILE = "active_charging_profile"
    CHARGING_PROFILE_RESPONSE = "charging_profile_response"
    ACTIVE_CHARGING_PROFILE_RESULT = "active_charging_profile_result"
    CHARGING_PROFILE_RESULT = "charging_profile_result"
    CLEAR_PROFILE_RESULT = "clear_profile_result"


@dataclass(frozen=True, slots=True)
class PartyIds:
    country_code: str
    party_id: str


@dataclass(frozen=True)
class TranslationContext:
    """What a translation needs and cannot find in the object; the caller knows it.

    Every field is optional; a translation that needs one that is missing raises
    :class:`MissingContext` naming it.
    """

    # The party that owns the object (a 2.1.1 Location, Tariff, Session or CDR: the CPO; a 2.1.1
    # Token: the eMSP). 2.1.1 objects do not carry country_code/party_id: they come from the URL
    # or the partner's credentials.
    owner: PartyIds | None = None
    # The hub's own party (the HUB role of its credentials).
    hub: PartyIds | None = None
    # The 2.2.1 Token (JSON as stored) that a 2.1.1 ``auth_id`` refers to, or that a 2.1.1
    # AuthorizationInfo answers about (2.2.1 AuthorizationInfo must contain the Token).
    token: Mapping[str, Any] | None = None
    # The 2.2.1 Location (JSON as stored) of a Session or CDR: 2.1.1 embeds a Location object.
    location: Mapping[str, Any] | None = None
    # The stored canonical object a PATCH applies to (2.1.1 Session PATCH: a 2.1.1 PATCH replaces
    # charging_periods, 2.2.1 appends to them). Inbound: before the PATCH; outbound: after it.
    stored: Mapping[str, Any] | None = None
    # When the message was received: ``last_updated`` of a 2.1.1 PATCH without one (2.2.1 requires
    # it in every PATCH).
    now: datetime | None = None
    # IANA time zone for a 2.1.1 Location without ``time_zone`` (required in 2.2.1): a setting of
    # the partner, never guessed from coordinates.
    time_zone: str | None = None
    # VAT percentage that a 2.1.1 partner's tariff prices are subject to (2.1.1 PriceComponents
    # have no ``vat``; in 2.2.1 an omitted ``vat`` means "no VAT applicable"). A setting of the
    # partner; None leaves ``vat`` out.
    vat: Decimal | None = None
    # Tariff.type per tariff id, to choose the one ``tariff_id`` of a 2.1.1 Connector among 2.2.1
    # ``tariff_ids`` (the one valid for everybody: no type or REGULAR).
    tariff_types: Mapping[str, str | None] = field(default_factory=dict)
    # Seconds the hub waits for a 2.1.1 CPO's command result (2.2.1 CommandResponse.timeout).
    command_timeout: int | None = None
    # The role(s) of a 2.1.1 partner (2.1.1 credentials and version details do not say).
    roles: tuple[Role, ...] = ()
    # 2.2.1 CredentialsRole JSONs of the parties reachable through the hub: a 2.3.0 hub lists them
    # in its credentials ``roles`` (credentials.asciidoc, 2.3.0).
    reachable: tuple[Mapping[str, Any], ...] = ()


EMPTY_CONTEXT = TranslationContext()


class NotRepresentable(OcpiError):
    """The message has something that the other version cannot express, and there is no closest
    legal form that keeps its meaning. The hub turns it into an error to the asking party (by
    default OCPI 2001) or does not send the object to that partner."""

    def __init__(
        self,
        field: str,
        reason: str,
        *,
        version: str,
        status_code: int = OcpiStatus.INVALID_PARAMETERS,
    ) -> None:
        super().__init__(status_code, f"{field}: {reason} (OCPI {version})")
        self.field = field
        self.reason = reason
        self.version = version


class MissingContext(NotRepresentable):
    """The translation needs something the message does not carry and the caller did not pass in
    the context (e.g. the Token a 2.1.1 ``auth_id`` names). OCPI 2002 "Not enough information"."""

    def __init__(self, field: str, needs: str, *, version: str) -> None:
        super().__init__(
            field,
            f"cannot be translated without {needs}",
            version=version,
            status_code=OcpiStatus.NOT_ENOUGH_INFORMATION,
        )
        self.needs = needs


class TariffFields(OcpiModel):
    """The canonical side of a 2.1.1 Tariff PATCH: the fields to replace in the stored 2.2.1
    Tariff, as 2.2.1 values (2.2.1 has no Tariff PATCH)."""

    id: CiString36 | None = None
    currency: String3 | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    elements: Annotated[list[tariffs.TariffElement], Field(min_length=1)] | None = None
    energy_mix: locations.EnergyMix | None = None
    last_updated: DateTime


# A model, or ("list", model) for a JSON list of them.
Shape = type[BaseModel] | tuple[str, type[BaseModel]]

# The canonical (2.2.1) model of each kind: what ``data`` is validated by.
CANONICAL: Mapping[Kind, Shape] = {
    Kind.LOCATION: locations.Location,
    Kind.EVSE: locations.EVSE,
    Kind.CONNECTOR: locations.Connector,
    Kind.TARIFF: tariffs.Tariff,
    Kind.TOKEN: tokens.Token,
    Kind.SESSION: sessions.Session,
    Kind.CDR: cdrs.CDR,
    Kind.LOCATION_PATCH: locations.LocationPatch,
    Kind.EVSE_PATCH: locations.EvsePatch,
    Kind.CONNECTOR_PATCH: locations.ConnectorPatch,
    Kind.TOKEN_PATCH: tokens.TokenPatch,
    Kind.SESSION_PATCH: sessions.SessionPatch,
    Kind.TARIFF_PATCH: TariffFields,
    Kind.CHARGING_PREFERENCES: sessions.ChargingPreferences,
    Kind.LOCATION_REFERENCES: tokens.LocationReferences,
    Kind.AUTHORIZATION_INFO: tokens.AuthorizationInfo,
    Kind.START_SESSION: commands.StartSession,
    Kind.STOP_SESSION: commands.StopSession,
    Kind.RESERVE_NOW: commands.ReserveNow,
    Kind.CANCEL_RESERVATION: commands.CancelReservation,
    Kind.UNLOCK_CONNECTOR: commands.UnlockConnector,
    Kind.COMMAND_RESPONSE: commands.CommandResponse,
    Kind.COMMAND_RESULT: commands.CommandResult,
    Kind.CREDENTIALS: credentials.Credentials,
    Kind.VERSIONS: ("list", versions.Version),
    Kind.VERSION_DETAILS: versions.VersionDetails,
    Kind.CLIENT_INFO: hubclientinfo.ClientInfo,
    Kind.SET_CHARGING_PROFILE: chargingprofiles.SetChargingProfile,
    Kind.ACTIVE_CHARGING_PROFILE: chargingprofiles.ActiveChargingProfile,
    Kind.CHARGING_PROFILE_RESPONSE: chargingprofiles.ChargingProfileResponse,
    Kind.ACTIVE_CHARGING_PROFILE_RESULT: chargingprofiles.ActiveChargingProfileResult,
    Kind.CHARGING_PROFILE_RESULT: chargingprofiles.ChargingProfileResult,
    Kind.CLEAR_PROFILE_RESULT: chargingprofiles.ClearProfileResult,
}

_ADAPTERS: dict[Shape, TypeAdapter[Any]] = {}


def normalise(shape: Shape, obj: Any) -> Any:
    """``obj`` validated by ``shape`` and written as JSON without absent optionals (as
    :meth:`OcpiModel.to_json`): the normal form every translation compares and returns."""
    if isinstance(shape, tuple):
        adapter = _ADAPTERS.get(shape)
        if adapter is None:
            adapter = _ADAPTERS[shape] = TypeAdapter(list[shape[1]])  # type: ignore[valid-type]
        return adapter.dump_python(adapter.validate_python(obj), mode="json", exclude_none=True)
    if isinstance(obj, shape):
        return obj.model_dump(mode="json", exclude_none=True)
    return shape.model_validate(obj).model_dump(mode="json", exclude_none=True)
