"""Agreements managed by the admin API and the CLI; the matrix of pairs and their states."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agreements.network import agreed_network
from tests.cli_process import clean_env, voltroam


def _pairs(body: dict[str, object]) -> dict[tuple[str, str], dict[str, object]]:
    rows = body["agreements"]
    assert isinstance(rows, list)
    return {(r["cpo"], r["emsp"]): r for r in rows}


async def test_every_pair_is_listed_with_the_default(database_url: str) -> None:
    async with agreed_network(database_url) as net:
        body = await net.agreements()
        assert body["default"] == "open"
        pairs = _pairs(body)
        for cpo in ("NL*CPA", "BE*CPB"):
            for emsp in ("NL*EM1", "DE*EM2", "FR*EM3"):
                row = pairs[(cpo, emsp)]
                assert row["state"] == "active" and row["explicit"] is False
                assert row["modules"] is None


async def test_closed_default_lists_pairs_as_proposed(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        pairs = _pairs(await net.agreements())
        assert pairs[("NL*CPA", "DE*EM2")]["state"] == "proposed"


async def test_states_timestamps_and_who(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        [opened] = await net.agree("NL*CPA", "NL*EM1", "active", modules=["locations", "tariffs"])
        assert opened["state"] == "active" and opened["explicit"] is True
        assert opened["modules"] == ["locations", "tariffs"]
        assert opened["changed_by"] == "admin" and opened["activated_at"]
        [suspended] = await net.agree("nl*cpa", "NL*EM1", "suspended")
        assert suspended["state"] == "suspended" and suspended["suspended_at"]
        # Modules stay as they were when a change does not name them.
        assert suspended["modules"] == ["locations", "tariffs"]
        assert suspended["activated_at"] == opened["activated_at"]
        [ended] = await net.agree("NL*CPA", "NL*EM1", "ended")
        assert ended["state"] == "ended" and ended["ended_at"]
        pairs = _pairs(await net.agreements())
        assert pairs[("NL*CPA", "NL*EM1")]["state"] == "ended"
        assert pairs[("BE*CPB", "NL*EM1")]["state"] == "proposed"


async def test_a_whole_platform(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        platforms = (
            await net.http.get(f"{net.hub.base_url}/admin/platforms", headers=net.admin)
        ).json()
        em2 = next(p["id"] for p in platforms if any(r["party_id"] == "EM2" for r in p["roles"]))
        rows = await net.agree("NL*CPA", f"platform:{em2}", "active")
        assert [(r["cpo"], r["emsp"]) for r in rows] == [("NL*CPA", "DE*EM2")]


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"cpo": "NLCPA", "emsp": "NL*EM1", "state": "active"}, "CC*PID"),
        ({"cpo": "NL*CPA", "emsp": "platform:999", "state": "active"}, "no "),
        ({"cpo": "NL*EM1", "emsp": "NL*EM1", "state": "active"}, "itself"),
        ({"cpo": "NL*CPA", "emsp": "NL*EM1", "state": "gone"}, "state"),
        ({"cpo": "NL*CPA", "emsp": "NL*EM1", "state": "active", "modules": ["x"]}, "modules"),
    ],
)
async def test_bad_requests_are_422(database_url: str, body: dict[str, object], word: str) -> None:
    async with agreed_network(database_url) as net:
        response = await net.http.post(
            f"{net.hub.base_url}/admin/agreements", json=body, headers=net.admin
        )
        assert response.status_code == 422
        assert word in response.text
        unauthenticated = await net.http.post(f"{net.hub.base_url}/admin/agreements", json=body)
        assert unauthenticated.status_code == 401


async def test_cli_list_open_suspend_end(database_url: str, tmp_path: Path) -> None:
    async with agreed_network(database_url) as net:
        env = clean_env(
            DATABASE_URL=database_url, SECRET_KEY="test-secret-key", AGREEMENTS_DEFAULT="open"
        )

        async def run(*args: str, code: int = 0) -> str:
            done = await voltroam("agreement", *args, cwd=tmp_path, env=env)
            assert done.code == code, done.stdout + done.stderr
            return done.stdout + done.stderr

        listing = await run("list")
        assert "Default for pairs without an agreement: open" in listing
        assert "NL*CPA  DE*EM2  active     all modules  (default)" in listing
        assert "suspended" in await run("suspend", "NL*CPA", "DE*EM2")
        assert "ended" in await run("end", "BE*CPB", "FR*EM3")
        assert "active" in await run("open", "NL*CPA", "DE*EM2", "--modules", "tariffs,locations")
        listing = await run("list")
        assert "NL*CPA  DE*EM2  active     locations,tariffs  by cli:" in listing
        assert "BE*CPB  FR*EM3  ended" in listing
        assert "CC*PID" in await run("open", "NL*CPA", "nobody", code=2)
        # The running hub sees what the command changed.
        pairs = _pairs(await net.agreements())
        assert pairs[("BE*CPB", "FR*EM3")]["state"] == "ended"
