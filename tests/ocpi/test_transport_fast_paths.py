"""The shortcuts of the per-call transport (issue 16) behave as the long ways did.

- the token cipher remembers plaintexts by ciphertext, never a failure;
- the request counter's cached children are the labelled counters;
- the size limit passes a request without a body straight through, and still counts one that
  streams without Content-Length;
- the path and ids middlewares on raw ASGI scopes;
- the envelope's timestamp is whole seconds, UTC.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.core.metrics import HubMetrics
from app.core.security import TokenCipher, UndecryptableToken
from app.hub.context import CachedTokenCipher
from app.ocpi.envelope import envelope_body
from app.ocpi.headers import RequestIdMiddleware
from app.ocpi.middleware import OcpiPathMiddleware, RequestSizeLimitMiddleware


def test_cached_cipher_decrypts_as_the_plain_one_and_never_caches_a_failure() -> None:
    cipher = CachedTokenCipher("key-one")
    stored = TokenCipher("key-one").encrypt("partner-token")
    assert cipher.decrypt(stored) == "partner-token"
    assert cipher.decrypt(stored) == "partner-token"  # from memory
    rotated = cipher.encrypt("rotated-token")
    assert cipher.decrypt(rotated) == "rotated-token"
    foreign = TokenCipher("key-two").encrypt("partner-token")
    for _ in range(2):
        with pytest.raises(UndecryptableToken):
            cipher.decrypt(foreign)
    assert not cipher.can_decrypt(foreign) and cipher.can_decrypt(stored)


def test_cached_cipher_stays_bounded() -> None:
    cipher = CachedTokenCipher("key")
    cipher.MAX_ENTRIES = 3
    stored = [cipher.encrypt(f"t{i}") for i in range(5)]
    assert [cipher.decrypt(s) for s in stored] == [f"t{i}" for i in range(5)]
    assert len(cipher._plain) <= 3


def test_counted_requests_are_the_labelled_counter() -> None:
    metrics = HubMetrics()
    for _ in range(3):
        metrics.count_ocpi_request("locations", "inbound", "200", "1000")
    metrics.count_ocpi_request("locations", "outbound", "502", "3000")
    child = metrics.ocpi_requests.labels("locations", "inbound", "200", "1000")
    assert child._value.get() == 3
    text = metrics.render().decode()
    assert 'direction="outbound",http_status="502",module="locations",ocpi_status="3000"' in text


class Recorder:
    def __init__(self) -> None:
        self.scope: dict[str, Any] | None = None
        self.body = b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scope = scope
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def http_scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "GET") -> Any:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }


def messages(*bodies: bytes) -> Any:
    queue = [
        {"type": "http.request", "body": b, "more_body": i < len(bodies) - 1}
        for i, b in enumerate(bodies)
    ]

    async def receive() -> Any:
        return queue.pop(0)

    return receive


async def test_size_limit_without_a_body_and_with_a_streamed_one() -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    inner = Recorder()
    limit = RequestSizeLimitMiddleware(inner, max_bytes=10)
    await limit(http_scope("/ocpi/2.2.1/sender/locations/X", []), messages(b""), send)
    assert inner.scope is not None and sent[0]["status"] == 200

    sent.clear()
    chunked = [(b"transfer-encoding", b"chunked")]
    streamed = Recorder()
    limit = RequestSizeLimitMiddleware(streamed, max_bytes=10)
    scope = http_scope("/ocpi/2.2.1/receiver/x", chunked, "PUT")
    await limit(scope, messages(b"123456", b"789"), send)
    assert streamed.body == b"123456789" and sent[0]["status"] == 200

    sent.clear()
    refused = Recorder()
    limit = RequestSizeLimitMiddleware(refused, max_bytes=10)
    await limit(scope, messages(b"123456", b"7890123"), send)
    assert refused.scope is None and sent[0]["status"] == 413

    sent.clear()
    declared = [(b"content-length", b"11")]
    limit = RequestSizeLimitMiddleware(Recorder(), max_bytes=10)
    await limit(http_scope("/ocpi/x", declared, "PUT"), messages(b"x" * 11), send)
    assert sent[0]["status"] == 413


async def test_paths_and_ids_on_raw_scopes() -> None:
    async def send(message: Any) -> None:
        sent.append(message)

    for given, canonical in [
        ("/ocpi/2.2.1/sender/locations/A", "/ocpi/2.2.1/sender/locations/A"),
        ("/ocpi/2.2.1/sender/locations/", "/ocpi/2.2.1/sender/locations"),
        ("/ocpi/2.2.1//sender//locations/A", "/ocpi/2.2.1/sender/locations/A"),
        ("/admin/x/", "/admin/x/"),
        ("/", "/"),
    ]:
        sent: list[Any] = []
        inner = Recorder()
        await OcpiPathMiddleware(inner)(http_scope(given, []), messages(b""), send)
        assert inner.scope is not None and inner.scope["path"] == canonical, given

    sent = []
    inner = Recorder()
    headers = [
        (b"x-request-id", b"req-1"),
        (b"x-correlation-id", b"corr-1"),
        (b"x-request-id", b"req-2"),
    ]
    await RequestIdMiddleware(inner)(http_scope("/ocpi/x", headers), messages(b""), send)
    assert inner.scope is not None and inner.scope["state"]["request_id"] == "req-1"
    out = dict(sent[0]["headers"])
    assert out[b"x-request-id"] == b"req-1" and out[b"x-correlation-id"] == b"corr-1"

    sent = []
    inner = Recorder()
    await RequestIdMiddleware(inner)(
        http_scope("/ocpi/x", [(b"x-request-id", b"bad id")]), messages(b""), send
    )
    out = dict(sent[0]["headers"])
    assert out[b"x-request-id"] != b"bad id" and out[b"x-correlation-id"]


def test_envelope_timestamp_is_whole_seconds_utc() -> None:
    stamp = envelope_body()["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp), stamp
