"""Benchmark: Stripe webhooks answered per second, and payment captures per second.

Run: ``python bench/bench_payments.py [--payments 2000] [--in-flight 20]
[--database-url postgresql://postgres@127.0.0.1:5432/test]``. Not part of the test run.

A hub (real uvicorn server in this process; SQLite in a temp dir unless ``--database-url`` names
PostgreSQL, whose ``public`` schema is dropped first) with ``--payments`` payments written straight
into its database.

1. Webhooks: one correctly signed ``checkout.session.completed`` per payment is POSTed to
   ``/payments/stripe/webhook`` with ``--in-flight`` requests at a time (the job runner is stopped
   so that only the webhook path is measured: signature check, event recorded once, payment
   updated, CONFIRM job queued, one commit). Every tenth event is sent twice (a duplicate).
2. Captures: each payment gets a CDR price and a CAPTURE job; the job runner is started and the
   time until every payment is captured is measured. The local test provider keeps its
   PaymentIntents in the same database, so this is the hub's own cost of a capture (lease, provider
   call with its idempotency key, commit), without Stripe's network time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from bench_fanout import bench_hub
from common import database_line, default_loop, machine_line, percentile, run
from sqlmodel import col, func, select

from app.payments.models import JobKind, Payment, PaymentJob, PaymentStatus
from app.payments.provider import LocalIntent
from app.payments.runner import Payments

SECRET = "whsec_bench"


def signed(payload: str) -> str:
    ts = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def status(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


async def seed(app: Any, count: int) -> list[str]:
    ctx = app.state.hub
    ids = []
    async with ctx.sessions() as session:
        for i in range(count):
            public_id = f"bench-payment-{i:06d}"
            ids.append(public_id)
            session.add(
                LocalIntent(
                    id=f"lpi_{i:06d}",
                    checkout_id=f"lcs_{i:06d}",
                    reference=public_id,
                    currency="EUR",
                    amount=5000,
                    status="requires_capture",
                    amount_capturable=5000,
                )
            )
            session.add(
                Payment(
                    public_id=public_id,
                    provider="local",
                    cpo_country_code="NL",
                    cpo_party_id="CPA",
                    location_id="LOC1",
                    evse_uid="EVSE1",
                    connector_id="1",
                    currency="EUR",
                    hold_amount=5000,
                    checkout_id=f"lcs_{i:06d}",
                    token_uid=f"VRPBENCH{i:08d}",
                )
            )
            if i % 500 == 499:
                await session.commit()
        await session.commit()
    return ids


async def webhooks(base: str, ids: list[str], in_flight: int) -> dict[str, Any]:
    latencies: list[float] = []
    answers: dict[str, int] = {}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i, public_id in enumerate(ids):
        event = {
            "id": f"evt_bench_{i:06d}",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": f"lcs_{i:06d}",
                    "object": "checkout.session",
                    "client_reference_id": public_id,
                    "payment_intent": f"lpi_{i:06d}",
                }
            },
        }
        payload = json.dumps(event)
        queue.put_nowait(payload)
        if i % 10 == 0:
            queue.put_nowait(payload)  # Stripe delivers some events twice
    total = queue.qsize()

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            payload = queue.get_nowait()
            started = time.perf_counter()
            r = await client.post(
                f"{base}/payments/stripe/webhook",
                content=payload,
                headers={"Stripe-Signature": signed(payload), "Content-Type": "application/json"},
            )
            latencies.append(time.perf_counter() - started)
            outcome = r.json().get("outcome", str(r.status_code))
            answers[outcome] = answers.get(outcome, 0) + 1
            if len(latencies) % 500 == 0:
                status(f"webhooks: {len(latencies)}/{total}")

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    return {"events": total, "elapsed": elapsed, "latencies": latencies, "answers": answers}


async def captures(app: Any) -> dict[str, Any]:
    ctx = app.state.hub
    async with ctx.sessions() as session:
        rows = (await session.exec(select(Payment))).all()
        for payment in rows:
            payment.status = PaymentStatus.CAPTURING
            payment.payment_intent_id = payment.checkout_id.replace("lcs_", "lpi_")  # type: ignore[union-attr]
            payment.amount_capturable = 5000
            payment.price = 700
            session.add(payment)
            session.add(
                PaymentJob(
                    payment_id=payment.id or 0,
                    kind=JobKind.CAPTURE,
                    idempotency_key=f"capture-{payment.public_id}",
                    amount=700,
                )
            )
        await session.commit()
    total = len(rows)
    runner = Payments(ctx)
    started = time.perf_counter()
    runner.start()
    done = 0
    while done < total:
        await asyncio.sleep(0.25)
        async with ctx.sessions() as session:
            done = (
                await session.exec(
                    select(func.count()).where(col(Payment.status) == PaymentStatus.CAPTURED)
                )
            ).one()
        status(f"captures: {done}/{total}")
    elapsed = time.perf_counter() - started
    await runner.stop()
    return {"captures": total, "elapsed": elapsed}


async def bench(args: argparse.Namespace) -> None:
    async with bench_hub(
        args.database_url,
        stripe_webhook_secret=SECRET,
        payment_jobs_poll_seconds=0.05,
        alive_check_interval_seconds=0,
    ) as hub:
        app = hub.app
        await app.state.payments.stop()  # webhooks only in phase 1
        database = (await database_line(args.database_url)).removeprefix("database: ")
        status(f"seeding {args.payments} payments")
        ids = await seed(app, args.payments)
        w = await webhooks(hub.base_url, ids, args.in_flight)
        c = await captures(app)
    lat = w["latencies"]
    print(machine_line())
    print(f"database: {database}; loop: {args.loop}")
    print(
        f"webhooks: {w['events']} signed events ({args.in_flight} in flight): "
        f"{w['events'] / w['elapsed']:.0f} events/s, answer p50 {percentile(lat, 50) * 1000:.1f} ms"
        f" / p99 {percentile(lat, 99) * 1000:.1f} ms; outcomes {w['answers']}"
    )
    print(
        f"captures: {c['captures']} CAPTURE jobs (local provider): "
        f"{c['captures'] / c['elapsed']:.0f} captures/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--loop", default=default_loop(), choices=["asyncio", "uvloop"])
    args = parser.parse_args()
    run(bench(args), args.loop)


if __name__ == "__main__":
    main()
