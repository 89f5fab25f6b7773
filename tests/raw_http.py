"""A raw HTTP/1.1 server on 127.0.0.1 for tests of the hub's outbound client: each request's
head and body are read as RFC 9112 frames them, and an ``answer`` function writes whatever bytes
it likes back (a well-formed answer, half of one, garbage, nothing) and says whether the
connection goes on."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which connection of the peer's it came on (1, 2, ...)
    sequence: int  # its number on that connection (1, 2, ...)


@dataclass
class Peer:
    """A raw HTTP/1.1 server: ``answer(request, writer)`` writes whatever bytes it likes and
    says whether to keep reading requests on the connection."""

    answer: Callable[[Request, asyncio.StreamWriter], Awaitable[bool]]
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    base: str = ""
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        sequence = 0
        try:
            while True:
                sequence += 1
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                line, *rest = head.split("\r\n")
                method, target, _ = line.split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (h.partition(":") for h in rest if h)
                }
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                request = Request(method, target, headers, body, number, sequence)
                self.requests.append(request)
                if not await self.answer(request, writer):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


@asynccontextmanager
async def peer(
    answer: Callable[[Request, asyncio.StreamWriter], Awaitable[bool]],
    tls: ssl.SSLContext | None = None,
    host: str = "127.0.0.1",
) -> AsyncIterator[Peer]:
    p = Peer(answer)
    server = await asyncio.start_server(p.handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    p.base = f"{'https' if tls else 'http'}://{host}:{port}"
    try:
        yield p
    finally:
        server.close()
        for writer in p.writers:
            writer.close()
        await asyncio.sleep(0.01)  # (the handlers see their connections end)


def reply(status: int = 200, body: bytes = b'{"ok":true}', *extra: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def ok(request: Request, writer: asyncio.StreamWriter) -> bool:
    writer.write(reply(200, request.body or b'{"ok":true}'))
    return True
