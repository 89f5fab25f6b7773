"""SQLite: this process's write transactions take turns (app/core/db.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from app.core.db import make_engine
from app.core.settings import Settings


async def test_concurrent_writers_all_commit_in_turn(tmp_path: Path) -> None:
    """Twenty writers at once, half of them rolling back: each turn is given back at COMMIT or
    ROLLBACK (a turn kept would stall the next writer), and no two write transactions overlap."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/turns.db", secret_key="x")
    engine = make_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, writer INTEGER)"))
            mode = (await conn.execute(text("PRAGMA synchronous"))).scalar_one()
        assert mode == 1  # NORMAL (under WAL)
        inside: list[int] = []
        overlaps: list[int] = []

        async def writer(n: int) -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT count(*) FROM t"))  # a read takes no turn
                await conn.execute(text("INSERT INTO t (writer) VALUES (:n)"), {"n": n})
                if inside:
                    overlaps.append(n)
                inside.append(n)
                await asyncio.sleep(0)  # other writers run meanwhile, and must wait
                await conn.execute(text("UPDATE t SET writer = :n WHERE writer = :n"), {"n": n})
                inside.remove(n)
                if n % 2:
                    await conn.rollback()
                else:
                    await conn.commit()

        await asyncio.gather(*(writer(n) for n in range(20)))
        assert overlaps == []
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT writer FROM t ORDER BY writer"))).scalars()
            assert list(rows) == list(range(0, 20, 2))
    finally:
        await engine.dispose()
