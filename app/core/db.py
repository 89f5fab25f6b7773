"""Async database engine and per-request sessions.

The schema is owned by Alembic (``migrations/``); nothing here creates tables.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.settings import Settings
from app.core.sqlite_driver import OneTripDbapi


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
        # One trip to aiosqlite's thread per statement (app/core/sqlite_driver.py).
        kwargs = {"connect_args": {"timeout": 30}, "module": OneTripDbapi()}
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Under WAL, NORMAL syncs the WAL at checkpoints, not at every commit. A committed
            # transaction is in the WAL file (written, in the OS's cache) before COMMIT returns,
            # so it survives the process being killed (kill -9, a crash): what NORMAL gives up
            # is the last transactions before a power loss or an OS crash, which roll back;
            # the database stays consistent. (sqlite.org/pragma.html#pragma_synchronous: "WAL
            # mode is always consistent with synchronous=NORMAL [...] durability is lost on
            # power loss".) PostgreSQL is the production database; SQLite serves one node.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        _serialise_sqlite_writes(engine)

    return engine


log = logging.getLogger("voltroam.db")

# SQLite has one write lock per database. Its connections wait for it by sleeping and retrying
# (busy_timeout: 1, 2, 5 ... 100 ms naps), so with many writers in flight a waiter may nap past
# several commits, and the writers that happen to retry at the right moment win: request
# handlers and the delivery worker starved one another (answers after seconds). Here the writes
# of this process take turns on an asyncio lock first (first come, first served, woken as soon
# as the previous writer commits), held from a transaction's first write statement until its
# COMMIT or ROLLBACK. SQLite's own lock still decides between processes.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")
# Longer than any write transaction should take; past it a writer goes on without its turn (and
# SQLite's busy_timeout applies), so that a task that already holds the lock on one connection
# and writes on a second one is not stuck forever.
_TURN_TIMEOUT = 30.0


class _WriteTurns:
    """The asyncio lock of one SQLite database in this process, and the connection holding it."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.holder: Any = None

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop, self.holder = asyncio.Lock(), loop, None
        return self._lock

    async def take(self, dbapi_connection: Any) -> None:
        lock = self.lock()
        try:
            # (asyncio.timeout, not wait_for: a waiter cancelled as the lock is handed to it
            # passes it on inside Lock.acquire, so a turn is never lost.)
            async with asyncio.timeout(_TURN_TIMEOUT):
                await lock.acquire()
        except TimeoutError:
            log.warning("no SQLite write turn after %s s; writing without it", _TURN_TIMEOUT)
            return
        self.holder = dbapi_connection

    def give_back(self, dbapi_connection: Any) -> None:
        if self.holder is not None and self.holder is dbapi_connection:
            self.holder = None
            if self._lock is not None and self._lock.locked():
                self._lock.release()


def _serialise_sqlite_writes(engine: AsyncEngine) -> None:
    turns = _WriteTurns()
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _take_turn(
        conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        if (
            turns.holder is not dbapi_connection
            and statement.lstrip()[:6].upper() in _WRITES
            and in_greenlet()
        ):
            await_only(turns.take(dbapi_connection))

    commit, rollback, close, terminate = (
        dialect.do_commit,
        dialect.do_rollback,
        dialect.do_close,
        dialect.do_terminate,
    )

    def _then_give_back(step: Any) -> Any:
        def wrapped(connection: Any) -> None:
            try:
                step(connection)
            finally:
                # (A pooled connection's proxy, or the driver's connection itself.)
                turns.give_back(getattr(connection, "dbapi_connection", connection))

        return wrapped

    # The transaction ends (or its connection does): the next writer's turn.
    dialect.do_commit = _then_give_back(commit)  # type: ignore[method-assign]
    dialect.do_rollback = _then_give_back(rollback)  # type: ignore[method-assign]
    dialect.do_close = _then_give_back(close)  # type: ignore[method-assign]
    dialect.do_terminate = _then_give_back(terminate)  # type: ignore[method-assign]


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
