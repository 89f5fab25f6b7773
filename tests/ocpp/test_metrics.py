"""/metrics of the CSMS: OCPP calls by version, action, direction and outcome; connected chargers."""

from __future__ import annotations

import asyncio
import re

from ocpp.v16 import call as call16

from tests.ocpp.harness import World, charger, send_command, wait_for, world

TOKEN = {
    "country_code": "NL",
    "party_id": "EM1",
    "uid": "TOK1",
    "type": "RFID",
    "contract_id": "NL-EM1-CTOK1",
    "issuer": "Example eMSP",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2026-01-01T00:00:00Z",
}


async def _metrics(w: World) -> str:
    r = await w.http.get(f"{w.hub.base_url}/metrics")
    assert r.status_code == 200
    return r.text


def _value(text: str, name: str, **labels: str) -> float | None:
    """The sample ``name`` with exactly these labels (in any order), or None."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return None


def _calls(text: str, version: str, action: str, direction: str, outcome: str) -> float | None:
    return _value(
        text,
        "voltroam_ocpp_messages_total",
        version=version,
        action=action,
        direction=direction,
        outcome=outcome,
    )


async def test_ocpp_messages_and_connected_chargers(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CPM16", "CPM201"])
        text = await _metrics(w)
        assert _value(text, "voltroam_chargers_connected") == 0
        assert _value(text, "voltroam_chargers_online") == 0
        assert "voltroam_ocpp_messages_total{" not in text

        async with charger(w, "CPM16") as cp:
            await cp.boot()  # BootNotification, StatusNotification
            text = await _metrics(w)
            assert _calls(text, "1.6", "BootNotification", "inbound", "ok") == 1
            assert _calls(text, "1.6", "StatusNotification", "inbound", "ok") == 1
            assert _value(text, "voltroam_chargers_connected") == 1
            assert _value(text, "voltroam_chargers_online") == 1

            # An OCPI START_SESSION becomes an outbound RemoteStartTransaction the charger accepts.
            answer = await send_command(
                w,
                "START_SESSION",
                {
                    "response_url": f"{w.emsp.base_url}/2.2.1/cmdresult/s1",
                    "token": TOKEN,
                    "location_id": "LOC1",
                    "evse_uid": "CPM16-1",
                },
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await asyncio.wait_for(cp.remote_started.wait(), 10)

            async def remote_start_counted() -> bool:
                text = await _metrics(w)
                return _calls(text, "1.6", "RemoteStartTransaction", "outbound", "ok") == 1

            await wait_for(remote_start_counted)
            text = await _metrics(w)
            assert _calls(text, "1.6", "StartTransaction", "inbound", "ok") == 1
            # Boot's Available, then Preparing and Charging around the transaction.
            assert _calls(text, "1.6", "StatusNotification", "inbound", "ok") == 3

            # Errors both ways: the charger answers Reset (it has no handler) with a CALLERROR,
            # and the hub answers a StatusNotification with a status 1.6 does not have with one.
            r = await w.admin_post("chargers/CPM16/calls/Reset", {"type": "Soft"})
            assert r.status_code == 502
            refused = await cp.call(
                call16.StatusNotification(connector_id=1, error_code="NoError", status="Bogus"),
                skip_schema_validation=True,
            )
            assert refused is None  # the CALLERROR (suppressed by the simulated charger)
            text = await _metrics(w)
            assert _calls(text, "1.6", "Reset", "outbound", "error") == 1
            assert _calls(text, "1.6", "Reset", "outbound", "ok") is None
            assert _calls(text, "1.6", "StatusNotification", "inbound", "error") == 1
            assert _calls(text, "1.6", "StatusNotification", "inbound", "ok") == 3

            async with charger(w, "CPM201", "ocpp2.0.1") as cp201:
                await cp201.boot()
                text = await _metrics(w)
                assert _calls(text, "2.0.1", "BootNotification", "inbound", "ok") == 1
                assert _value(text, "voltroam_chargers_connected") == 2
                assert _value(text, "voltroam_chargers_online") == 2

        async def all_gone() -> bool:
            text = await _metrics(w)
            return (
                _value(text, "voltroam_chargers_connected") == 0
                and _value(text, "voltroam_chargers_online") == 0
            )

        await wait_for(all_gone)
