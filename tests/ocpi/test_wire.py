"""The outbound HTTP/1.1 client (app/ocpi/wire.py) against raw TCP peers that answer the way
servers and proxies in the field do (RFC 9112): chunked and close-delimited bodies, interim
answers, gzip, redirects, connections closed while idle, silence, bytes nobody asked for; and
against TLS and a forward proxy."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
import zlib
from pathlib import Path

import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.ocpi.wire import ConnectError, StaleConnection, WireClient, WireError, WireTimeout
from tests.raw_http import Request, ok, peer, reply


async def test_connections_are_kept_alive_and_reused() -> None:
    async with peer(ok) as p, WireClient() as client:
        for i in range(5):
            r = await client.request("POST", f"{p.base}/push/{i}", json={"i": i})
            assert r.status_code == 200 and r.json() == {"i": i}
    assert p.connections == 1
    assert [r.target for r in p.requests] == [f"/push/{i}" for i in range(5)]
    first = p.requests[0]
    assert first.headers["host"] == p.base.removeprefix("http://")
    assert first.headers["content-type"] == "application/json"
    assert first.body == b'{"i":0}'  # compact, as httpx encoded it


async def test_a_chunked_answer_arriving_in_pieces() -> None:
    async def chunked(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-")
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(b"Encoding: chunked\r\nX-Total-Count: 2\r\n\r\n5\r\n[1, 2\r\n")
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(b"1\r\n]\r\n0\r\n\r\n")
        return True

    async with peer(chunked) as p, WireClient() as client:
        r = await client.request("GET", f"{p.base}/items")
        assert r.json() == [1, 2] and r.headers["x-total-count"] == "2"
        await client.request("GET", f"{p.base}/items")
    assert p.connections == 1


async def test_a_body_that_runs_until_the_connection_closes() -> None:
    async def http10(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
        writer.write(b'{"data": "all of it"}')
        return False  # and close

    async with peer(http10) as p, WireClient() as client:
        assert (await client.request("GET", f"{p.base}/a")).json() == {"data": "all of it"}
        assert (await client.request("GET", f"{p.base}/b")).json() == {"data": "all of it"}
    assert p.connections == 2


async def test_connection_close_is_honoured() -> None:
    async def closing(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(200, b"{}", "Connection: close"))
        return False

    async with peer(closing) as p, WireClient() as client:
        for _ in range(3):
            assert (await client.request("PUT", f"{p.base}/x", json={})).status_code == 200
    assert p.connections == 3


async def test_an_interim_100_answer_is_skipped() -> None:
    async def interim(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + reply(201, b'{"made":1}'))
        return True

    async with peer(interim) as p, WireClient() as client:
        r = await client.request("POST", f"{p.base}/x", json={})
        assert (r.status_code, r.json()) == (201, {"made": 1})


async def test_gzip_and_deflate_bodies_are_decoded() -> None:
    payload = b'{"data": [' + b",".join(b'{"id": "%d"}' % i for i in range(500)) + b"]}"

    async def compressed(request: Request, writer: asyncio.StreamWriter) -> bool:
        assert "gzip" in request.headers["accept-encoding"]
        if request.target == "/gzip":
            writer.write(reply(200, gzip.compress(payload), "Content-Encoding: gzip"))
        else:
            writer.write(reply(200, zlib.compress(payload), "Content-Encoding: deflate"))
        return True

    async with peer(compressed) as p, WireClient() as client:
        for path in ("/gzip", "/deflate"):
            r = await client.request("GET", p.base + path)
            assert r.content == payload and "content-encoding" not in r.headers


async def test_redirects_keep_the_method_and_body_and_the_token_stays_home() -> None:
    async with peer(ok) as elsewhere:

        async def moved(request: Request, writer: asyncio.StreamWriter) -> bool:
            to = (
                {
                    "/307": "/new",
                    "/302": "/new",
                    "/303": "/result",
                    "/away": f"{elsewhere.base}/there",
                    "/loop": "/loop",
                }[request.target]
                if request.target not in ("/new", "/result")
                else None
            )
            if to is None:
                return await ok(request, writer)
            status = int(request.target[1:]) if request.target[1:].isdigit() else 308
            writer.write(reply(status, b"", f"Location: {to}"))
            return True

        async with peer(moved) as p, WireClient(max_redirects=3) as client:
            token = {"Authorization": "Token secret"}
            for path in ("/307", "/302"):
                r = await client.request("PUT", p.base + path, json={"n": 1}, headers=token)
                assert r.json() == {"n": 1}
            assert [(r.method, r.target, r.body) for r in p.requests[-2:]] == [
                ("PUT", "/302", b'{"n":1}'),
                ("PUT", "/new", b'{"n":1}'),
            ]
            await client.request("POST", p.base + "/303", json={"n": 1}, headers=token)
            assert (p.requests[-1].method, p.requests[-1].body) == ("GET", b"")
            assert all(r.headers["authorization"] == "Token secret" for r in p.requests)
            await client.request("POST", p.base + "/away", json={"n": 2}, headers=token)
            (there,) = elsewhere.requests
            assert (there.method, there.target, there.body) == ("POST", "/there", b'{"n":2}')
            assert "authorization" not in there.headers
            with pytest.raises(WireError, match="redirects"):
                await client.request("GET", p.base + "/loop")


async def test_a_connection_closed_while_idle_is_not_used_again() -> None:
    async def then_close(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply())
        await writer.drain()
        await asyncio.sleep(0.05)
        return False  # the server's idle timeout, right after the answer

    async with peer(then_close) as p, WireClient() as client:
        await client.request("POST", f"{p.base}/a", json={})
        await asyncio.sleep(0.2)
        # Not a stale connection: the close was seen while it was idle.
        await client.request("POST", f"{p.base}/b", json={})
    assert p.connections == 2


async def test_idle_connections_expire_before_the_servers_timeout() -> None:
    async with peer(ok) as p, WireClient(keepalive_expiry=0.1) as client:
        await client.request("GET", p.base)
        await client.request("GET", p.base)
        await asyncio.sleep(0.2)
        await client.request("GET", p.base)
    assert [r.connection for r in p.requests] == [1, 1, 2]


async def test_a_servers_announced_idle_timeout_is_kept() -> None:
    async def announces(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(200, b"{}", "Keep-Alive: timeout=2, max=100"))
        return True

    async with peer(announces) as p, WireClient(keepalive_expiry=10) as client:
        await client.request("GET", p.base)
        await asyncio.sleep(0.05)
        await client.request("GET", p.base)  # 0.05 s idle: kept
        await asyncio.sleep(1.1)
        await client.request("GET", p.base)  # past the server's 2 s less a second: not kept
    assert [r.connection for r in p.requests] == [1, 1, 2]


async def test_a_close_without_an_answer_is_a_stale_connection() -> None:
    async def hang_up(request: Request, writer: asyncio.StreamWriter) -> bool:
        return False

    async with peer(hang_up) as p, WireClient() as client:
        with pytest.raises(StaleConnection):
            await client.request("POST", f"{p.base}/x", json={})
    assert len(p.requests) == 1  # never sent twice by the client itself


async def test_a_close_in_the_middle_of_an_answer_is_an_error() -> None:
    async def half(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial')
        return False

    async with peer(half) as p, WireClient() as client:
        with pytest.raises(WireError, match="mid-answer") as info:
            await client.request("GET", p.base)
        assert not isinstance(info.value, StaleConnection)


async def test_silence_times_out_and_a_slow_trickle_does_not() -> None:
    async def slow(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.target == "/silent":
            await asyncio.sleep(5)
            return False
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
        for byte in b"[12]":
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.write(bytes([byte]))
        return True

    async with peer(slow) as p, WireClient(timeout=0.4) as client:
        with pytest.raises(WireTimeout):
            await client.request("GET", f"{p.base}/silent")
        # 0.8 s in all, but never 0.4 s without a byte: like httpx's read timeout.
        assert (await client.request("GET", f"{p.base}/trickle")).json() == [12]


async def test_requests_in_flight_are_limited_and_wait_for_a_slot() -> None:
    async def slow_ok(request: Request, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.1)
        return await ok(request, writer)

    async with peer(slow_ok) as p, WireClient(max_connections=2) as client:
        answers = await asyncio.gather(
            *(client.request("POST", f"{p.base}/{i}", json={"i": i}) for i in range(6))
        )
        assert [a.json() for a in answers] == [{"i": i} for i in range(6)]
        assert p.most_open <= 2
    async with peer(slow_ok) as p, WireClient(max_connections=1, timeout=0.05) as client:
        first = asyncio.ensure_future(client.request("GET", p.base, timeout=1))
        await asyncio.sleep(0.01)
        with pytest.raises(WireTimeout, match="no free connection"):
            await client.request("GET", p.base)
        await first


async def test_query_and_target_are_encoded() -> None:
    async with peer(ok) as p, WireClient() as client:
        await client.request(
            "GET", f"{p.base}/ocpi/lo cations/é?offset=0", params={"offset": 10, "limit": 5}
        )
        await client.request(
            "GET", f"{p.base}/a%2Fb/c", params={"date_from": "2026-01-01T00:00:00Z"}
        )
    assert [r.target for r in p.requests] == [
        "/ocpi/lo%20cations/%C3%A9?offset=10&limit=5",
        "/a%2Fb/c?date_from=2026-01-01T00%3A00%3A00Z",
    ]


async def test_line_breaks_in_headers_are_refused_before_anything_is_sent() -> None:
    async with peer(ok) as p, WireClient() as client:
        with pytest.raises(WireError, match="line breaks"):
            await client.request("GET", p.base, headers={"X-Request-ID": "a\r\nX-Evil: 1"})
    assert p.requests == []


async def test_malformed_answers_and_unasked_bytes() -> None:
    async def garbage(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.target == "/garbage":
            writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            return False
        writer.write(reply() + b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        return True

    async with peer(garbage) as p, WireClient() as client:
        with pytest.raises(WireError, match="malformed"):
            await client.request("GET", f"{p.base}/garbage")
        # An answer followed by bytes nobody asked for (a 408 sent to an idle connection):
        # that connection is not used again.
        await client.request("GET", f"{p.base}/a")
        await asyncio.sleep(0.05)
        await client.request("GET", f"{p.base}/b")
    assert [r.connection for r in p.requests[1:]] == [2, 3]


async def test_unreachable_and_unknown_schemes() -> None:
    async with WireClient() as client:
        with pytest.raises(ConnectError):
            await client.request("GET", "http://127.0.0.1:1/versions")
        with pytest.raises(WireError, match="cannot send"):
            await client.request("GET", "ftp://127.0.0.1/versions")


# --- TLS ------------------------------------------------------------------------------------


def _certificates(tmp: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


async def test_https_with_a_trusted_certificate_and_not_without(tmp_path: Path) -> None:
    ca_file, cert_file, key_file = _certificates(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    trusting = ssl.create_default_context(cafile=str(ca_file))
    async with peer(ok, tls=server_tls, host="localhost") as p:
        async with WireClient(tls=trusting) as client:
            for _ in range(2):
                r = await client.request("POST", f"{p.base}/x", json={"tls": True})
                assert r.json() == {"tls": True}
        assert p.connections == 1
        # The default context (httpx's: certifi's authorities) does not know this CA.
        async with WireClient() as client:
            with pytest.raises(WireError, match=r"SSL|certificate"):
                await client.request("GET", f"{p.base}/x")


# --- a forward proxy from the environment ---------------------------------------------------


async def test_a_proxy_in_the_environment_is_used_and_no_proxy_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def proxy_answer(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(200, b'{"via":"proxy"}'))
        return True

    async with peer(ok) as direct, peer(proxy_answer) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base)
        monkeypatch.setenv("NO_PROXY", "localhost")
        async with WireClient() as client:
            r = await client.request("PUT", "http://partner.invalid/ocpi/x", json={"a": 1})
            assert r.json() == {"via": "proxy"}
            (seen,) = proxy.requests
            # The absolute form a forward proxy is sent, with the body.
            assert (seen.method, seen.target, seen.body) == (
                "PUT",
                "http://partner.invalid/ocpi/x",
                b'{"a":1}',
            )
            port = direct.base.rsplit(":", 1)[1]
            r = await client.request("GET", f"http://localhost:{port}/y")
            assert r.json() == {"ok": True} and len(direct.requests) == 1


def test_under_uvloop_as_voltroam_serve_runs_it() -> None:
    """`voltroam serve` runs on uvloop (uvicorn's default when installed), whose transports are
    its own classes: the same exchanges there."""

    async def exchanges() -> None:
        async def http10(request: Request, writer: asyncio.StreamWriter) -> bool:
            if request.target == "/until-close":
                writer.write(b"HTTP/1.0 200 OK\r\n\r\n[1]")
                return False
            return await ok(request, writer)

        async with peer(http10) as p, WireClient(timeout=0.5) as client:
            for i in range(3):
                r = await client.request("POST", f"{p.base}/push", json={"i": i})
                assert r.json() == {"i": i}
            assert (await client.request("GET", f"{p.base}/until-close")).json() == [1]
            await client.request("POST", f"{p.base}/push", json={})
        # Three POSTs and the GET on one connection, closed after the GET's answer.
        assert [r.connection for r in p.requests] == [1, 1, 1, 1, 2]
        async with WireClient() as client:
            with pytest.raises(ConnectError):
                await client.request("GET", "http://127.0.0.1:1/versions")

    uvloop.run(exchanges())
