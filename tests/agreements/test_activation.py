"""Opening an agreement sends each side what the other has, through the outbox."""

from __future__ import annotations

from tests.agreements.network import agreed_network
from tests.agreements.test_enforcement import (
    CPA,
    loc,
    push_everything,
    put,
    received,
    settle,
    tar,
)


async def test_activation_syncs_both_ways_and_shows_progress(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await push_everything(net)
        await put(net, net.cpo1, "receiver/tariffs/NL/CPA/T-2", tar("T-2", CPA))
        await settle(net)
        assert not net.emsp2.pushes("locations") and not net.emsp2.pushes("tariffs")
        assert not net.cpo1.pushes("tokens")
        [opened] = await net.agree("NL*CPA", "DE*EM2", "active")
        # Two Tariffs and a Location to the eMSP, its Token to the CPO.
        assert opened["sync"]["queued"] == 4
        await settle(net)
        assert received(net.emsp2, "locations") == {"L-CPA"}
        assert received(net.emsp2, "tariffs") == {"T-CPA", "T-2"}
        assert received(net.cpo1, "tokens") == {"TOK-EM2"}
        # As a broadcast: the hub as sender, the owner's ids in the URL.
        call = net.emsp2.pushes("locations")[0]
        assert call.path.endswith("/locations/NL/CPA/L-CPA")
        assert call.headers.get("ocpi-from-party-id") == "VRH"
        assert not net.emsp1.pushes("locations") and not net.cpo2.pushes("tokens")
        listing = await net.agreements()
        row = next(
            a for a in listing["agreements"] if (a["cpo"], a["emsp"]) == ("NL*CPA", "DE*EM2")
        )
        assert row["sync"] == {"queued": 4, "delivered": 4, "pending": 0, "failed": 0}
        # Opening again what is open sends nothing more.
        [again] = await net.agree("NL*CPA", "DE*EM2", "active")
        assert again["sync"]["queued"] == 4
        await settle(net)
        assert len(net.emsp2.pushes("locations")) == 1


async def test_activation_covers_only_the_agreed_modules(database_url: str) -> None:
    async with agreed_network(database_url, agreements_default="closed") as net:
        await push_everything(net)
        await settle(net)
        [opened] = await net.agree("NL*CPA", "DE*EM2", "active", modules=["tariffs"])
        assert opened["sync"]["queued"] == 1
        await settle(net)
        assert received(net.emsp2, "tariffs") == {"T-CPA"}
        assert not net.emsp2.pushes("locations") and not net.cpo1.pushes("tokens")
        # Widening the agreement sends what it now covers.
        [wider] = await net.agree("NL*CPA", "DE*EM2", "active", modules=["tariffs", "locations"])
        assert wider["sync"]["queued"] == 2
        await settle(net)
        assert received(net.emsp2, "locations") == {"L-CPA"}
        # New data flows from now on.
        await put(net, net.cpo1, "receiver/locations/NL/CPA/L-9", loc("L-9", CPA))
        await settle(net)
        assert received(net.emsp2, "locations") == {"L-CPA", "L-9"}


async def test_activation_reaches_an_offline_party_when_it_is_back(database_url: str) -> None:
    """Nothing is queued for an OFFLINE party; a resync brings what it may now see."""
    async with agreed_network(database_url, agreements_default="closed") as net:
        await push_everything(net)
        await settle(net)
        await put(
            net, net.cpo1, "receiver/locations/NL/CPA/LP",
            {**loc("LP", CPA), "publish": False, "publish_allowed_to": [{"group_id": "X"}]},
        )  # fmt: skip
        await net.agree("NL*CPA", "FR*EM3", "active")
        await net.agree("BE*CPB", "FR*EM3", "suspended")
        from app.hub import clientinfo
        from app.hub.parties.models import Platform

        async with net.ctx.sessions() as session:
            from sqlmodel import select

            platforms = (await session.exec(select(Platform))).all()
            em3 = next(p for p in platforms if p.name and "EM3" in p.name)
            net.emsp3.calls.clear()
            from datetime import UTC, datetime

            await clientinfo.resync(session, net.ctx, em3, datetime(2000, 1, 1, tzinfo=UTC))
            await session.commit()
        net.ctx.notify_outbox()
        await settle(net)
        # What the CPO with an agreement has, but not its Location published to others.
        assert received(net.emsp3, "locations") == {"L-CPA"}


async def test_activation_tells_each_side_of_the_other_in_hubclientinfo(
    database_url: str,
) -> None:
    """Closed by default, a party's ClientInfo reaches only the parties that may reach it: when
    an agreement opens, the eMSP is PUT the CPO's ClientInfo and the CPO the eMSP's, once; a
    third party hears nothing of it."""
    async with agreed_network(database_url, agreements_default="closed") as net:
        await settle(net)

        def about(party: object) -> set[str]:
            calls = party.pushes("hubclientinfo")  # type: ignore[attr-defined]
            return {"/".join(c.path.rstrip("/").split("/")[-2:]) for c in calls}

        assert "NL/CPA" not in about(net.emsp2) and "DE/EM2" not in about(net.cpo1)
        before_emsp1 = len(net.emsp1.pushes("hubclientinfo"))
        await net.agree("NL*CPA", "DE*EM2", "active")
        await settle(net)
        assert "NL/CPA" in about(net.emsp2) and "DE/EM2" in about(net.cpo1)
        info = next(c.body for c in net.emsp2.pushes("hubclientinfo") if c.path.endswith("/NL/CPA"))
        assert (info["role"], info["status"]) == ("CPO", "CONNECTED")
        assert "BE/CPB" not in about(net.emsp2)
        assert len(net.emsp1.pushes("hubclientinfo")) == before_emsp1
        # Opening what is open again pushes nothing more.
        count = len(net.emsp2.pushes("hubclientinfo"))
        await net.agree("NL*CPA", "DE*EM2", "active")
        await settle(net)
        assert len(net.emsp2.pushes("hubclientinfo")) == count
