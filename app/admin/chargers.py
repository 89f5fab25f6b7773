"""Admin API of the hub's own chargers (JWT): registration, Locations, Tariffs, OCPP calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Request
from ocpp.exceptions import OCPPError
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.admin_auth import require_admin
from app.hub.auth import get_context, get_session
from app.hub.context import HubContext
from app.ocpi.errors import OcpiError
from app.ocpi.schemas.common import INT_MAX
from app.ocpp import service
from app.ocpp.csms import CallRefused, ChargerNotConnected, Csms
from app.ocpp.models import Charger
from app.ocpp.settings import OcppSettings

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

ChargePointId = Annotated[str, Path(min_length=1, max_length=32, description="Charge point id")]


def get_csms(request: Request) -> Csms:
    csms: Csms = request.app.state.csms
    return csms


def _settings(request: Request) -> OcppSettings:
    csms = getattr(request.app.state, "csms", None)
    return csms.settings if csms is not None else OcppSettings()


class ConnectorIn(BaseModel):
    """The OCPI Connector fields of the charger's connectors."""

    standard: str = Field(default="IEC_62196_T2", examples=["IEC_62196_T2"])
    format: str = Field(default="SOCKET", examples=["SOCKET", "CABLE"])
    power_type: str = Field(default="AC_3_PHASE", examples=["AC_3_PHASE", "DC"])
    max_voltage: int = Field(default=230, ge=0, le=INT_MAX)
    max_amperage: int = Field(default=32, ge=0, le=INT_MAX)
    max_electric_power: int | None = Field(default=None, ge=0, le=INT_MAX)


class ChargerIn(BaseModel):
    charge_point_id: str = Field(min_length=1, max_length=32, examples=["CP-0001"])
    password: str | None = Field(
        default=None,
        min_length=16,
        max_length=40,
        description="HTTP Basic password (security profile 1/2); stored hashed",
    )
    location_id: str | None = Field(default=None, max_length=36)
    evse_count: int = Field(default=1, ge=1, le=32)
    connector: ConnectorIn = Field(default_factory=ConnectorIn)


class AttachIn(BaseModel):
    # Attach the charger to the own CPO's Location LOC1, as two EVSEs.
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"location_id": "LOC1", "evse_count": 2}]}
    )

    location_id: str | None = Field(default=None, max_length=36)
    evse_count: int | None = Field(default=None, ge=1, le=32)


class ChargerOut(BaseModel):
    charge_point_id: str
    location_id: str | None
    evse_count: int
    has_password: bool
    connected: bool
    ocpp_version: str | None
    vendor: str | None
    model: str | None
    firmware_version: str | None
    last_seen_at: datetime | None
    statuses: dict[str, Any]

    @classmethod
    def of(cls, charger: Charger) -> ChargerOut:
        return cls(
            charge_point_id=charger.charge_point_id,
            location_id=charger.location_id,
            evse_count=charger.evse_count,
            has_password=charger.password_hash is not None,
            connected=charger.connected,
            ocpp_version=charger.ocpp_version,
            vendor=charger.vendor,
            model=charger.model,
            firmware_version=charger.firmware_version,
            last_seen_at=charger.last_seen_at,
            statuses=charger.statuses or {},
        )


