"""The browser test fixtures themselves: finding Chromium, artifact folders, the offline guard."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import chromium_path, is_external, watch_external_requests
from tests.conftest import RunningServer

if TYPE_CHECKING:
    from playwright.async_api import Browser


def test_chromium_path_prefers_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHROMIUM_PATH", "/opt/chromium/chrome")
    assert chromium_path() == "/opt/chromium/chrome"

    monkeypatch.delenv("CHROMIUM_PATH")
    fake = tmp_path / "chromium-browser"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert chromium_path() == str(fake)

    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert chromium_path() is None


def test_artifacts_is_an_empty_folder_named_after_the_test(artifacts: Path) -> None:
    assert artifacts.is_dir()
    assert artifacts.name == "test_artifacts_is_an_empty_folder_named_after_the_test"
    assert list(artifacts.iterdir()) == []


@pytest.mark.parametrize("name", ["a/b c"])
def test_artifacts_folder_of_a_parametrized_test_is_one_folder(artifacts: Path, name: str) -> None:
    assert artifacts.name == "test_artifacts_folder_of_a_parametrized_test_is_one_folder[a_b_c]"


def test_artifacts_root_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "shots"))
    stale = tmp_path / "shots" / request.node.name / "old.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    folder = request.getfixturevalue("artifacts")
    assert folder == tmp_path / "shots" / request.node.name
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "external"),
    [
        ("http://127.0.0.1:8080/docs", False),
        ("http://localhost/x", False),
        ("ws://[::1]:9000/ocpp/CP1", False),
        ("data:image/png;base64,AAAA", False),
        ("blob:http://127.0.0.1:8080/1234", False),
        ("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css", True),
        ("https://fonts.googleapis.com/css?family=Roboto", True),
        ("wss://example.com/socket", True),
        ("http://127.0.0.2/", True),
    ],
)
def test_is_external(url: str, external: bool) -> None:
    assert is_external(url) is external


async def test_external_requests_are_recorded_and_aborted(
    hub: RunningServer, browser: Browser
) -> None:
    page = await browser.new_page()
    external = await watch_external_requests(page)
    await page.goto(f"{hub.base_url}/healthz")
    outcome = await page.evaluate(
        """async () => {
            const out = {};
            try {
                await fetch("https://cdn.example.com/lib.js");
                out.external = "loaded";
            } catch (error) {
                out.external = "blocked";
            }
            out.local = (await fetch("/healthz")).status;
            out.socket = await new Promise((resolve) => {
                const socket = new WebSocket("wss://socket.example.com/live");
                socket.onopen = () => resolve("open");
                socket.onclose = () => resolve("closed");
            });
            return out;
        }"""
    )
    assert outcome == {"external": "blocked", "local": 200, "socket": "closed"}
    assert external == ["https://cdn.example.com/lib.js", "wss://socket.example.com/live"]
