"""Async database engine and per-request sessions.

The schema is owned by Alembic (``migrations/``); nothing here creates tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.settings import Settings


def make_engine(settings: Settings) -> AsyncEngine:
    url = settings.async_database_url
    # No pre-ping by default: it costs a BEGIN, a ping and a ROLLBACK on every checkout, i.e.
    # several per request. Without it SQLAlchemy still notices a dropped connection when it
    # fails (one request fails, the pool is replaced); recycling keeps connections younger than
    # the idle timeouts of the network in between.
    kwargs: dict[str, Any] = {
        "pool_pre_ping": settings.database_pre_ping,
        "pool_recycle": settings.database_pool_recycle_seconds,
    }
    if url.startswith("sqlite"):
        # One file shared by request handlers and workers: wait for locks instead of failing.
        kwargs = {"connect_args": {"timeout": 30}}
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def session_scope(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with factory() as session:
        yield session


M = TypeVar("M", bound=SQLModel)


def detached(model: type[M], values: Mapping[str, Any]) -> M:
    """A row of ``model`` as if read from the database and detached from its session, built
    without the model's constructor (a table model's costs a few hundred microseconds, this a
    tenth of it): ``values`` must hold every column, the primary key included."""
    row: M = model._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    row.__dict__.update(values)
    make_transient_to_detached(row)
    return row
