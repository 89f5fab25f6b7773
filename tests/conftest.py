"""Shared fixtures: databases (SQLite, or PostgreSQL when DATABASE_URL says so) and real servers.

Every hub under test is a real uvicorn server on 127.0.0.1, so partners talk to it over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.admin_auth import issue_admin_token
from app.core.settings import Settings, to_async_url
from app.main import create_app
from app.ocpi.auth import encode_token

POSTGRES_URL = os.environ.get("DATABASE_URL", "")
USE_POSTGRES = POSTGRES_URL.startswith("postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(to_async_url(url))
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    """The hub-under-test's database: a fresh PostgreSQL schema or a fresh SQLite file."""
    if USE_POSTGRES:
        await reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'hub.db'}"


@dataclass
class RunningServer:
    app: FastAPI
    base_url: str
    settings: Settings | None = None

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"


@asynccontextmanager
async def serve(app: FastAPI, port: int) -> AsyncIterator[None]:
    """Run ``app`` on 127.0.0.1:port in this event loop until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    # Up to 30 s: migrating a fresh database on a loaded machine has taken more than 5.
    for _ in range(3000):
        if server.started:
            break
        if task.done():
            task.result()  # raises the startup error
        await asyncio.sleep(0.01)
    else:  # pragma: no cover
        raise RuntimeError("server did not start")
    try:
        yield
    finally:
        server.should_exit = True
        await task


def hub_settings(database_url: str, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": port,
        "public_url": f"http://127.0.0.1:{port}",
        "secret_key": "test-secret-key",
        "ocpi_timeout_seconds": 5.0,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_hub(database_url: str, **overrides: Any) -> AsyncIterator[RunningServer]:
    port = free_port()
    settings = hub_settings(database_url, port, **overrides)
    app = create_app(settings)
    async with serve(app, port):
        yield RunningServer(app=app, base_url=settings.base_url, settings=settings)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[RunningServer]:
    async with running_hub(database_url) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def admin_headers(hub: RunningServer) -> dict[str, str]:
    assert hub.settings is not None
    return {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": encode_token(token)}


@asynccontextmanager
async def running_party(party: Any) -> AsyncIterator[Any]:
    """Serve a tests.peers.FakeParty on a free port; its base_url is set before it starts."""
    port = free_port()
    party.base_url = f"http://127.0.0.1:{port}"
    async with serve(party.app, port):
        try:
            yield party
        finally:
            # Requests the party still holds are answered, so that its server can stop.
            release = getattr(party, "release", None)
            if release is not None:
                release.set()


async def invite(http: httpx.AsyncClient, hub: RunningServer, name: str = "Partner") -> str:
    assert hub.settings is not None
    headers = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
    response = await http.post(
        f"{hub.base_url}/admin/invitations", json={"name": name}, headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["versions_url"] == hub.versions_url
    return str(body["token_a"])