class GeoIn(BaseModel):
    latitude: str = Field(pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$", examples=["52.378900"])
    longitude: str = Field(pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$", examples=["4.900000"])


class LocationIn(BaseModel):
    name: str | None = Field(default=None, max_length=255)
    address: str = Field(min_length=1, max_length=45)
    city: str = Field(min_length=1, max_length=45)
    postal_code: str | None = Field(default=None, max_length=10)
    country: str = Field(min_length=3, max_length=3, examples=["NLD"])
    coordinates: GeoIn
    time_zone: str = Field(min_length=1, max_length=255, examples=["Europe/Amsterdam"])
    parking_type: str | None = None
    publish: bool = True
    tariff_ids: list[str] = Field(default_factory=list, description="Tariffs of its connectors")


def _check_time_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(422, f"Unknown IANA time zone {name}") from None


@router.post(
    "/chargers",
    summary="Register a charger (and attach it to a Location of the own CPO)",
    response_model=ChargerOut,
    status_code=201,
    responses={409: {"description": "A charger with this id is already registered"}},
)
async def add_charger(
    body: ChargerIn,
    request: Request,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> ChargerOut:
    try:
        charger = await service.add_charger(
            session,
            ctx,
            _settings(request),
            charge_point_id=body.charge_point_id,
            password=body.password,
            location_id=body.location_id,
            evse_count=body.evse_count,
            connector=body.connector.model_dump(exclude_none=True),
        )
    except service.ChargerError as exc:
        raise HTTPException(409 if "already" in str(exc) else 422, str(exc)) from None
    return ChargerOut.of(charger)


@router.get(
    "/chargers", summary="Registered chargers and their state", response_model=list[ChargerOut]
)
async def list_chargers(session: AsyncSession = Depends(get_session)) -> list[ChargerOut]:
    return [ChargerOut.of(c) for c in await service.list_chargers(session)]


async def _charger(session: AsyncSession, charge_point_id: str) -> Charger:
    charger = await service.get_charger(session, charge_point_id)
    if charger is None:
        raise HTTPException(404, f"Unknown charger {charge_point_id}")
    return charger


@router.get("/chargers/{charge_point_id}", summary="One charger", response_model=ChargerOut)
async def get_charger(
    charge_point_id: ChargePointId, session: AsyncSession = Depends(get_session)
) -> ChargerOut:
    return ChargerOut.of(await _charger(session, charge_point_id))


@router.put(
    "/chargers/{charge_point_id}/location",
    summary="Attach a charger to a Location (or detach it with location_id null)",
    response_model=ChargerOut,
)
async def attach_charger(
    charge_point_id: ChargePointId,
    body: AttachIn,
    request: Request,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> ChargerOut:
    charger = await _charger(session, charge_point_id)
    await service.attach(
        session, ctx, _settings(request), charger, body.location_id, body.evse_count
    )
    await session.refresh(charger)
    return ChargerOut.of(charger)


@router.post(
    "/chargers/{charge_point_id}/calls/{action}",
    summary="Send an OCPP call to a connected charger (payload and answer as in the OCPP spec)",
    responses={
        404: {"description": "Unknown charger"},
        409: {"description": "The charger is not connected"},
        422: {"description": "Not a call of the charger's OCPP version, or a bad payload"},
        502: {"description": "The charger answered with a CALLERROR"},
        504: {"description": "The charger did not answer in time"},
    },
)
async def call_charger(
    charge_point_id: ChargePointId,
    action: Annotated[
        str, Path(max_length=40, examples=["RemoteStartTransaction", "GetVariables"])
    ],
    payload: Annotated[dict[str, Any], Body(examples=[{"connectorId": 1, "idTag": "TOKEN1"}])],
    csms: Csms = Depends(get_csms),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    await _charger(session, charge_point_id)
    try:
        return await csms.call(charge_point_id, action, payload)
    except ChargerNotConnected:
        raise HTTPException(409, f"Charger {charge_point_id} is not connected") from None
    except CallRefused as exc:
        raise HTTPException(422, str(exc)) from None
    except OCPPError as exc:
        raise HTTPException(502, f"{exc.code}: {exc.description}") from None
    except TimeoutError:
        raise HTTPException(504, f"Charger {charge_point_id} did not answer in time") from None


@router.put(
    "/own-cpo/locations/{location_id}",
    summary="Create or replace a Location of the hub's own CPO (EVSEs come from its chargers)",
)
async def put_location(
    location_id: Annotated[str, Path(min_length=1, max_length=36)],
    body: LocationIn,
    request: Request,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    _check_time_zone(body.time_zone)
    spec = body.model_dump(exclude_none=True, exclude={"tariff_ids"})
    spec["id"] = location_id
    try:
        return await service.put_location(session, ctx, _settings(request), spec, body.tariff_ids)
    except OcpiError as exc:
        raise HTTPException(422, exc.message) from None


@router.put(
    "/own-cpo/tariffs/{tariff_id}",
    summary="Create or replace a Tariff of the hub's own CPO (broadcast to eMSPs)",
)
async def put_tariff(
    tariff_id: Annotated[str, Path(min_length=1, max_length=36)],
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[
                {
                    "currency": "EUR",
                    "elements": [
                        {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}
                    ],
                }
            ]
        ),
    ],
    request: Request,
    ctx: HubContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    try:
        return await service.put_tariff(session, ctx, _settings(request), {**body, "id": tariff_id})
    except OcpiError as exc:
        raise HTTPException(422, exc.message) from None
