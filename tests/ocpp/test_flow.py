"""End to end: chargers on OCPP 1.6 and 2.0.1 appear to an eMSP as the hub's own CPO."""

from __future__ import annotations

import asyncio

from tests.ocpp.harness import at, charger, send_command, wait_for, world


def _evse_status(w, uid: str) -> str | None:  # type: ignore[no-untyped-def]
    patches = [c for c in w.pushes("locations", "PATCH") if c.path.endswith(f"/NL/VRC/LOC1/{uid}")]
    return patches[-1].body["status"] if patches else None


async def _command(w, name: str, body: dict) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return await send_command(w, name, body)


def _results(w) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return [c.body for c in w.emsp.calls if "/cmdresult/" in c.path]


async def test_ocpp16_remote_session_to_priced_cdr(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CP16"])
        # The Location reached the eMSP as a PUT from the own CPO, EVSE UNKNOWN until connected.
        # (First PUT when the admin created it, again when the charger was attached.)
        await wait_for(lambda: any(c.body["evses"] for c in w.pushes("locations", "PUT")))
        put = w.pushes("locations", "PUT")[-1]
        assert put.path.endswith("/NL/VRC/LOC1")
        assert put.headers["ocpi-from-party-id"] == "VRH"
        assert put.body["evses"][0]["uid"] == "CP16-1"
        assert put.body["evses"][0]["status"] == "UNKNOWN"
        assert any(c.path.endswith("/NL/VRC/T1") for c in w.pushes("tariffs", "PUT"))

        async with charger(w, "CP16") as cp:
            await cp.boot()
            await wait_for(lambda: _evse_status(w, "CP16-1") == "AVAILABLE")

            answer = await _command(
                w,
                "START_SESSION",
                {
                    "response_url": f"{w.emsp.base_url}/2.2.1/cmdresult/start1",
                    "token": {
                        "country_code": "NL",
                        "party_id": "EM1",
                        "uid": "TOK1",
                        "type": "RFID",
                        "contract_id": "NL-EM1-CTOK1",
                        "issuer": "Example eMSP",
                        "valid": True,
                        "whitelist": "ALLOWED",
                        "last_updated": "2026-01-01T00:00:00Z",
                    },
                    "location_id": "LOC1",
                    "evse_uid": "CP16-1",
                },
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await asyncio.wait_for(cp.remote_started.wait(), 5)
            await wait_for(lambda: _results(w))
            assert _results(w)[0]["result"] == "ACCEPTED"
            await wait_for(lambda: _evse_status(w, "CP16-1") == "CHARGING")

            sessions = w.pushes("sessions", "PUT")
            await wait_for(lambda: w.pushes("sessions", "PUT"))
            sessions = w.pushes("sessions", "PUT")
            session = sessions[0].body
            assert session["status"] == "ACTIVE"
            assert session["auth_method"] == "COMMAND"
            assert session["cdr_token"]["uid"] == "TOK1"
            session_id = session["id"]

            # Meter values: the Session is PATCHed at most every 60 s of charging.
            await cp.meter_values(3000, at(0.5))  # 30 s: no PATCH yet
            await cp.meter_values(6000, at(1))
            await cp.meter_values(11000, at(2))
            await wait_for(lambda: len(w.pushes("sessions", "PATCH")) >= 2)
            patches = [c.body for c in w.pushes("sessions", "PATCH")]
            assert patches[0]["kwh"] == 5.0
            assert patches[0]["charging_periods"][0]["dimensions"][0]["volume"] == 5.0
            assert patches[1]["kwh"] == 10.0

            answer = await _command(
                w,
                "STOP_SESSION",
                {
                    "response_url": f"{w.emsp.base_url}/2.2.1/cmdresult/stop1",
                    "session_id": session_id,
                },
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await wait_for(lambda: "RemoteStopTransaction" in cp.calls_seen)
            await cp.stop_tx(21000, at(3))
            await wait_for(lambda: w.pushes("cdrs", "POST"))
            await wait_for(lambda: len(_results(w)) == 2)
            assert _results(w)[1]["result"] == "ACCEPTED"

        await wait_for(lambda: w.pushes("sessions", "PATCH")[-1].body.get("status") == "COMPLETED")
        final = w.pushes("sessions", "PATCH")[-1].body
        assert final["status"] == "COMPLETED"
        assert final["kwh"] == 20.0
        cdr = w.pushes("cdrs", "POST")[0].body
        assert cdr["party_id"] == "VRC"
        assert cdr["total_energy"] == 20.0
        # 20 kWh x 0.30 + 1.00 flat
        assert cdr["total_cost"]["excl_vat"] == 7.0
        assert cdr["cdr_location"]["evse_uid"] == "CP16-1"
        assert cdr["tariffs"][0]["id"] == "T1"
        # Gone: the EVSE is UNKNOWN on OCPI.
        await wait_for(lambda: _evse_status(w, "CP16-1") == "UNKNOWN")


async def test_ocpp201_remote_session_to_priced_cdr(database_url: str) -> None:
    async with world(database_url) as w:
        await w.setup_site(["CS201"])
        async with charger(w, "CS201", "ocpp2.0.1") as cs:
            await cs.boot()
            await wait_for(lambda: _evse_status(w, "CS201-1") == "AVAILABLE")
            answer = await _command(
                w,
                "START_SESSION",
                {
                    "response_url": f"{w.emsp.base_url}/2.2.1/cmdresult/s201",
                    "token": {
                        "country_code": "NL",
                        "party_id": "EM1",
                        "uid": "TOK1",
                        "type": "RFID",
                        "contract_id": "NL-EM1-CTOK1",
                        "issuer": "Example eMSP",
                        "valid": True,
                        "whitelist": "ALLOWED",
                        "last_updated": "2026-01-01T00:00:00Z",
                    },
                    "location_id": "LOC1",
                },
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await asyncio.wait_for(cs.remote_started.wait(), 5)
            await wait_for(lambda: _results(w) and _results(w)[0]["result"] == "ACCEPTED")
            await wait_for(lambda: _evse_status(w, "CS201-1") == "CHARGING")
            await wait_for(lambda: w.pushes("sessions", "PUT"))
            session = w.pushes("sessions", "PUT")[0].body
            assert session["evse_uid"] == "CS201-1"

            await cs.event("Updated", 4000, at(1))
            await cs.event("Updated", 8000, at(2))
            await wait_for(lambda: len(w.pushes("sessions", "PATCH")) >= 2)
            answer = await _command(
                w,
                "STOP_SESSION",
                {
                    "response_url": f"{w.emsp.base_url}/2.2.1/cmdresult/t201",
                    "session_id": session["id"],
                },
            )
            assert answer["data"]["result"] == "ACCEPTED"
            await wait_for(lambda: "RequestStopTransaction" in cs.calls_seen)
            await cs.event("Ended", 12000, at(3), trigger="RemoteStop", stopped_reason="Remote")
            await wait_for(lambda: w.pushes("cdrs", "POST"))
        cdr = w.pushes("cdrs", "POST")[0].body
        assert cdr["total_energy"] == 12.0
        assert cdr["total_cost"]["excl_vat"] == 4.6  # 12 x 0.30 + 1.00
        # The Session and the CDR are separate objects: either may reach the eMSP first.
        await wait_for(lambda: w.pushes("sessions", "PATCH")[-1].body.get("status") == "COMPLETED")
        await wait_for(lambda: len(_results(w)) == 2)
        assert _results(w)[1]["result"] == "ACCEPTED"
