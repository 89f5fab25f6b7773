"""Paying at a partner CPO's EVSE (learned over OCPI): the hub's own eMSP sends START_SESSION with
a single-use AD_HOC_USER token, the CPO's Session and CDR come back to it, the CDR's price is
captured, and a credit CDR refunds it. Paid with the local test provider (no Stripe key)."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import select

from app.ocpi.schemas.common import parse_datetime
from app.payments.models import Payment
from tests.conftest import token_header
from tests.hub.network import Network, cdr, charging_period, location, network, session, stamp
from tests.ocpp.harness import wait_for

START_ANSWER = {"result": "ACCEPTED", "timeout": 30}


def ad_hoc_tariff() -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPA",
        "id": "ADHOC",
        "currency": "EUR",
        "type": "AD_HOC_PAYMENT",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.40, "vat": 21, "step_size": 1},
                    {"type": "PARKING_TIME", "price": 2.00, "vat": 21, "step_size": 60},
                ]
            }
        ],
        "last_updated": stamp(),
    }


def ad_hoc_cdr(
    cdr_id: str,
    session_id: str,
    cdr_token: dict[str, Any],
    total_cost: dict[str, float],
    **fields: Any,
) -> dict[str, Any]:
    """A CDR of the partner CPO for a session of the hub's ad hoc token (10 kWh unless told)."""
    return {
        **cdr(cdr_id),
        "session_id": session_id,
        "cdr_token": cdr_token,
        "auth_method": "COMMAND",
        "total_cost": total_cost,
        **fields,
    }


