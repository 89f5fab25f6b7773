"""`voltroam demo`: the scripted roaming and paid sessions run end to end and say so."""

from __future__ import annotations

import io
import re
from pathlib import Path

from app.demo.run import run_demo
from tests.conftest import free_port


async def test_demo_runs_both_sessions_end_to_end(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    port = free_port()
    code = await run_demo(
        port=port,
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
        exit_when_done=True,
        out=out,
    )
    text = out.getvalue()
    assert code == 0, text
    for step in range(1, 9):
        assert f"[{step}/8]" in text
    assert text.count("done in") == 8
    assert "registered in OCPI 2.1.1; the hub is NL*VRH" in text
    assert "Old Town (OCPI 2.1.1) reached the eMSP as a 2.2.1 Location" in text
    assert re.search(r"CDR OLD-\w+ at the eMSP: 0\.\d+ kWh, €0\.\d\d excl\. VAT", text), text
    assert "Demo Mobility (EMSP NL*DEM) registered; the hub is HUB NL*VRH" in text
    assert "the eMSP received the location with its three EVSEs" in text
    cdr = re.search(r"CDR (\S+) at the eMSP: ([\d.]+) kWh, €([\d.]+) incl. VAT", text)
    assert cdr is not None and float(cdr.group(2)) > 0 and float(cdr.group(3)) > 0, text
    paid = re.search(r"price (€[\d.]+), captured (€[\d.]+) \(captured\)", text)
    assert paid is not None and paid.group(1) == paid.group(2), text
    assert f"http://127.0.0.1:{port}/admin#token=" in text
    assert f"http://127.0.0.1:{port}/pay/DEMO-CP3-1" in text
