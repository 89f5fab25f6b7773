"""The schema changes only through Alembic: the models and the migrations must agree."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.core.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from app.core.settings import Settings


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
