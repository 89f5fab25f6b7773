"""The voltroam command."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.admin_auth import verify_admin_token
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import RunningServer, free_port, invite, running_hub, token_header

runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    return {"DATABASE_URL": database_url, "SECRET_KEY": "cli-secret", "LOG_LEVEL": "WARNING"}


def test_migrate_invite_and_list(cli_env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["migrate"], env=cli_env)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["party", "invite", "Example CPO"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert re.search(r"Token A:\s+[A-Za-z0-9_-]{43}", result.output)
    assert "http://127.0.0.1:8080/ocpi/versions" in result.output
    result = runner.invoke(cli, ["party", "list"], env=cli_env)
    assert result.exit_code == 0 and "PLANNED" in result.output and "Example CPO" in result.output


def test_admin_token_is_a_valid_jwt(cli_env: dict[str, str]) -> None:
    result = runner.invoke(cli, ["admin-token"], env=cli_env)
    assert result.exit_code == 0
    assert verify_admin_token(Settings(secret_key="cli-secret"), result.output.strip()) == "admin"


def test_secret_key_file_is_created_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SECRET_KEY the key of a SQLite database is kept beside it (x.db: x.key)."""
    monkeypatch.chdir(tmp_path)
    env = {"SECRET_KEY": "", "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'x.db'}"}
    (tmp_path / "data").mkdir()
    first = runner.invoke(cli, ["admin-token"], env=env)
    second = runner.invoke(cli, ["admin-token"], env=env)
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    key_file = tmp_path / "data" / "x.key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "voltroam.key").exists()
    settings = Settings(secret_key=key_file.read_text().strip())
    assert verify_admin_token(settings, first.output.strip())
    assert verify_admin_token(settings, second.output.strip())


