"""Schema upgrades through Alembic: on start, and alone with ``voltroam migrate``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.settings import Settings

# Alembic (with Mako: about 9 MiB resident) is imported by the function that needs it: a serving
# process whose schema was upgraded by `voltroam serve`'s child process never loads it.
if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(settings: Settings) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = settings.async_database_url
    return config


def upgrade_to_head(settings: Settings) -> None:
    """Blocking; runs its own event loop (call it from a thread when one is running)."""
    from alembic import command

    command.upgrade(alembic_config(settings), "head")


async def upgrade_to_head_async(settings: Settings) -> None:
    await asyncio.to_thread(upgrade_to_head, settings)


def head_revision(settings: Settings) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
