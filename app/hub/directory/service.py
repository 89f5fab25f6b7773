"""A per-instance cache of what every request reads of the parties, never used stale.

Authentication (the platform behind a token, its roles) and routing (a receiver's platform and
role, the receivers of a broadcast) read rows that change rarely: at a registration, a token
rotation, a suspension, a platform going OFFLINE. Each instance keeps what it read, tagged with
the value of ``parties_version``, which database triggers raise in every transaction that
changes those rows (migration 0018), whoever writes them. Each unit of work reads that one row
(a primary-key lookup) before using the cache; a different value empties it. So a token revoked
or rotated through instance A, the command line or plain SQL is refused by instance B on its
next request, with no message between instances to lose.

The version is read before the rows it tags: a change committed between the two makes the
entry look older than it is (dropped at the next check), never newer.

Entries are kept as detached snapshots; callers get copies, so nothing one request does to its
objects reaches another request.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from typing import Any, TypeVar

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import detached
from app.core.sqlite_driver import quick
from app.hub.directory.models import PartiesVersion
from app.hub.parties.models import Platform, PlatformRole

M = TypeVar("M", bound=SQLModel)

_VERSION_KEY = "voltroam.parties_version"
# Read by every unit of work: in the event loop's thread on SQLite (app/core/sqlite_driver.py).
_VERSION = quick(
    select(PartiesVersion.__table__.c.value).where(  # type: ignore[attr-defined]
        PartiesVersion.__table__.c.id == 1  # type: ignore[attr-defined]
    )
)


class Directory:
    """The cache of one database (one engine): entries of one version of the parties."""

    def __init__(self) -> None:
        self.version = -1
        self.entries: dict[Hashable, Any] = {}

    def at(self, version: int) -> View:
        if version > self.version:
            self.entries = {}
            self.version = version
        return View(self, version)


class View:
    """The cache as one unit of work may use it: at the version it read. (A unit of work that
    read an older version than another one since, in a transaction begun earlier, neither reads
    nor fills it.)"""

    def __init__(self, directory: Directory, version: int) -> None:
        self.directory = directory
        self.version = version

    def get(self, key: Hashable) -> Any:
        if self.directory.version != self.version:
            return None
        return self.directory.entries.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        # Read after the version was: at least as new as it.
        if self.directory.version == self.version:
            self.directory.entries[key] = value


_directories: weakref.WeakKeyDictionary[Engine, Directory] = weakref.WeakKeyDictionary()


async def directory(session: AsyncSession) -> View | None:
    """The cache, valid for this unit of work (None when the session has no engine)."""
    bind = session.bind
    engine = getattr(bind, "sync_engine", bind)
    if not isinstance(engine, Engine):
        return None
    version = session.info.get(_VERSION_KEY)
    if version is None:
        # On the session's connection, past the ORM's execute (a plain Core statement).
        connection = await session.connection()
        version = (await connection.execute(_VERSION)).scalar_one()
        session.info[_VERSION_KEY] = version
    cache = _directories.get(engine)
    if cache is None:
        cache = _directories[engine] = Directory()
    return cache.at(int(version))


def _forget_version(session: Session, *_args: Any) -> None:
    # The next unit of work of this session reads the version again.
    session.info.pop(_VERSION_KEY, None)


# Whenever a transaction ends (commit, rollback, close), savepoints included.
event.listen(Session, "after_transaction_end", _forget_version)


def snapshot(row: M) -> M:
    """A detached copy of a row, to keep in the cache or to hand out of it. Read from the
    row's ``__dict__`` when it holds every column (a loaded row, a snapshot): the instrumented
    getattr per column cost more than the copy itself."""
    columns = _columns(type(row))
    values = row.__dict__
    try:
        copied = {c: values[c] for c in columns}
    except KeyError:
        copied = {c: getattr(row, c) for c in columns}
    return detached(type(row), copied)


_COLUMNS: dict[type[SQLModel], tuple[str, ...]] = {}


def _columns(model: type[SQLModel]) -> tuple[str, ...]:
    columns = _COLUMNS.get(model)
    if columns is None:
        table = getattr(model, "__table__")  # noqa: B009 - a table model's
        columns = _COLUMNS[model] = tuple(c.key for c in table.columns)
    return columns


def platform_copy(platform: Platform) -> Platform:
    return snapshot(platform)


def role_copies(roles: list[PlatformRole]) -> list[PlatformRole]:
    return [snapshot(r) for r in roles]


async def platform_by_id(session: AsyncSession, platform_id: int) -> Platform | None:
    """A platform (a copy), from the cache when it is current."""
    view = await directory(session)
    key = ("platform", platform_id)
    cached = view.get(key) if view is not None else None
    if cached is not None:
        return platform_copy(cached)
    platform = await session.get(Platform, platform_id, populate_existing=True)
    if platform is not None and view is not None:
        view.put(key, snapshot(platform))
    return platform
