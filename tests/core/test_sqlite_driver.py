"""SQLite: one trip to aiosqlite's thread per statement (app/core/sqlite_driver.py) keeps what
SQLAlchemy reads of a cursor: rows, rowcount, lastrowid, errors, transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import IntegrityError

from app.core.db import make_engine
from app.core.settings import Settings
from app.core.sqlite_driver import OneTripConnection, committing, quick

table_t = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("v", String))


async def test_statements_rows_counts_and_errors(tmp_path: Path) -> None:
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path}/d.db", secret_key="x"))
    try:
        async with engine.begin() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.dbapi_connection, OneTripConnection)
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
            inserted = await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
            assert inserted.lastrowid == 1
            await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
            updated = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
            assert updated.rowcount == 2
            returned = await conn.execute(text("DELETE FROM t WHERE id = 3 RETURNING v"))
            assert returned.all() == [("c!",)]
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
            assert rows == [(1, "a"), (2, "b!")]
            partial = await conn.execute(text("SELECT v FROM t ORDER BY id"))
            assert partial.fetchone() == ("a",)
            assert partial.fetchmany(5) == [("b!",)]
            assert partial.fetchone() is None
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        async with engine.connect() as conn:
            # A read opens no transaction: the ROLLBACK that ends it has nothing to undo.
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 2
            await conn.rollback()
            await conn.execute(text("INSERT INTO t (v) VALUES ('rolled back')"))
            await conn.rollback()
            await conn.execute(text("INSERT INTO t (v) VALUES ('kept')"))
            await conn.commit()
            values = (await conn.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all()
            assert values == ["a", "b!", "kept"]
    finally:
        await engine.dispose()


async def test_a_committing_statement_commits_its_transaction_in_its_trip(tmp_path: Path) -> None:
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path}/d.db", secret_key="x"))
    table = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"
    try:
        async with engine.begin() as conn:
            await conn.execute(text(table))
        insert_committing = committing(insert(table_t).returning(table_t.c.id))
        async with engine.connect() as writer, engine.connect() as reader:
            await writer.execute(text("INSERT INTO t (v) VALUES ('before')"))
            inserted = await writer.execute(insert_committing, {"v": "marked"})
            assert inserted.scalar_one() == 2
            # Committed with the statement, what the transaction wrote before it included:
            # another connection sees both rows before the writer's own commit.
            seen = (await reader.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all()
            assert seen == ["before", "marked"]
            raw = (await writer.get_raw_connection()).dbapi_connection
            assert isinstance(raw, OneTripConnection)
            assert not raw._in_transaction()
            await writer.commit()  # nothing left to commit: no trip
            # A marked statement that fails commits nothing: the transaction stays open and
            # the caller's rollback undoes what came before it.
            await writer.execute(text("INSERT INTO t (v) VALUES ('undone')"))
            with pytest.raises(IntegrityError):
                await writer.execute(insert_committing, {"v": "marked"})
            await writer.rollback()
            seen = (await reader.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all()
            assert seen == ["before", "marked"]
    finally:
        await engine.dispose()


async def test_a_quick_statement_runs_in_the_loop_and_never_blocks_it(tmp_path: Path) -> None:
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path}/d.db", secret_key="x"))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        quick_insert = quick(committing(insert(table_t).returning(table_t.c.id)))
        quick_read = quick(select(table_t.c.v).where(table_t.c.id == 1))
        async with engine.connect() as writer:
            raw = (await writer.get_raw_connection()).dbapi_connection
            assert isinstance(raw, OneTripConnection)
            trips = raw._queued
            assert (await writer.execute(quick_insert, {"v": "a"})).scalar_one() == 1
            assert not raw._in_transaction()  # committed with the INSERT
            await writer.commit()
            assert (await writer.execute(quick_read)).scalar_one() == "a"
            assert raw._queued == trips  # no trip to the connection's thread
            busy = (await writer.execute(text("PRAGMA busy_timeout"))).scalar_one()
            assert busy == 30000  # restored after each quick statement

            # Another process (here a connection of sqlite3's own) holds the write lock: the
            # quick INSERT does nothing in the loop and waits in its connection's thread; the
            # loop keeps running meanwhile.
            other = sqlite3.connect(tmp_path / "d.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO t (v) VALUES ('held')")
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            ticker = asyncio.create_task(tick())
            waiting = asyncio.create_task(writer.execute(quick_insert, {"v": "b"}))
            await asyncio.sleep(0.3)
            assert not waiting.done() and ticks >= 10
            other.execute("COMMIT")
            assert (await waiting).scalar_one() == 3
            await writer.commit()
            ticker.cancel()
            assert raw._queued == trips + 2  # the PRAGMA above, and the INSERT that waited
            values = [v for (v,) in other.execute("SELECT v FROM t ORDER BY id")]
            assert values == ["a", "held", "b"]
            other.close()
            # Errors are the driver's as ever, and leave the busy timeout as it was.
            with pytest.raises(IntegrityError):
                await writer.execute(quick_insert, {"v": "a"})
            await writer.rollback()
            assert (await writer.execute(text("PRAGMA busy_timeout"))).scalar_one() == 30000
    finally:
        await engine.dispose()
