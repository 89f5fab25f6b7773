"""The schema changes only through Alembic: the models and the migrations must agree."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

import app.models  # noqa: F401
from app.core.db import make_engine
from app.core.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from app.core.settings import Settings
from app.hub.parties.models import Platform, PlatformParty, PlatformRole


async def _diff(settings: Settings) -> list[object]:
    engine = create_async_engine(settings.async_database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
    finally:
        await engine.dispose()


async def test_models_and_migrations_agree(database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key="x")
    await asyncio.to_thread(upgrade_to_head, settings)
    assert await _diff(settings) == []
    engine = create_async_engine(settings.async_database_url)
    assert await current_revision(engine) == head_revision(settings)
    await engine.dispose()


async def test_downgrade_and_upgrade_again(database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key="x")
    config = alembic_config(settings)
    await asyncio.to_thread(upgrade_to_head, settings)
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(upgrade_to_head, settings)
    assert await _diff(settings) == []


async def test_party_ownership_keeps_the_older_registered_platform(database_url: str) -> None:
    """0010 on a database where platforms share party ids across roles (possible before it)."""
    settings = Settings(database_url=database_url, secret_key="x")
    await asyncio.to_thread(command.upgrade, alembic_config(settings), "0006")
    engine = make_engine(settings)
    platforms = [
        # id, name, registered, status, created
        (1, "A: older, registered", True, "CONNECTED", datetime(2026, 1, 1, tzinfo=UTC)),
        (2, "F: younger, registered", True, "CONNECTED", datetime(2026, 2, 1, tzinfo=UTC)),
        (3, "G: younger, one role", True, "CONNECTED", datetime(2026, 3, 1, tzinfo=UTC)),
        (4, "U: oldest, unregistered", False, "SUSPENDED", datetime(2025, 1, 1, tzinfo=UTC)),
        (5, "B: CPO and eMSP", True, "CONNECTED", datetime(2026, 4, 1, tzinfo=UTC)),
    ]
    roles = [
        (1, "CPO", "NL", "ACP"),
        (2, "EMSP", "NL", "ACP"),
        (2, "EMSP", "NL", "FFF"),
        (3, "OTHER", "NL", "ACP"),
        (4, "NSP", "NL", "ACP"),
        (5, "CPO", "NL", "BBB"),
        (5, "EMSP", "NL", "BBB"),
    ]
    async with AsyncSession(engine) as session:
        for pid, name, registered, status, created in platforms:
            await session.exec(
                insert(Platform).values(
                    id=pid,
                    name=name,
                    registered=registered,
                    status=status,
                    initiated_by="party",
                    endpoints=[],
                    created_at=created,
                    updated_at=created,
                )
            )
        for platform_id, role, cc, party in roles:
            await session.exec(
                insert(PlatformRole).values(
                    platform_id=platform_id,
                    role=role,
                    country_code=cc,
                    party_id=party,
                    business_details={},
                )
            )
        await session.commit()

    await asyncio.to_thread(upgrade_to_head, settings)
    async with AsyncSession(engine) as session:
        kept = {
            (r.platform_id, r.role, r.country_code, r.party_id)
            for r in (await session.exec(select(PlatformRole))).all()
        }
        assert kept == {
            (1, "CPO", "NL", "ACP"),
            (2, "EMSP", "NL", "FFF"),
            (5, "CPO", "NL", "BBB"),
            (5, "EMSP", "NL", "BBB"),
        }
        owners = {
            (p.platform_id, p.country_code, p.party_id)
            for p in (await session.exec(select(PlatformParty))).all()
        }
        assert owners == {(1, "NL", "ACP"), (2, "NL", "FFF"), (5, "NL", "BBB")}
        status = {p.id: p.status for p in (await session.exec(select(Platform))).all()}
        assert status == {
            1: "CONNECTED",
            2: "CONNECTED",
            3: "SUSPENDED",
            4: "SUSPENDED",
            5: "CONNECTED",
        }

    # From now on the database itself refuses a second platform under a held party id, and a
    # role without its platform's party id.
    for row in (
        PlatformParty(platform_id=2, country_code="NL", party_id="ACP"),
        PlatformRole(platform_id=2, role="EMSP", country_code="NL", party_id="ACP"),
        PlatformRole(platform_id=3, role="EMSP", country_code="NL", party_id="ZZZ"),
    ):
        async with AsyncSession(engine) as session:
            session.add(row)
            with pytest.raises(IntegrityError):
                await session.commit()
    await engine.dispose()
