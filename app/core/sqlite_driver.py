"""SQLAlchemy's aiosqlite driver, with one trip to the connection's thread per statement.

aiosqlite runs each call on the sqlite3 connection in a thread of its own; SQLAlchemy's adapter
makes four such calls per statement (open a cursor, execute, fetch the rows, close the cursor)
and one more per COMMIT or ROLLBACK. Each trip is a hand-over to that thread and a wake-up of the
event loop when it answers (a write to the loop's self-pipe), which cost more than the
primary-key reads that most requests make: the trips were about a quarter of the hub's CPU on a
GET of one Location.

Here a statement is one trip: the cursor is opened, executed, read to the end and closed in the
connection's thread, and the rows come back with its description, rowcount and lastrowid (what
the adapter read of the cursor after the fetch). A COMMIT or ROLLBACK with no transaction open
(pysqlite begins one before the first write only, so a unit of work that only read has none) is
not sent: sqlite3 would do nothing with it. All calls on the sqlite3 connection stay in its
thread, in the order they are made. Server-side cursors (``stream``) are SQLAlchemy's own.

A statement marked with :func:`quick` (a read or write of a few rows by key) runs in the event
loop's own thread when its connection is idle: sqlite3 executes it in tens of microseconds, less
than the hand-over to the connection's thread and back, and far less than that hand-over costs
when the two cores are busy (the connection's thread waiting for a core, then for the GIL, then
for the loop to read its answer: a millisecond and more per trip on the bench machine). Waiting
must never block the loop, so such a statement runs with SQLite's busy timeout at zero: when the
database is locked (another connection is writing), nothing was done and it takes the
connection's thread as any statement does, where the busy timeout waits.

A statement marked with :func:`committing` also commits its transaction in its own trip, once
its rows are read: the caller's ``commit()`` that follows finds no transaction open and costs
nothing. For a unit of work of one write (a callback opened while its command is forwarded,
the first result of a command), that is one trip instead of two, on a path whose caller waits
for the commit. On PostgreSQL the mark is a comment and the commit is the caller's, as always.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.util.concurrency import await_

S = TypeVar("S")

_Ran = tuple[Any, int, Any, list[Any]]

# The comment :func:`committing` puts into a statement (after its verb: ``INSERT /* ... */ INTO``).
COMMIT_MARK = "/* voltroam: commit in this trip */"


QUICK_MARK = "/* voltroam: quick */"


def quick(statement: S) -> S:
    """``statement``, marked to run in the event loop's thread when its SQLite connection is
    idle (see the module's docstring). Only for statements that read or write a few rows
    through an index: the loop does nothing else while one runs."""
    return statement.prefix_with(QUICK_MARK)  # type: ignore[attr-defined]


def _busy(error: sqlite3.OperationalError) -> bool:
    # SQLITE_BUSY or SQLITE_LOCKED, extended codes included.
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in (5, 6)


def committing(statement: S) -> S:
    """``statement`` (an INSERT, UPDATE or DELETE), marked to end its transaction with a COMMIT
    in the same trip to the SQLite connection's thread. Only for a statement that is the last of
    its unit of work: everything written before it in the transaction is committed with it. The
    caller still commits: that ends SQLAlchemy's transaction, and gives this process's SQLite
    write turn (app/core/db.py) to the next writer."""
    return statement.prefix_with(COMMIT_MARK)  # type: ignore[attr-defined]


def _execute(cursor: sqlite3.Cursor, operation: str, parameters: Any, many: bool) -> _Ran:
    """Execute on ``cursor`` and read it to the end."""
    if many:
        cursor.executemany(operation, parameters)
    elif parameters is None:
        cursor.execute(operation)
    else:
        cursor.execute(operation, parameters)
    description = cursor.description
    rows = cursor.fetchall() if description else []
    return description, cursor.rowcount, cursor.lastrowid, rows


def _run(
    adapted: OneTripConnection,
    trip: int,
    connection: sqlite3.Connection,
    operation: str,
    parameters: Any,
    many: bool,
) -> _Ran:
    """In the connection's thread: the whole life of one cursor."""
    cursor = connection.cursor()
    try:
        ran = _execute(cursor, operation, parameters, many)
        if COMMIT_MARK in operation and connection.in_transaction:
            connection.commit()
        return ran
    finally:
        cursor.close()
        adapted._finished = trip


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement costs one trip to the connection's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # (No cursor is opened here: ``_run`` opens and closes its own.)
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._rows: collections.deque[Any] = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: Any = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        # The rows are in memory already and the sqlite3 cursor is closed.
        return None

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._send(operation, parameters, False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._send(operation, seq_of_parameters, True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _send(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: Any = self._connection  # an aiosqlite.Connection
        adapted: Any = self._adapt_connection
        if QUICK_MARK in operation and adapted._idle():
            here = adapted._inline(operation, parameters, many)
            if here is not None:
                self._description, self._rowcount, self._lastrowid, rows = here
                self._rows = collections.deque(rows)
                if adapted._commit_left:
                    # Its COMMIT found the database locked: it waits in the connection's thread.
                    adapted._commit_left = False
                    async with adapted._execute_mutex:
                        await connection.commit()
                return
        async with adapted._execute_mutex:
            adapted._queued += 1
            ran: _Ran = await connection._execute(
                _run, adapted, adapted._queued, connection._conn, operation, parameters, many
            )
        self._description, self._rowcount, self._lastrowid, rows = ran
        self._rows = collections.deque(rows)

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        rows = self._rows
        count = min(self._arraysize if size is None else size, len(rows))
        return [rows.popleft() for _ in range(count)]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    # Statements sent to the connection's thread, and the last one it finished (each written
    # by one thread only): a statement whose caller was cancelled may still be running there.
    # The busy timeout the connection was opened with (ms), restored after a quick statement;
    # whether a quick statement's COMMIT is still to be made (in the connection's thread).
    __slots__ = ("_busy_ms", "_commit_left", "_finished", "_queued")

    def __init__(self, dbapi: Any, connection: Any, busy_ms: int = 5000) -> None:
        super().__init__(dbapi, connection)
        self._queued = 0
        self._finished = 0
        self._busy_ms = busy_ms
        self._commit_left = False

    def _idle(self) -> bool:
        """Nothing of this connection is under way in its thread (every call on it is awaited
        before the next is made, except a statement whose caller was cancelled)."""
        return self._finished == self._queued and not self._execute_mutex.locked()

    def _inline(self, operation: str, parameters: Any, many: bool) -> _Ran | None:
        """Run a quick statement here, in the loop's thread, without waiting for a lock: its
        result, or None when the database was locked before it did anything (then it goes to
        the connection's thread). A COMMIT (``committing``) that finds it locked is left to
        the caller to make there (``_commit_left``)."""
        connection: sqlite3.Connection | None = self._connection._connection
        if connection is None:
            return None
        connection.execute("PRAGMA busy_timeout = 0")
        try:
            cursor = connection.cursor()
            try:
                try:
                    ran = _execute(cursor, operation, parameters, many)
                except sqlite3.OperationalError as error:
                    # Locked at its first step, before it changed anything (a read in WAL mode
                    # is not refused by a writer; a write takes the lock first).
                    if _busy(error):
                        return None
                    raise
            finally:
                cursor.close()
            if COMMIT_MARK in operation and connection.in_transaction:
                try:
                    connection.commit()
                except sqlite3.OperationalError as error:
                    if not _busy(error):
                        raise
                    self._commit_left = True
            return ran
        finally:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_ms}")

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:
            return AsyncAdapt_aiosqlite_ss_cursor(self)
        return OneTripCursor(self)

    def _in_transaction(self) -> bool:
        # sqlite3_get_autocommit: a plain read, safe from this thread while no statement is
        # under way in the connection's thread (else the COMMIT or ROLLBACK is sent, and runs
        # after it, as every call did before).
        connection: sqlite3.Connection | None = self._connection._connection
        if connection is None or self._finished != self._queued:
            return True
        return connection.in_transaction

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy is given (``create_async_engine(..., module=...)``)."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        creator_fn = kw.pop("async_creator_fn", None)
        # sqlite3's own default busy timeout is 5 s.
        busy_ms = int(float(kw.get("timeout", 5.0)) * 1000)
        connection = creator_fn(*arg, **kw) if creator_fn else aiosqlite.connect(*arg, **kw)
        # (As SQLAlchemy's own: the connection's thread must not keep the process alive.)
        connection._thread.daemon = True
        return OneTripConnection(self, await_(connection), busy_ms)
