"""Secrets never reach the logs: bearer ids in paths are masked, tokens and keys never appear."""

from __future__ import annotations

import logging

from app.core.logging import access_log, redact_path
from tests.conftest import token_header
from tests.hub.network import network


def test_secret_path_segments_are_masked() -> None:
    assert redact_path("/pay/sessions/Abc_123-x/receipt") == "/pay/sessions/***/receipt"
    assert redact_path("/pay/test-checkout/lcs_1") == "/pay/test-checkout/***"
    assert redact_path("/ocpi/2.2.1/sender/commands/SeCrEt") == "/ocpi/2.2.1/sender/commands/***"
    assert (
        redact_path("/ocpi/2.2.1/sender/chargingprofiles/results/x")
        == "/ocpi/2.2.1/sender/chargingprofiles/results/***"
    )
    assert redact_path("/pay/EVSE1") == "/pay/EVSE1"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", {})
        self.lines.append(f"{record.getMessage()} {fields}")


async def test_requests_log_no_secrets(database_url: str) -> None:
    collect = Collect()
    access_log.addHandler(collect)
    level = access_log.level
    access_log.setLevel(logging.INFO)
    try:
        async with network(database_url, stripe_secret_key="sk_test_never_logged") as n:
            secret_id = "DriverSecretPaymentId123"
            await n.http.get(f"{n.hub.base_url}/pay/sessions/{secret_id}")
            await n.http.get(f"{n.hub.base_url}/pay/sessions/{secret_id}/receipt")
            await n.http.get(n.url("sender/locations"), headers=n.auth(n.emsp1))
            await n.http.get(n.url("sender/locations"), headers=token_header("wrong-token-xyz"))
    finally:
        access_log.removeHandler(collect)
        access_log.setLevel(level)
    text = "\n".join(collect.lines)
    assert "/pay/sessions/***" in text
    assert secret_id not in text
    assert "sk_test_never_logged" not in text
    assert "wrong-token-xyz" not in text
    assert n.emsp1.hub_token and n.emsp1.hub_token not in text
