"""The hub's outbound HTTP/1.1 client: asyncio protocols, httptools' parser, pools per origin.

Every push, forwarded command and relayed result is one outbound request, and httpx spent about
0.7 ms of CPU on each on the bench machine (its request and response models, cookies, auth and
redirect layers, then httpcore's pool walk and anyio's socket checks): more than the rest of
relaying a command. Here a request is its head written in one piece on a kept-alive connection
and its answer parsed by httptools (llhttp, the parser uvicorn already uses for the hub's own
requests), about 0.1 ms. What the hub needs of a client is kept, with httpx's behaviour where
there is one:

- keep-alive connections per origin (scheme, host, port), the most recent reused first; a
  connection the server closed while idle is known at once (its protocol is told) and never
  reused; one idle longer than ``keepalive_expiry`` (or a second less than the server's
  ``Keep-Alive: timeout=N``) is closed instead, before the server's own idle timeout (uvicorn's:
  5 s) can cross a request;
- at most ``max_connections`` requests in flight (a request waits for a slot up to its timeout),
  at most ``max_keepalive`` idle connections kept;
- timeouts like httpx's: connecting, waiting for a slot, and silence while waiting for the
  answer (no byte for ``timeout`` seconds), each at most ``timeout``;
- TLS with the same certificates as httpx (its default context: certifi), SNI;
- redirects (at most ``max_redirects``): 307 and 308 are followed with the same method and body,
  301 and 302 too (httpx, like browsers, turned a redirected POST into a GET, which would have
  sent an OCPI push's body nowhere and called it delivered), 303 as a GET; the Authorization
  header is not sent to another origin (except http to https on the same host, as httpx);
- ``Accept-Encoding: gzip, deflate``, decoded (pulls of thousands of Locations compress well);
- an HTTP(S)_PROXY / ALL_PROXY in the environment (NO_PROXY honoured) sends the requests it
  applies to through httpx, which tunnels them as before.

Errors: :class:`WireTimeout`; :class:`StaleConnection` when the server closed the connection
without a byte of answer (the request may or may not have been read: only a GET may be sent
again, the caller decides); :class:`WireError` for everything else (refused, DNS, TLS, a
malformed answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
import urllib.request
import zlib
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import httptools
import httpx


class WireError(Exception):
    """The request failed without an HTTP answer."""


class WireTimeout(WireError):
    """No connection, slot or answer within the timeout."""


class StaleConnection(WireError):
    """The server closed the connection without sending a byte of answer."""


class ConnectError(WireError):
    """No connection: refused, no such host, TLS handshake failed."""


_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a request target may hold as it is (RFC 3986's unreserved, sub-delims, ":", "@", "/",
# "?" and "%" of the escapes); anything else is percent-encoded.
_TARGET_SAFE = "-._~!$&'()*+,;=:@/?%"
_UNSAFE_IN_TARGET = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]")
_CONTROL = re.compile(r"[\r\n\x00]")
_REDIRECTS = frozenset((301, 302, 303, 307, 308))


class WireResponse:
    """An answer: status, headers (raw, and as ``httpx.Headers`` when asked), body."""

    __slots__ = ("_headers", "content", "raw_headers", "status_code", "url")

    def __init__(
        self, status_code: int, raw_headers: list[tuple[bytes, bytes]], content: bytes, url: str
    ) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.content = content
        self.url = url
        self._headers: httpx.Headers | None = None

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            self._headers = httpx.Headers(self.raw_headers)
        return self._headers

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` in lower case)."""
        for key, value in self.raw_headers:
            if key.lower() == name:
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.content)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one request at a time, its answer parsed as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int]) -> None:
        self.loop = loop
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        # How long this connection may wait idle: the client's keepalive_expiry, shorter when
        # the server announced a shorter idle timeout (``Keep-Alive: timeout=N``).
        self.expiry = 0.0
        self.waiter: asyncio.Future[tuple[WireResponse, bool]] | None = None
        self.url = ""
        self.timer: asyncio.Timeout | None = None
        self.timeout = 0.0
        self._reset()

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.received = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports, under `voltroam serve`, are not asyncio.Transport subclasses.)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted
            return
        self.received = True
        timer = self.timer
        if timer is not None and not timer.expired():
            timer.reschedule(self.loop.time() + self.timeout)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(WireError(f"malformed answer from {self.url}: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False  # close the transport (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.headers_done and self._until_close():
            # An answer whose body runs until the connection closes (no length, not chunked).
            self._answer(False)
        elif not self.received:
            self._fail(StaleConnection(f"{self.url}: the server closed the connection"))
        else:
            self._fail(WireError(f"{self.url}: the server closed the connection mid-answer"))

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            # A second answer in the bytes of the first (a 408 a server sends before closing):
            # nobody asked for it, and the connection is not used again.
            self.close()
        self.headers = []
        self.body = []
        self.headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:
            return  # an interim answer (100 Continue): the real one follows
        self._answer(self.parser.should_keep_alive())

    # --

    def _until_close(self) -> bool:
        if self.status in (204, 304) or 100 <= self.status < 200:
            return False
        for name, _ in self.headers:
            if name.lower() in (b"content-length", b"transfer-encoding"):
                return False
        return True

    def _answer(self, keep_alive: bool) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        body = b"".join(self.body) if len(self.body) != 1 else self.body[0]
        waiter.set_result((WireResponse(self.status, self.headers, body, self.url), keep_alive))

    def _fail(self, exc: Exception) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # (its event loop has ended)
                self.transport.close()

    async def exchange(self, head: bytes, url: str, timeout: float) -> tuple[WireResponse, bool]:
        """Send one request (``head``: request line, headers and body) and wait for its answer:
        (answer, whether the connection may be used again)."""
        assert self.transport is not None
        self._reset()
        self.url = url
        self.timeout = timeout
        waiter = self.loop.create_future()
        self.waiter = waiter
        self.transport.write(head)
        try:
            async with asyncio.timeout(timeout) as timer:
                self.timer = timer
                return await waiter
        except TimeoutError:
            raise WireTimeout(f"{url}: no answer within {timeout:g} s") from None
        finally:
            self.timer = None
            self.waiter = None


_tls: ssl.SSLContext | None = None


def default_tls() -> ssl.SSLContext:
    """httpx's default context (certifi's certificates, its protocol settings), made once."""
    global _tls
    if _tls is None:
        _tls = httpx.create_ssl_context()
    return _tls


def encode_json(value: Any) -> bytes:
    """A JSON body as httpx encoded one."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _param(value: Any) -> str:
    # (httpx's spelling of query values)
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def with_params(url: str, params: Mapping[str, Any] | None) -> str:
    """``url`` with ``params`` in its query, replacing the ones of the same name (as httpx)."""
    if not params:
        return url
    scheme, netloc, path, query, fragment = urlsplit(url)
    merged = dict(parse_qsl(query, keep_blank_values=True))
    merged.update({k: _param(v) for k, v in params.items()})
    return urlunsplit((scheme, netloc, path, urlencode(merged), fragment))


class WireClient:
    """A pool of HTTP/1.1 connections (see the module's docstring)."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 100,
        max_keepalive: int = 50,
        keepalive_expiry: float = 4.0,
        tls: ssl.SSLContext | None = None,
        max_redirects: int = 10,
    ) -> None:
        self.timeout = timeout
        self.headers: dict[str, str] = dict(headers or {})
        self.max_connections = max_connections
        self.max_keepalive = max_keepalive
        self.keepalive_expiry = keepalive_expiry
        self.max_redirects = max_redirects
        self._tls = tls
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._slots = asyncio.Semaphore(max_connections)
        self._in_use: set[_Connection] = set()
        self._proxies = urllib.request.getproxies_environment()
        self._via_proxy: httpx.AsyncClient | None = None
        self._closed = False
        # The part of every request head that never changes.
        self._fixed = "".join(
            f"{name}: {value}\r\n"
            for name, value in {
                "Accept": "*/*",
                "Accept-Encoding": "gzip, deflate",
                **self.headers,
            }.items()
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> WireResponse:
        """Send a request (``json``: its body, encoded as httpx did) and read the answer,
        following redirects."""
        if self._closed:
            raise WireError("the client is closed")
        url = with_params(url, params)
        body = encode_json(json) if json is not None else None
        wait = self.timeout if timeout is None else timeout
        out: Mapping[str, str] = headers or {}  # (copied only when a redirect drops a header)
        for _ in range(self.max_redirects + 1):
            response = await self._one(method, url, out, body, wait)
            if response.status_code not in _REDIRECTS:
                return response
            location = response.header(b"location")
            if location is None:
                return response
            target = urljoin(url, location.decode("latin-1"))
            if response.status_code == 303 and method != "HEAD":
                method, body = "GET", None
            if not _same_origin(url, target) and not _https_upgrade(url, target):
                out = {k: v for k, v in out.items() if k.lower() != "authorization"}
            url = target
        raise WireError(f"{url}: more than {self.max_redirects} redirects")

    async def _one(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> WireResponse:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in _DEFAULT_PORTS or not host:
            raise WireError(f"cannot send to {url!r}")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            raise WireError(f"cannot send to {url!r}: bad port") from None
        if self._proxies and self._proxied(scheme, host):
            return await self._through_proxy(method, url, headers, body, timeout)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        if _UNSAFE_IN_TARGET.search(target):
            # Spaces, non-ASCII and the like in an advertised URL: percent-encoded (as httpx
            # did), escapes already there kept.
            target = quote(target, safe=_TARGET_SAFE)
        netloc = parts.netloc.rpartition("@")[2]  # (never credentials in the Host header)
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {netloc}\r\n", self._fixed]
        for name, value in headers.items():
            if _CONTROL.search(name) or _CONTROL.search(value):
                raise WireError(f"header {name!r}: line breaks are not allowed")
            lines.append(f"{name}: {value}\r\n")
        if body is not None:
            lines.append(f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0\r\n\r\n")
        else:
            lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        if body is not None:
            head += body

        slots = self._slots
        if slots.locked():
            try:
                async with asyncio.timeout(timeout):
                    await slots.acquire()
            except TimeoutError:
                raise WireTimeout(f"{url}: no free connection within {timeout:g} s") from None
        else:
            await slots.acquire()
        try:
            key = (scheme, host, port)
            connection = self._take_idle(key)
            if connection is None:
                connection = await self._connect(key, timeout, url)
            self._in_use.add(connection)
            try:
                response, keep_alive = await connection.exchange(head, url, timeout)
            except BaseException:
                connection.close()
                raise
            finally:
                self._in_use.discard(connection)
            if keep_alive and not connection.closed and not self._closed:
                connection.expiry = _expiry(response, self.keepalive_expiry)
                self._put_idle(connection)
            else:
                connection.close()
        finally:
            slots.release()
        return _decoded(response)

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.closed:
                continue
            if connection.loop is not loop:  # (kept from an event loop that has ended)
                connection.close()
                continue
            if now - connection.idle_since > connection.expiry:
                connection.close()
                continue
            return connection
        return None

    def _put_idle(self, connection: _Connection) -> None:
        if self._idle_count >= self.max_keepalive:
            self._drop_closed()
        if self._idle_count >= self.max_keepalive:
            connection.close()
            return
        connection.idle_since = connection.loop.time()
        self._idle.setdefault(connection.key, []).append(connection)
        self._idle_count += 1

    def _drop_closed(self) -> None:
        count = 0
        for key, idle in list(self._idle.items()):
            alive = [c for c in idle if not c.closed]
            if alive:
                self._idle[key] = alive
            else:
                del self._idle[key]
            count += len(alive)
        self._idle_count = count

    async def _connect(self, key: tuple[str, str, int], timeout: float, url: str) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        tls: ssl.SSLContext | None = None
        if scheme == "https":
            tls = self._tls or default_tls()
        try:
            async with asyncio.timeout(timeout):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(loop, key),
                    host.strip("[]"),
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError:
            raise WireTimeout(f"{url}: no connection within {timeout:g} s") from None
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConnectError(f"{url}: {type(exc).__name__}: {exc}") from exc
        return protocol

    def _proxied(self, scheme: str, host: str) -> bool:
        if scheme not in self._proxies and "all" not in self._proxies:
            return False
        return not urllib.request.proxy_bypass_environment(host, self._proxies)  # type: ignore[attr-defined]

    async def _through_proxy(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> WireResponse:
        if self._via_proxy is None:
            self._via_proxy = httpx.AsyncClient(headers=self.headers, verify=self._tls or True)
        out = dict(headers)
        if body is not None:
            out["Content-Type"] = "application/json"
        try:
            answer = await self._via_proxy.request(
                method, url, headers=out, content=body, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise WireTimeout(f"{url}: {type(exc).__name__}") from exc
        except httpx.RemoteProtocolError as exc:
            raise StaleConnection(f"{url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise WireError(f"{url}: {type(exc).__name__}: {exc}") from exc
        # (httpx has decoded the body already.)
        raw = [(k, v) for k, v in answer.headers.raw if k.lower() not in (b"content-encoding",)]
        return WireResponse(answer.status_code, raw, answer.content, url)

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0
        for connection in list(self._in_use):
            connection.close()
        if self._via_proxy is not None:
            await self._via_proxy.aclose()

    async def __aenter__(self) -> WireClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


def _expiry(response: WireResponse, default: float) -> float:
    """How long the connection of ``response`` may be kept idle: ``default``, or a second less
    than the ``timeout`` of a ``Keep-Alive`` header (RFC 2068 19.7.1.1: Apache and Node.js say
    when they will close an idle connection), so that the hub never sends on a connection the
    server is closing."""
    announced = response.header(b"keep-alive")
    if announced is None:
        return default
    for part in announced.split(b","):
        name, _, value = part.strip().partition(b"=")
        if name.strip().lower() == b"timeout":
            try:
                seconds = float(value.strip())
            except ValueError:
                return default
            return max(0.0, min(default, seconds - 1.0))
    return default


def _decoded(response: WireResponse) -> WireResponse:
    encoding = response.header(b"content-encoding")
    if encoding is None or not response.content:
        return response
    kind = encoding.strip().lower()
    try:
        if kind == b"gzip":
            content = zlib.decompress(response.content, 16 + zlib.MAX_WBITS)
        elif kind == b"deflate":
            try:
                content = zlib.decompress(response.content)
            except zlib.error:
                content = zlib.decompress(response.content, -zlib.MAX_WBITS)  # raw deflate
        elif kind == b"identity":
            return response
        else:
            raise WireError(f"{response.url}: unknown Content-Encoding {kind!r}")
    except zlib.error as exc:
        raise WireError(f"{response.url}: a {kind!r} body that does not decode") from exc
    raw = [(k, v) for k, v in response.raw_headers if k.lower() != b"content-encoding"]
    return WireResponse(response.status_code, raw, content, response.url)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or ""), port


def _same_origin(url: str, other: str) -> bool:
    return _origin(url) == _origin(other)


def _https_upgrade(url: str, other: str) -> bool:
    """``other`` is ``url``'s host over https on the default ports (httpx keeps the
    Authorization header there)."""
    a, b = _origin(url), _origin(other)
    return a[1] == b[1] and a[0] == "http" and a[2] == 80 and b[0] == "https" and b[2] == 443
