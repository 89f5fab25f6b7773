"""Schema upgrades through Alembic: on start, and alone with ``voltroam migrate``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = settings.async_database_url
    return config


def upgrade_to_head(settings: Settings) -> None:
    """Blocking; runs its own event loop (call it from a thread when one is running)."""
    command.upgrade(alembic_config(settings), "head")


async def upgrade_to_head_async(settings: Settings) -> None:
    await asyncio.to_thread(upgrade_to_head, settings)


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
