"""The real `voltroam` command, run as a subprocess (as an operator runs it in another shell).

The child gets a clean environment: none of the hub's settings leak in from the test run (the
suite's own DATABASE_URL, for one), only what the test passes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
_SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {"OCPP_ENABLED"}


def clean_env(**values: str) -> dict[str, str]:
    """os.environ without any hub setting, plus ``values`` (names in upper case)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in _SETTING_NAMES and not k.upper().startswith(("OCPP_", "STRIPE_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env["LOG_LEVEL"] = "WARNING"
    env.update(values)
    return env


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str


async def voltroam(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> Done:
    """Run ``voltroam ARGS`` in ``cwd`` and wait for it (the event loop keeps serving)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Done(process.returncode, out.decode(), err.decode())


@asynccontextmanager
async def serving(
    *args: str, port: int, cwd: Path, env: dict[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``voltroam serve ARGS`` as a subprocess, until /readyz answers 200; stopped afterwards."""
    log = (cwd / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        *args,
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.returncode is not None:
                    output = (cwd / "serve.log").read_text()
                    raise AssertionError(f"voltroam serve exited: {output}")
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("voltroam serve did not become ready")
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