def test_openapi_command_writes_the_document(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    result = runner.invoke(cli, ["openapi", "--output", str(out)], env={"SECRET_KEY": "x"})
    assert result.exit_code == 0
    assert json.loads(out.read_text()) == create_app(Settings(secret_key="x")).openapi()


async def test_party_connect(
    cli_env: dict[str, str], hub: RunningServer, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    """`voltroam party connect` makes the running hub on the same database register with another
    hub (the CLI performs the handshake; the serving instance answers the callback)."""
    token_a = await invite(http, hub, "CLI hub")
    closed = f"http://127.0.0.1:{free_port()}/versions"
    own_db = f"sqlite:///{tmp_path / 'own.db'}"
    async with running_hub(own_db, hub_party_id="CLI") as own:
        env = {
            **cli_env,
            "DATABASE_URL": own_db,
            "HUB_PARTY_ID": "CLI",
            "PUBLIC_URL": own.base_url,
            "SECRET_KEY": "test-secret-key",  # the serving instance's key
        }
        failed = await asyncio.to_thread(
            runner.invoke, cli, ["party", "connect", closed, "--token-a", token_a], env=env
        )
        assert failed.exit_code == 1 and "3001" in failed.output
        ok = await asyncio.to_thread(
            runner.invoke,
            cli,
            ["party", "connect", hub.versions_url, "--token-a", token_a],
            env=env,
        )
        assert ok.exit_code == 0, ok.output
        assert "HUB NL*VRH" in ok.output
    assert (await http.get(hub.versions_url, headers=token_header(token_a))).status_code == 401


async def test_party_sync_shows_progress_and_stores(
    cli_env: dict[str, str], database_url: str, http: httpx.AsyncClient
) -> None:
    """`voltroam party sync` pulls a CPO's Locations and Tariffs page by page, saying so."""
    from sqlalchemy import func
    from sqlmodel import select

    from app.core.admin_auth import issue_admin_token
    from app.hub.store.models import OcpiObject
    from tests.conftest import running_party
    from tests.hub.network import CPO_ENDPOINTS, location, register, tariff, wait_for
    from tests.peers import FakeParty

    env = {**cli_env, "SECRET_KEY": "test-secret-key"}  # the serving instance's key
    async with running_hub(database_url) as hub:
        cpo = FakeParty(roles=[("CPO", "NL", "CPA")], endpoints=CPO_ENDPOINTS, page_size=10)
        async with running_party(cpo):
            await register(http, hub, cpo)
            # The pull after registration finds nothing; then the CPO gets its objects.
            await wait_for(lambda: len([c for c in cpo.calls if c.path.endswith("tariffs")]) == 1)
            cpo.objects = {
                "locations": [location(f"S{i:02}", minutes=i) for i in range(35)]
                + [location("FOREIGN", cc="FR", pid="ABC")],
                "tariffs": [tariff(f"T{i}") for i in range(3)],
            }
            assert hub.settings is not None
            admin = {"Authorization": f"Bearer {issue_admin_token(hub.settings)}"}
            platforms = (await http.get(f"{hub.base_url}/admin/platforms", headers=admin)).json()
            platform_id = str(platforms[0]["id"])

            result = await asyncio.to_thread(
                runner.invoke, cli, ["party", "sync", platform_id], env=env
            )
            assert result.exit_code == 0, result.output
            lines = result.output.splitlines()
            assert lines[0].startswith(f"Pulling Locations and Tariffs from platform {platform_id}")
            assert lines[1:8] == [
                "locations: page 1, 10/36 objects",
                "locations: page 2, 20/36 objects",
                "locations: page 3, 30/36 objects",
                "locations: page 4, 36/36 objects",
                "locations: done, 4 pages, 36/36 objects (35 stored, 1 ignored)",
                "tariffs: page 1, 3/3 objects",
                "tariffs: done, 1 page, 3/3 objects (3 stored, 0 ignored)",
            ]
            assert lines[8] == (
                f"Pulled from platform {platform_id}: locations 35 stored, 1 ignored;"
                " tariffs 3 stored, 0 ignored"
            )
            ctx = hub.app.state.hub
            async with ctx.sessions() as session:
                stored = await session.exec(
                    select(OcpiObject.module, func.count()).group_by(OcpiObject.module)
                )
                assert dict(stored.all()) == {"locations": 35, "tariffs": 3}

        # The partner is gone now.
        result = await asyncio.to_thread(
            runner.invoke, cli, ["party", "sync", platform_id], env=env
        )
        assert result.exit_code == 1
        assert "locations: failed, 0 pages, 0 objects (0 stored, 0 ignored)" in result.output
        assert f"The pull from platform {platform_id} failed" in result.output
        assert "ConnectError" in result.output

    result = await asyncio.to_thread(runner.invoke, cli, ["party", "sync", "999"], env=env)
    assert result.exit_code == 1
    assert "Unknown platform 999" in result.output


def test_sync_progress_rewrites_one_line_on_a_terminal() -> None:
    import io

    from app.cli import SyncProgress
    from app.hub.sync import PullProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    shown = SyncProgress(out)
    shown(PullProgress("locations", 1, 100, 250, 100, 0))
    shown(PullProgress("locations", 2, 200, 250, 200, 0))
    shown(PullProgress("locations", 3, 250, None, 249, 1, done=True))
    assert out.getvalue() == (
        "\rlocations: page 1, 100/250 objects"
        "\rlocations: page 2, 200/250 objects"
        "\rlocations: done, 3 pages, 250 objects (249 stored, 1 ignored)\n"
    )


# --- the command as an operator runs it: a subprocess, in a directory of its own ---------------


async def test_invite_and_connect_give_the_url_of_the_running_serve(
    database_url: str, tmp_path: Path
) -> None:
    """`voltroam serve --port P` in one shell, `party invite` and `party connect` in another
    (without PUBLIC_URL): both hand out the versions URL on port P, where the hub is."""
    from tests.cli_process import clean_env, serving, voltroam
    from tests.conftest import running_party
    from tests.peers import FakeParty

    port = free_port()
    env = clean_env(DATABASE_URL=database_url, SECRET_KEY="cli-secret")
    serve_dir, shell_dir = tmp_path / "serve", tmp_path / "shell"
    serve_dir.mkdir()
    shell_dir.mkdir()
    versions_url = f"http://127.0.0.1:{port}/ocpi/versions"
    async with serving("--port", str(port), port=port, cwd=serve_dir, env=env):
        invited = await voltroam("party", "invite", "Example CPO", cwd=shell_dir, env=env)
        assert invited.code == 0, invited.stderr
        assert f"Versions URL:  {versions_url}" in invited.stdout
        assert "8080" not in invited.stdout + invited.stderr

        emsp = FakeParty(roles=[("EMSP", "DE", "EM9")], endpoints=[])
        emsp.accepted_tokens.add("their-token-a")
        async with running_party(emsp), httpx.AsyncClient() as http:
            connected = await voltroam(
                "party",
                "connect",
                f"{emsp.base_url}/versions",
                "--token-a",
                "their-token-a",
                cwd=shell_dir,
                env=env,
            )
            assert connected.code == 0, connected.stderr
            assert emsp.registered_hub is not None
            assert emsp.registered_hub["url"] == versions_url
            # The partner can use what it was given.
            reply = await http.get(versions_url, headers=token_header(emsp.registered_hub["token"]))
            assert reply.status_code == 200 and reply.json()["status_code"] == 1000


async def test_without_public_url_or_a_serve_the_cli_warns(
    database_url: str, tmp_path: Path
) -> None:
    from tests.cli_process import clean_env, voltroam

    env = clean_env(DATABASE_URL=database_url, SECRET_KEY="cli-secret")
    invited = await voltroam("party", "invite", "Example CPO", cwd=tmp_path, env=env)
    assert invited.code == 0, invited.stderr
    assert "http://127.0.0.1:8080/ocpi/versions" in invited.stdout
    assert "PUBLIC_URL" in invited.stderr and "http://127.0.0.1:8080" in invited.stderr
    assert "warning" in invited.stderr.lower()

    env["PUBLIC_URL"] = "https://hub.example.com"
    invited = await voltroam("party", "invite", "Example eMSP", cwd=tmp_path, env=env)
    assert invited.code == 0, invited.stderr
    assert "Versions URL:  https://hub.example.com/ocpi/versions" in invited.stdout
    assert "warning" not in invited.stderr.lower()


async def test_the_cli_in_another_directory_uses_the_hubs_key(tmp_path: Path) -> None:
    """serve in one directory, `party connect` in another, no SECRET_KEY anywhere: both use the
    key beside the SQLite database, so the hub can use the token the CLI stored."""
    from tests.cli_process import clean_env, serving, voltroam
    from tests.conftest import running_party
    from tests.hub.network import CPO_ENDPOINTS, EMSP_ENDPOINTS, location, wait_for
    from tests.peers import FakeParty

    data, serve_dir, shell_dir = tmp_path / "data", tmp_path / "serve", tmp_path / "shell"
    for folder in (data, serve_dir, shell_dir):
        folder.mkdir()
    port = free_port()
    env = clean_env(DATABASE_URL=f"sqlite:///{data / 'hub.db'}", DELIVERY_POLL_SECONDS="0.1")
    emsp = FakeParty(roles=[("EMSP", "DE", "EM9")], endpoints=EMSP_ENDPOINTS)
    emsp.accepted_tokens.add("their-token-a")
    cpo = FakeParty(roles=[("CPO", "NL", "CPA")], endpoints=CPO_ENDPOINTS)
    async with (
        serving("--port", str(port), port=port, cwd=serve_dir, env=env),
        running_party(emsp),
        running_party(cpo),
        httpx.AsyncClient(timeout=10) as http,
    ):
        connected = await voltroam(
            "party", "connect", f"{emsp.base_url}/versions", "--token-a", "their-token-a",
            cwd=shell_dir, env=env,
        )  # fmt: skip
        assert connected.code == 0, connected.stderr
        invited = await voltroam("party", "invite", "CPO", cwd=shell_dir, env=env)
        assert invited.code == 0, invited.stderr
        token_a = re.search(r"Token A:\s+(\S+)", invited.stdout)
        assert token_a is not None
        answer = await cpo.register_with(
            http, f"http://127.0.0.1:{port}/ocpi/versions", token_a.group(1)
        )
        assert answer.json()["status_code"] == 1000, answer.text
        assert cpo.hub_token is not None
        pushed = await http.put(
            f"http://127.0.0.1:{port}/ocpi/2.2.1/receiver/locations/NL/CPA/LOC1",
            json=location(),
            headers=token_header(cpo.hub_token),
        )
        assert pushed.json()["status_code"] == 1000
        # The hub presents the token the CLI stored: it decrypts it with the same key.
        await wait_for(lambda: len(emsp.pushes("locations", "PUT")) == 1)
    assert (data / "hub.key").exists()
    assert not (serve_dir / "voltroam.key").exists()
    assert not (shell_dir / "voltroam.key").exists()


async def test_a_database_with_tokens_refuses_a_missing_or_other_key(
    database_url: str, tmp_path: Path
) -> None:
    from tests.cli_process import clean_env, voltroam
    from tests.conftest import running_party
    from tests.peers import FakeParty

    emsp = FakeParty(roles=[("EMSP", "DE", "EM9")], endpoints=[])
    emsp.accepted_tokens.add("their-token-a")
    env = clean_env(DATABASE_URL=database_url, SECRET_KEY="the-key")
    async with running_party(emsp):
        connected = await voltroam(
            "party", "connect", f"{emsp.base_url}/versions", "--token-a", "their-token-a",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert connected.code == 0, connected.stderr
    listed = await voltroam("party", "list", cwd=tmp_path, env=env)
    assert listed.code == 0 and "EM9" in listed.stdout

    def refused(done: Any) -> bool:
        return (
            done.code == 2
            and "SECRET_KEY" in done.stderr
            and "SECRET_KEY_FILE" in done.stderr
            and "Traceback" not in done.stderr
        )

    other = {**env, "SECRET_KEY": "another-key"}
    missing = {k: v for k, v in env.items() if k != "SECRET_KEY"}
    port = str(free_port())
    for variant in (other, missing):
        for args in (
            ["party", "list"],
            ["party", "invite", "X"],
            ["admin-token"],
            ["charger", "list"],
            ["serve", "--port", port],
        ):
            done = await voltroam(*args, cwd=tmp_path, env=variant)
            assert refused(done), (args, done)
    # No key was made up on the way (SQLite: none beside the database, none here).
    assert not list(tmp_path.glob("*.key"))


async def test_postgresql_takes_the_key_only_from_the_settings(
    database_url: str, tmp_path: Path
) -> None:
    """A fresh PostgreSQL database gets no generated key: it is shared by instances and
    commands on other machines, which could not have the same file."""
    from tests.cli_process import clean_env, voltroam
    from tests.conftest import USE_POSTGRES

    if not USE_POSTGRES:
        pytest.skip("a PostgreSQL database (DATABASE_URL=postgresql://...)")
    env = clean_env(DATABASE_URL=database_url)
    done = await voltroam("party", "list", cwd=tmp_path, env=env)
    assert done.code == 2 and "SECRET_KEY" in done.stderr and "SECRET_KEY_FILE" in done.stderr
    env["SECRET_KEY_FILE"] = str(tmp_path / "missing.key")
    done = await voltroam("party", "list", cwd=tmp_path, env=env)
    assert done.code == 2 and "missing.key" in done.stderr
    assert not (tmp_path / "missing.key").exists()
