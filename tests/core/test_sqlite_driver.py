"""SQLite: one trip to aiosqlite's thread per statement (app/core/sqlite_driver.py) keeps what
SQLAlchemy reads of a cursor: rows, rowcount, lastrowid, errors, transactions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text
from sqlalchemy.exc import IntegrityError

from app.core.db import make_engine
from app.core.settings import Settings
from app.core.sqlite_driver import OneTripConnection, committing

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