async def put_site(n: Network) -> None:
    loc = location()
    loc["evses"][0]["connectors"][0]["tariff_ids"] = ["REG", "ADHOC"]
    regular = {**ad_hoc_tariff(), "id": "REG", "type": "REGULAR"}
    for path, body in (
        ("receiver/tariffs/NL/CPA/REG", regular),
        ("receiver/tariffs/NL/CPA/ADHOC", ad_hoc_tariff()),
        ("receiver/locations/NL/CPA/LOC1", loc),
    ):
        r = await n.http.put(n.url(path), json=body, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text


async def payment(n: Network) -> Payment:
    async with n.ctx.sessions() as session:
        row = (await session.exec(select(Payment))).first()
        assert row is not None
        return row


def state(n: Network, wanted: str) -> Any:
    async def check() -> bool:
        return (await payment(n)).status == wanted

    return check


async def test_ad_hoc_payment_at_a_partner_cpo(database_url: str) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=[("commands", "RECEIVER")],
        payment_jobs_poll_seconds=0.05,
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_site(n)
        base = n.hub.base_url
        page = await n.http.get(f"{base}/pay/EVSE1")
        assert page.status_code == 200
        text = re.sub(r"\s+", " ", page.text)
        # The AD_HOC_PAYMENT tariff, not the REGULAR one, prices incl. VAT, the test banner.
        assert "€0.484 per kWh, incl. 21% VAT" in text
        assert "€2.42 per hour parked without charging (billed per 1 min)" in text
        assert "TEST MODE" in text
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        assert started.status_code == 303
        checkout = started.headers["location"]
        assert checkout.startswith(f"{base}/pay/test-checkout/")
        shown = await n.http.get(checkout)
        assert "No card is needed and no money moves" in shown.text and "€50.00" in shown.text
        done = await n.http.post(checkout, data={"action": "authorize"})
        assert done.status_code == 303
        status_url = base + done.headers["location"]
        # START_SESSION reached the CPO with the hub eMSP's AD_HOC_USER token.
        await wait_for(lambda: bool(n.cpo.pushes("commands")))
        call = n.cpo.pushes("commands")[0]
        assert call.path.endswith("/commands/START_SESSION")
        token = call.body["token"]
        assert token["type"] == "AD_HOC_USER" and (token["country_code"], token["party_id"]) == (
            "NL",
            "VRP",
        )
        assert call.body["location_id"] == "LOC1" and call.body["evse_uid"] == "EVSE1"
        assert call.headers["ocpi-from-party-id"] == "VRP"
        response_url = call.body["response_url"]
        p = await payment(n)
        assert p.status == "starting"
        # The CPO asks the hub in real time: the hub's eMSP allows its own token.
        auth = await n.http.post(
            n.url(f"sender/tokens/{token['uid']}/authorize"),
            params={"type": "AD_HOC_USER"},
            json={"location_id": "LOC1"},
            headers=n.auth(n.cpo),
        )
        assert auth.json()["data"]["allowed"] == "ALLOWED", auth.text
        result = await n.http.post(
            response_url, json={"result": "ACCEPTED"}, headers=token_header(n.cpo.hub_token or "")
        )
        assert result.json()["status_code"] == 1000
        cdr_token = {
            k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
        }
        ocpi_session = {
            "country_code": "NL",
            "party_id": "CPA",
            "id": "S-ADHOC",
            "start_date_time": stamp(0),
            "kwh": 12.5,
            "cdr_token": cdr_token,
            "auth_method": "COMMAND",
            "location_id": "LOC1",
            "evse_uid": "EVSE1",
            "connector_id": "1",
            "currency": "EUR",
            "total_cost": {"excl_vat": 5.0, "incl_vat": 6.05},
            "status": "ACTIVE",
            "last_updated": stamp(30),
        }
        r = await n.http.put(
            n.url("receiver/sessions/NL/CPA/S-ADHOC"), json=ocpi_session, headers=n.auth(n.cpo)
        )
        assert r.json()["status_code"] == 1000
        await wait_for(state(n, "charging"))
        live = (await n.http.get(status_url + "/status.json")).json()
        assert live["energy_kwh"] == "12.50" and live["running_cost"] == "€6.05"
        # The driver stops: STOP_SESSION to the CPO.
        stop = await n.http.post(status_url + "/stop")
        assert stop.status_code == 303
        await wait_for(lambda: len(n.cpo.pushes("commands")) == 2)
        assert n.cpo.pushes("commands")[1].body["session_id"] == "S-ADHOC"
        await wait_for(state(n, "stopping"))
        cdr = ad_hoc_cdr(
            "CDR-ADHOC",
            "S-ADHOC",
            cdr_token,
            {"excl_vat": 8.5, "incl_vat": 10.29},
            tariffs=[ad_hoc_tariff()],
            charging_periods=[
                {"start_date_time": stamp(0), "dimensions": [{"type": "ENERGY", "volume": 20}]},
                {
                    "start_date_time": stamp(45),
                    "dimensions": [{"type": "PARKING_TIME", "volume": 0.25}],
                },
            ],
            total_energy=20,
            total_energy_cost={"excl_vat": 8.0, "incl_vat": 9.68},
            total_time=1,
            total_parking_time=0.25,
            total_parking_cost={"excl_vat": 0.5, "incl_vat": 0.61},
            end_date_time=stamp(60),
            last_updated=stamp(60),
        )
        r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(state(n, "captured"))
        p = await payment(n)
        assert (p.price, p.amount_captured) == (1029, 1029)
        receipt = re.sub(r"\s+", " ", (await n.http.get(status_url + "/receipt")).text)
        assert "VAT 21%" in receipt and 'id="total">€10.29' in receipt
        assert "Parking time" in receipt and "15 min 00 s" in receipt
        # The token is spent.
        auth = await n.http.post(
            n.url(f"sender/tokens/{token['uid']}/authorize"),
            params={"type": "AD_HOC_USER"},
            headers=n.auth(n.cpo),
        )
        assert auth.json()["data"]["allowed"] == "EXPIRED"
        # Nothing of the ad hoc session went to the partner eMSPs.
        for emsp in (n.emsp1, n.emsp2):
            assert not emsp.pushes("sessions") and not emsp.pushes("cdrs")
        # A credit CDR refunds the session.
        credit = {
            **cdr,
            "id": "CDR-ADHOC-C",
            "credit": True,
            "credit_reference_id": "CDR-ADHOC",
            "total_cost": {"excl_vat": -8.5, "incl_vat": -10.29},
        }
        r = await n.http.post(n.url("receiver/cdrs"), json=credit, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text

        async def refunded() -> bool:
            return (await payment(n)).amount_refunded == 1029

        await wait_for(refunded)


async def test_refused_start_releases_the_hold(database_url: str) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=[("commands", "RECEIVER")],
        payment_jobs_poll_seconds=0.05,
    ) as n:
        n.cpo.answers["commands"] = {"result": "REJECTED", "timeout": 0}
        await put_site(n)
        base = n.hub.base_url
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        done = await n.http.post(started.headers["location"], data={"action": "authorize"})
        assert done.status_code == 303
        await wait_for(state(n, "canceled"))
        p = await payment(n)
        assert p.amount_captured == 0 and "did not start" in (p.note or "")
        page = (await n.http.get(base + done.headers["location"])).text
        assert "nothing was charged" in page


async def test_pages_refuse_bad_input_clearly(database_url: str) -> None:
    async with network(database_url) as n:
        await put_site(n)
        base = n.hub.base_url
        cases = [
            ("GET", "/pay/NOPE", None, 404),
            ("GET", "/pay/EVSE1?cpo=garbage", None, 400),
            ("POST", "/pay/EVSE1/start", {"connector_id": "9"}, 400),
            ("POST", "/pay/EVSE1/start", {}, 422),
            ("GET", "/pay/sessions/unknown-payment-id", None, 404),
            ("POST", "/pay/sessions/unknown-payment-id/stop", None, 404),
            ("GET", "/pay/sessions/unknown-payment-id/receipt", None, 404),
            ("GET", "/pay/test-checkout/lcs_nope", None, 404),
            ("POST", "/pay/test-checkout/lcs_nope", {"action": "authorize"}, 404),
            ("POST", "/payments/stripe/webhook", None, 400),
        ]
        for method, path, form, status in cases:
            r = await n.http.request(method, base + path, data=form)
            assert r.status_code == status, (path, r.status_code, r.text)
            assert "Traceback" not in r.text
        async with n.ctx.sessions() as session:
            assert (await session.exec(select(Payment))).all() == []
        # An EVSE that is not available cannot be paid for.
        loc = location()
        loc["evses"][0]["status"] = "OUTOFORDER"
        loc["evses"][0]["connectors"][0]["tariff_ids"] = ["ADHOC"]
        loc["last_updated"] = stamp(5)
        await n.http.put(n.url("receiver/locations/NL/CPA/LOC1"), json=loc, headers=n.auth(n.cpo))
        page = await n.http.get(f"{base}/pay/EVSE1")
        assert "disabled" in page.text and "outoforder" in page.text
        r = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        assert r.status_code == 409 and "cannot start now" in r.text


async def test_the_hub_stops_at_the_hold_and_a_free_session_releases_it(
    database_url: str,
) -> None:
    async with network(
        database_url,
        extra_cpo_endpoints=[("commands", "RECEIVER")],
        payment_jobs_poll_seconds=0.05,
        payment_hold="EUR=5",
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_site(n)
        base = n.hub.base_url
        page = await n.http.get(f"{base}/pay/EVSE1")
        assert "€5.00" in page.text
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        await n.http.post(started.headers["location"], data={"action": "authorize"})
        await wait_for(lambda: bool(n.cpo.pushes("commands")))
        token = n.cpo.pushes("commands")[0].body["token"]
        cdr_token = {
            k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
        }
        document = {
            "country_code": "NL",
            "party_id": "CPA",
            "id": "S-HOLD",
            "start_date_time": stamp(0),
            "kwh": 1,
            "cdr_token": cdr_token,
            "auth_method": "COMMAND",
            "location_id": "LOC1",
            "evse_uid": "EVSE1",
            "connector_id": "1",
            "currency": "EUR",
            "total_cost": {"excl_vat": 1.0, "incl_vat": 1.21},
            "status": "ACTIVE",
            "last_updated": stamp(1),
        }
        url = n.url("receiver/sessions/NL/CPA/S-HOLD")
        await n.http.put(url, json=document, headers=n.auth(n.cpo))
        await wait_for(state(n, "charging"))
        assert len(n.cpo.pushes("commands")) == 1  # far from the hold: no stop
        # The running cost reaches 95 % of the 5.00 hold: the hub sends STOP_SESSION itself.
        patch = {
            "kwh": 10,
            "total_cost": {"excl_vat": 3.95, "incl_vat": 4.78},
            "last_updated": stamp(20),
        }
        r = await n.http.patch(url, json=patch, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000
        await wait_for(lambda: len(n.cpo.pushes("commands")) == 2)
        stop = n.cpo.pushes("commands")[1]
        assert stop.path.endswith("/STOP_SESSION") and stop.body["session_id"] == "S-HOLD"
        await wait_for(state(n, "stopping"))
        assert "reached the amount held" in ((await payment(n)).note or "")
        # The CPO's CDR says no energy went to the car after all: at the tariff the driver was
        # shown that costs nothing, and the hold is released.
        cdr = ad_hoc_cdr(
            "CDR-FREE",
            "S-HOLD",
            cdr_token,
            {"excl_vat": 0, "incl_vat": 0},
            charging_periods=[charging_period(0, 0)],
            total_energy=0,
        )
        r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000
        await wait_for(state(n, "canceled"))
        p = await payment(n)
        assert (p.price, p.amount_captured) == (0, 0)


# Issue 13.1 at a partner CPO: a Location with tariff_ids ["REG", "ADHOC"] (REGULAR 0.25/kWh;
# AD_HOC_PAYMENT 0.30/kWh + 1.00, VAT 21 %). The driver is shown and pays AD_HOC_PAYMENT, whatever
# the CPO's CDR says.
def issue_tariff(
    tariff_id: str, kind: str, minutes: int = 0, energy: float = 0.30
) -> dict[str, Any]:
    components: list[dict[str, Any]] = [
        {"type": "ENERGY", "price": energy, "vat": 21, "step_size": 1}
    ]
    if kind == "AD_HOC_PAYMENT":
        components.append({"type": "FLAT", "price": 1.00, "vat": 21, "step_size": 1})
    return {
        "country_code": "NL",
        "party_id": "CPA",
        "id": tariff_id,
        "currency": "EUR",
        "type": kind,
        "elements": [{"price_components": components}],
        "last_updated": stamp(minutes),
    }


REG = issue_tariff("REG", "REGULAR", energy=0.25)
ADHOC = issue_tariff("ADHOC", "AD_HOC_PAYMENT")


async def put_issue_site(n: Network) -> None:
    loc = location()
    loc["evses"][0]["connectors"][0]["tariff_ids"] = ["REG", "ADHOC"]
    for path, body in (
        ("receiver/tariffs/NL/CPA/REG", REG),
        ("receiver/tariffs/NL/CPA/ADHOC", ADHOC),
        ("receiver/locations/NL/CPA/LOC1", loc),
    ):
        r = await n.http.put(n.url(path), json=body, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text


async def pay_and_start(n: Network) -> tuple[str, dict[str, Any]]:
    """The driver opens the pay page (AD_HOC_PAYMENT shown), pays, the CPO starts: the status
    page's URL and the cdr_token of the hub's AD_HOC_USER token."""
    base = n.hub.base_url
    page = re.sub(r"\s+", " ", (await n.http.get(f"{base}/pay/EVSE1")).text)
    assert "€0.363 per kWh, incl. 21% VAT" in page and "€1.21 per session" in page
    assert "€0.3025" not in page
    started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
    done = await n.http.post(started.headers["location"], data={"action": "authorize"})
    assert done.status_code == 303
    await wait_for(lambda: bool(n.cpo.pushes("commands")))
    call = n.cpo.pushes("commands")[0]
    result = await n.http.post(
        call.body["response_url"],
        json={"result": "ACCEPTED"},
        headers=token_header(n.cpo.hub_token or ""),
    )
    assert result.json()["status_code"] == 1000
    token = call.body["token"]
    return base + done.headers["location"], {
        k: token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")
    }


def twenty_kwh_cdr(
    cdr_token: dict[str, Any], tariff: dict[str, Any], total: dict[str, float]
) -> dict[str, Any]:
    """The CPO's CDR: 20 kWh in an hour, priced (by the CPO) with ``tariff``."""
    return ad_hoc_cdr(
        "CDR-20",
        "S-20",
        cdr_token,
        total,
        tariffs=[tariff],
        charging_periods=[charging_period(0, 20)],
        total_energy=20,
        total_energy_cost=total,
    )


async def flagged(n: Network) -> list[dict[str, Any]]:
    r = await n.http.get(
        f"{n.hub.base_url}/admin/payments", params={"flagged": "true"}, headers=n.admin
    )
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_a_partner_cdr_with_the_shown_tariff_is_captured_and_the_receipt_names_it(
    database_url: str,
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], payment_jobs_poll_seconds=0.05
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        status_url, cdr_token = await pay_and_start(n)
        p = await payment(n)
        assert (p.tariff_id, p.tariff_last_updated) == ("ADHOC", parse_datetime(stamp(0)))
        cdr = twenty_kwh_cdr(cdr_token, ADHOC, {"excl_vat": 7.0, "incl_vat": 8.47})
        r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(state(n, "captured"))
        p = await payment(n)
        assert (p.price, p.cpo_price, p.amount_captured) == (847, 847, 847)
        assert await flagged(n) == []
        receipt = re.sub(r"\s+", " ", (await n.http.get(status_url + "/receipt")).text)
        assert '<span id="tariff">ADHOC</span>' in receipt
        assert "€0.363 per kWh, incl. 21% VAT" in receipt
        assert 'id="total">€8.47' in receipt and 'id="charged">€8.47' in receipt
        assert "VAT 21%" in receipt and "€1.47" in receipt


async def test_a_partner_cdr_priced_with_regular_is_captured_at_the_shown_price_and_flagged(
    database_url: str,
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], payment_jobs_poll_seconds=0.05
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        status_url, cdr_token = await pay_and_start(n)
        # The CPO's Session runs at its REGULAR price (5 kWh: 1.51); the driver is shown the
        # running cost at the price agreed: (5 x 0.30 + 1.00) x 1.21 = 3.025.
        ocpi_session = {
            **session("S-20", owner=("NL", "VRP")),
            "cdr_token": cdr_token,
            "auth_method": "COMMAND",
            "kwh": 5,
            "total_cost": {"excl_vat": 1.25, "incl_vat": 1.51},
            "last_updated": stamp(15),
        }
        r = await n.http.put(
            n.url("receiver/sessions/NL/CPA/S-20"), json=ocpi_session, headers=n.auth(n.cpo)
        )
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(state(n, "charging"))
        live = (await n.http.get(status_url + "/status.json")).json()
        assert live["running_cost"] == "€3.03"
        # The CDR: 20 kWh at REGULAR, 6.05.
        cdr = twenty_kwh_cdr(cdr_token, REG, {"excl_vat": 5.0, "incl_vat": 6.05})
        r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(state(n, "captured"))
        p = await payment(n)
        assert (p.price, p.cpo_price, p.amount_captured) == (847, 605, 847)
        # Flagged for the admins, with both figures.
        [flag] = await flagged(n)
        assert flag["public_id"] == p.public_id
        assert "€6.05" in flag["note"] and "€8.47" in flag["note"]
        assert "REG" in flag["note"] and "ADHOC" in flag["note"]
        assert (flag["tariff_id"], flag["price"], flag["cpo_price"]) == ("ADHOC", 847, 605)
        detail = await n.http.get(f"{n.hub.base_url}/admin/payments/{p.public_id}", headers=n.admin)
        assert detail.json()["tariff"]["type"] == "AD_HOC_PAYMENT"
        # The price check is for the admins; the driver's page shows the price, no warning.
        live = (await n.http.get(status_url + "/status.json")).json()
        assert live["note"] is None and live["price"] == "€8.47"
        receipt = re.sub(r"\s+", " ", (await n.http.get(status_url + "/receipt")).text)
        assert '<span id="tariff">ADHOC</span>' in receipt
        assert 'id="total">€8.47' in receipt and 'id="charged">€8.47' in receipt
        # The energy line is the shown price of the CDR's 20 kWh, not the CPO's.
        assert "€6.00" in receipt and "€5.00" not in receipt
        # A credit of the whole CDR refunds all the driver paid.
        credit = {
            **cdr,
            "id": "CDR-20-C",
            "credit": True,
            "credit_reference_id": "CDR-20",
            "total_cost": {"excl_vat": -5.0, "incl_vat": -6.05},
        }
        r = await n.http.post(n.url("receiver/cdrs"), json=credit, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text

        async def refunded() -> bool:
            return (await payment(n)).amount_refunded == 847

        await wait_for(refunded)


async def test_a_tariff_update_after_payment_does_not_change_the_price_agreed(
    database_url: str,
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], payment_jobs_poll_seconds=0.05
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        status_url, cdr_token = await pay_and_start(n)
        # While the driver charges, the CPO raises its ad hoc price to 0.50/kWh.
        dearer = issue_tariff("ADHOC", "AD_HOC_PAYMENT", minutes=10, energy=0.50)
        r = await n.http.put(
            n.url("receiver/tariffs/NL/CPA/ADHOC"), json=dearer, headers=n.auth(n.cpo)
        )
        assert r.json()["status_code"] == 1000
        page = re.sub(r"\s+", " ", (await n.http.get(f"{n.hub.base_url}/pay/EVSE1")).text)
        assert "€0.605 per kWh" in page  # new drivers see the new price
        # The CPO prices the CDR with the new version: (20 x 0.50 + 1.00) x 1.21 = 13.31.
        cdr = twenty_kwh_cdr(cdr_token, dearer, {"excl_vat": 11.0, "incl_vat": 13.31})
        r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(state(n, "captured"))
        p = await payment(n)
        assert (p.price, p.cpo_price, p.amount_captured) == (847, 1331, 847)
        assert p.note and "€13.31" in p.note and "€8.47" in p.note
        receipt = re.sub(r"\s+", " ", (await n.http.get(status_url + "/receipt")).text)
        assert "€0.363 per kWh" in receipt and 'id="charged">€8.47' in receipt


async def test_connectors_at_different_prices_each_show_theirs_and_charge_it(
    database_url: str,
) -> None:
    async with network(database_url) as n:
        fast = issue_tariff("FAST-ADHOC", "AD_HOC_PAYMENT", energy=0.50)
        loc = location()
        first = loc["evses"][0]["connectors"][0]
        first["tariff_ids"] = ["REG", "ADHOC"]
        second = {
            **first,
            "id": "2",
            "standard": "IEC_62196_T2_COMBO",
            "tariff_ids": ["FAST-ADHOC"],
        }
        loc["evses"][0]["connectors"].append(second)
        for path, body in (
            ("receiver/tariffs/NL/CPA/REG", REG),
            ("receiver/tariffs/NL/CPA/ADHOC", ADHOC),
            ("receiver/tariffs/NL/CPA/FAST-ADHOC", fast),
            ("receiver/locations/NL/CPA/LOC1", loc),
        ):
            r = await n.http.put(n.url(path), json=body, headers=n.auth(n.cpo))
            assert r.json()["status_code"] == 1000, r.text
        page = re.sub(r"\s+", " ", (await n.http.get(f"{n.hub.base_url}/pay/EVSE1")).text)
        assert 'Connector 1 (Type 2 socket)</h3> <ul class="price"> <li>€0.363 per kWh' in page
        assert 'Connector 2 (CCS (Combo 2))</h3> <ul class="price"> <li>€0.605 per kWh' in page
        started = await n.http.post(f"{n.hub.base_url}/pay/EVSE1/start", data={"connector_id": "2"})
        assert started.status_code == 303
        p = await payment(n)
        assert (p.connector_id, p.tariff_id) == ("2", "FAST-ADHOC")


async def test_a_cdr_the_shown_tariff_cannot_price_is_charged_its_own_total_and_flagged(
    database_url: str,
) -> None:
    async with network(
        database_url, extra_cpo_endpoints=[("commands", "RECEIVER")], payment_jobs_poll_seconds=0.05
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_issue_site(n)
        status_url, cdr_token = await pay_and_start(n)
        # Ten billion kWh: at the shown tariff more than any payment can hold.
        cdr = twenty_kwh_cdr(cdr_token, ADHOC, {"excl_vat": 7.0, "incl_vat": 8.47})
        cdr["charging_periods"] = [charging_period(0, 10_000_000_000)]
        r = await n.http.post(n.url("receiver/cdrs"), json=cdr, headers=n.auth(n.cpo))
        assert r.json()["status_code"] == 1000, r.text
        await wait_for(state(n, "captured"))
        p = await payment(n)
        assert (p.price, p.cpo_price, p.amount_captured) == (847, 847, 847)
        [flag] = await flagged(n)
        assert "more than a payment can take" in flag["note"]
        receipt = re.sub(r"\s+", " ", (await n.http.get(status_url + "/receipt")).text)
        assert 'id="total">€8.47' in receipt and 'id="charged">€8.47' in receipt


async def test_closed_network_pay_page_offers_only_cpos_agreed_with_the_hubs_emsp(
    database_url: str,
) -> None:
    """AGREEMENTS_DEFAULT=closed: a partner CPO's EVSE is not payable (404 page, no QR code)
    until that CPO has an active agreement with the hub's eMSP; then it is, and START_SESSION
    reaches the CPO."""
    async with network(
        database_url,
        extra_cpo_endpoints=[("commands", "RECEIVER")],
        payment_jobs_poll_seconds=0.05,
        agreements_default="closed",
    ) as n:
        n.cpo.answers["commands"] = START_ANSWER
        await put_site(n)
        base = n.hub.base_url
        page = await n.http.get(f"{base}/pay/EVSE1")
        assert page.status_code == 404 and "No charger EVSE1" in page.text
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        assert started.status_code == 404
        qr = await n.http.get(f"{base}/admin/evses/EVSE1/qr", headers=n.admin)
        assert qr.status_code == 404 and "Unknown EVSE" in qr.text
        async with n.ctx.sessions() as session:
            assert (await session.exec(select(Payment))).first() is None
        agreed = await n.http.post(
            f"{base}/admin/agreements",
            json={"cpo": "NL*CPA", "emsp": "NL*VRP", "state": "active"},
            headers=n.admin,
        )
        assert agreed.status_code in (200, 201), agreed.text
        page = await n.http.get(f"{base}/pay/EVSE1")
        assert page.status_code == 200
        qr = await n.http.get(f"{base}/admin/evses/EVSE1/qr", headers=n.admin)
        assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg")
        started = await n.http.post(f"{base}/pay/EVSE1/start", data={"connector_id": "1"})
        assert started.status_code == 303
        done = await n.http.post(started.headers["location"], data={"action": "authorize"})
        assert done.status_code == 303
        await wait_for(lambda: bool(n.cpo.pushes("commands")))
        assert n.cpo.pushes("commands")[0].path.endswith("/commands/START_SESSION")
