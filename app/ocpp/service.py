"""Registering chargers and describing the own CPO's Locations (admin API and CLI)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.context import HubContext
from app.ocpp.bridge import Bridge
from app.ocpp.identity import ensure_own_cpo
from app.ocpp.models import Charger
from app.ocpp.settings import OcppSettings

# The identity is the last URL segment and becomes part of EVSE uids (CiString36: id + "-N").
CHARGE_POINT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,32}$")
# scrypt, N=2^14, r=8, p=1: ~16 MiB and tens of ms per check, run off the event loop.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class ChargerError(ValueError):
    """Refused input (an invalid id, a duplicate, an unknown charger)."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(check_password, password, stored)


def valid_id(charge_point_id: str) -> bool:
    return bool(CHARGE_POINT_ID.match(charge_point_id))


# Built once: read on every connection, BootNotification, StatusNotification and Authorize.
_CHARGER = select(Charger).where(col(Charger.charge_point_id) == bindparam("cp"))


async def get_charger(session: AsyncSession, charge_point_id: str) -> Charger | None:
    return (await session.exec(_CHARGER, params={"cp": charge_point_id})).first()


async def list_chargers(session: AsyncSession) -> list[Charger]:
    return list((await session.exec(select(Charger).order_by(col(Charger.id)))).all())


async def add_charger(
    session: AsyncSession,
    ctx: HubContext,
    settings: OcppSettings,
    *,
    charge_point_id: str,
    password: str | None,
    location_id: str | None = None,
    evse_count: int = 1,
    connector: dict[str, Any] | None = None,
) -> Charger:
    """Register a charger (its password stored hashed) and attach it to a Location."""
    if not valid_id(charge_point_id):
        raise ChargerError("charge point id: 1 to 32 letters, digits or . _ : -")
    if await get_charger(session, charge_point_id) is not None:
        raise ChargerError(f"charger {charge_point_id} is already registered")
    if not 1 <= evse_count <= 32:
        raise ChargerError("evse_count must be between 1 and 32")
    hashed = await asyncio.to_thread(hash_password, password) if password else None
    charger = Charger(
        charge_point_id=charge_point_id,
        password_hash=hashed,
        evse_count=evse_count,
        connector=connector or {},
    )
    session.add(charger)
    await session.commit()
    if location_id is not None:
        await attach(session, ctx, settings, charger, location_id, evse_count)
    await session.refresh(charger)
    return charger


async def attach(
    session: AsyncSession,
    ctx: HubContext,
    settings: OcppSettings,
    charger: Charger,
    location_id: str | None,
    evse_count: int | None = None,
) -> None:
    """Move a charger to a Location (or detach it with None); both Locations are re-pushed."""
    await ensure_own_cpo(ctx, settings)
    bridge = Bridge(ctx, settings)
    previous = charger.location_id
    charger.location_id = location_id
    if evse_count is not None:
        charger.evse_count = evse_count
    session.add(charger)
    await session.commit()
    for loc in {previous, location_id} - {None}:
        assert loc is not None
        await bridge.refresh_location(session, loc)


async def put_location(
    session: AsyncSession,
    ctx: HubContext,
    settings: OcppSettings,
    spec: dict[str, Any],
    tariff_ids: list[str],
) -> dict[str, Any]:
    await ensure_own_cpo(ctx, settings)
    return await Bridge(ctx, settings).put_location(session, spec, tariff_ids)


async def put_tariff(
    session: AsyncSession, ctx: HubContext, settings: OcppSettings, tariff: dict[str, Any]
) -> dict[str, Any]:
    await ensure_own_cpo(ctx, settings)
    return await Bridge(ctx, settings).put_tariff(session, tariff)
