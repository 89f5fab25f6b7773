"""OCPI 2.1.1 and 2.3.0 at the edge: the hub serves them at /ocpi/2.1.1/... and /ocpi/2.3.0/...
by translating each request to the canonical form (2.2.1), handing it to the 2.2.1 route that
serves it (the same routers, services and store), and translating the answer back.

- 2.1.1: one URL per module, ``/ocpi/2.1.1/{module}/...`` (2.1.1 has no interface roles). A GET,
  a real-time authorization (``POST {uid}/authorize``) and a CommandResult (POSTed to the
  hub's response_url) go to the hub's Sender interface, every other push to its Receiver.
  2.1.1 requests carry no routing headers: the 2.2.1 routes find the receiver from what the hub
  stores (the Location's CPO for commands, the token's eMSP for authorization, Sessions and
  CDRs) and the sender from the token. Objects without country_code/party_id get them from the
  URL or the sender's credentials; a Session's or CDR's ``auth_id`` names the stored Token.
- 2.3.0: ``/ocpi/2.3.0/{sender|receiver}/{module}/...``, as 2.2.1.
- What the version cannot say gets the spec's error in the answer (``NotRepresentable``: 2001,
  ``MissingContext``: 2002), never a 5xx; a module the version does not have is an unknown
  route (404). Items of a list that the version cannot carry (a Location with publish false, to
  2.1.1) are left out of that list.

The translators are pure (app/ocpi/translate.py); this middleware gives them their context.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from pydantic import ValidationError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.security import hash_token
from app.hub import edge
from app.hub.context import HubContext
from app.hub.parties import service as parties
from app.hub.parties.models import Platform, PlatformRole
from app.hub.routing import OWNERS
from app.hub.store import service as store
from app.ocpi import ext as ext_engine
from app.ocpi.auth import token_candidates
from app.ocpi.envelope import ocpi_response
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef
from app.ocpi.incoming import Incoming, announced
from app.ocpi.kinds import MODULES_211, Kinds, kinds_of
from app.ocpi.status import OcpiStatus
from app.ocpi.translate import from_canonical, to_canonical
from app.ocpi.translation import Kind, NotRepresentable, TariffFields, TranslationContext
from app.ocpi.version import OCPI_PREFIX, VERSION_PREFIX

__all__ = ("VERSION_STATE_KEY", "VersionEdgeMiddleware")

_PATH = re.compile(rf"^{OCPI_PREFIX}/(2\.1\.1|2\.3\.0)/(.+)$")
# A whole object PUT by a 2.2.1 sender: it has nothing 2.2.1 lacks, so any stored ext goes.
_PUT_221 = re.compile(
    rf"^{VERSION_PREFIX}/receiver/(locations|tariffs|tokens|sessions)/([^/]+)/([^/]+)/([^/]+)$"
)
_OTHER_VERSIONS = (f"{OCPI_PREFIX}/2.1.1/", f"{OCPI_PREFIX}/2.3.0/")
_RECEIVER_221 = f"{VERSION_PREFIX}/receiver/"
# Where the version a request came in is kept for the route (request.state.ocpi_version).
VERSION_STATE_KEY = "ocpi_version"


_SUB_OBJECTS = frozenset(
    {Kind.EVSE, Kind.CONNECTOR, Kind.LOCATION_PATCH, Kind.EVSE_PATCH, Kind.CONNECTOR_PATCH}
)


class _Answer(Exception):
    """An error answer in OCPI terms, given instead of calling the route."""

    def __init__(self, status_code: int, message: str, http_status: int = 200) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.http_status = http_status


def _interface_211(module: str, method: str, segments: list[str]) -> str:
    if method == "GET":
        return "SENDER"
    if module == "tokens" and method == "POST" and segments[-1:] == ["authorize"]:
        return "SENDER"
    if module == "commands" and method == "POST" and segments:
        return "RECEIVER" if kinds_of(module, method, "RECEIVER", segments) else "SENDER"
    return "RECEIVER"


class _Request:
    """One request of another version, as the middleware sees it."""

    def __init__(self, version: str, method: str, rest: str) -> None:
        self.version = version
        self.method = method
        raw = [p for p in rest.split("/") if p]
        if version == edge.V211:
            self.module = raw[0]
            self.raw_segments = raw[1:]
            self.segments = [unquote(s) for s in self.raw_segments]
            self.interface = (
                ""
                if self.module == "credentials"
                else _interface_211(self.module, method, self.segments)
            )
        elif raw[0] == "credentials":
            self.module, self.interface, self.raw_segments = "credentials", "", raw[1:]
            self.segments = [unquote(s) for s in self.raw_segments]
        else:
            self.interface = raw[0].upper()
            self.module = raw[1] if len(raw) > 1 else ""
            self.raw_segments = raw[2:]
            self.segments = [unquote(s) for s in self.raw_segments]

    def inner_path(self) -> str:
        if self.module == "credentials":
            return f"{VERSION_PREFIX}/credentials"
        tail = "/".join(self.raw_segments)
        path = f"{VERSION_PREFIX}/{self.interface.lower()}/{self.module}"
        return f"{path}/{tail}" if tail else path

    def known(self) -> bool:
        if self.version == edge.V211 and self.module not in MODULES_211:
            return False
        return self.module == "credentials" or self.interface in ("SENDER", "RECEIVER")


async def _caller(
    session: AsyncSession, headers: Headers
) -> tuple[Platform | None, list[PlatformRole]]:
    """The platform a token names (read only: the route authenticates it again, for real)."""
    candidates = token_candidates(headers.get("authorization"))
    if not candidates:
        return None, []
    hashes = [hash_token(c) for c in candidates]
    platform = (
        await session.exec(select(Platform).where(col(Platform.inbound_token_hash).in_(hashes)))
    ).first()
    if platform is None:
        return None, []
    roles = (
        await session.exec(select(PlatformRole).where(PlatformRole.platform_id == platform.id))
    ).all()
    return platform, list(roles)


def _own_party(roles: list[PlatformRole], module: str) -> PartyRef | None:
    allowed = OWNERS.get(module, frozenset({"EMSP", "OTHER"}))
    for role in roles:
        if role.role in allowed:
            return PartyRef(role.country_code, role.party_id)
    if roles:
        return PartyRef(roles[0].country_code, roles[0].party_id)
    return None


class VersionEdgeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        # A 2.2.1 request (nearly all) passes with a prefix check; the patterns only run on the
        # paths that may match them.
        match = (
            _PATH.match(path)
            if scope["type"] == "http" and path.startswith(_OTHER_VERSIONS)
            else None
        )
        if match is None:
            put = (
                _PUT_221.match(path)
                if scope.get("method") == "PUT" and path.startswith(_RECEIVER_221)
                else None
            )
            if put is None:
                await self.app(scope, receive, send)
                return
            module, cc, pid, key = (unquote(g) for g in put.groups())
            with announced(Incoming(module, cc, pid, key, None)):
                await self.app(scope, receive, send)
            return
        request = _Request(match.group(1), scope["method"], match.group(2))
        if not request.known():
            what = f"OCPI {request.version} has no such module or interface"
            await ocpi_response(None, OcpiStatus.CLIENT_ERROR, what, http_status=404)(
                scope, receive, send
            )
            return
        body = await _read_body(receive)
        hub: HubContext = scope["app"].state.hub
        try:
            await self._handle(hub, request, scope, body, receive, send)
        except _Answer as answer:
            await ocpi_response(
                None, answer.status_code, answer.message, http_status=answer.http_status
            )(scope, _replay(b""), send)

    async def _handle(
        self,
        hub: HubContext,
        request: _Request,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
    ) -> None:
        headers = Headers(scope=scope)
        kinds = kinds_of(request.module, request.method, request.interface, request.segments)
        method, query = request.method, scope.get("query_string", b"").decode("latin-1")
        incoming: Incoming | None = None
        async with hub.sessions() as session:
            platform, roles = await _caller(session, headers)
            base = edge.base_context(hub.settings, platform, roles)
            if (
                request.module == "credentials"
                and request.version == edge.V230
                and method in ("POST", "PUT")
                and platform is not None
                and not await parties.reachable_roles(session, platform.id)
            ):
                # The answer could not be said: 2.3.0 credentials list the parties reachable
                # through the hub (at least one; 2.3.0 has no HUB role). Refused before anything
                # is stored.
                raise _Answer(
                    OcpiStatus.UNSUPPORTED_VERSION,
                    "No party is reachable through the hub yet, and OCPI 2.3.0 credentials must"
                    " list one: register in OCPI 2.2.1",
                )
            if kinds is not None and kinds.body is not None and body and platform is not None:
                body, method, query, incoming = await self._request_in(
                    session, request, kinds.body, body, base, roles, query
                )
        inner = dict(scope)
        inner["path"] = request.inner_path()
        inner["raw_path"] = inner["path"].encode("latin-1")
        inner["method"] = method
        inner["query_string"] = query.encode("latin-1")
        inner["state"] = {**scope.get("state", {}), VERSION_STATE_KEY: request.version}
        mutable = MutableHeaders(scope=inner)
        mutable["content-length"] = str(len(body))
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        with announced(incoming):
            await self.app(inner, _replay(body, receive), capture)
        out = b"".join(chunks)
        response_headers = MutableHeaders(raw=list(started.get("headers", [])))
        if kinds is not None and kinds.reply is not None and platform is not None:
            async with hub.sessions() as session:
                out = await self._reply_out(session, hub, request, kinds, out, base, platform)
        link = response_headers.get("link")
        if link:
            response_headers["link"] = link.replace(
                f"{hub.settings.base_url}{request.inner_path()}",
                f"{hub.settings.base_url}{scope['path']}",
            )
        response_headers["content-length"] = str(len(out))
        await send(
            {
                "type": "http.response.start",
                "status": started.get("status", 500),
                "headers": response_headers.raw,
            }
        )
        await send({"type": "http.response.body", "body": out})

    async def _request_in(
        self,
        session: AsyncSession,
        request: _Request,
        kind: Kind,
        body: bytes,
        base: TranslationContext,
        roles: list[PlatformRole],
        query: str,
    ) -> tuple[bytes, str, str, Incoming | None]:
        """The body in the canonical form (and the method and query the 2.2.1 route takes), and
        the ext of a whole object for the store to keep beside it."""
        try:
            obj = json.loads(body)
        except ValueError:
            return body, request.method, query, None  # the route answers 400
        segments = request.segments
        owner: PartyRef | None = None
        stored_key: tuple[str, str] | None = None
        if request.interface == "RECEIVER" and len(segments) >= 3:
            owner = PartyRef.of(segments[0], segments[1])
            if kind == Kind.SESSION_PATCH:
                stored_key = ("sessions", segments[2])
        elif request.module != "credentials":
            owner = _own_party(roles, request.module)
        method = request.method
        try:
            tctx = await edge.inbound_context(
                session, base, kind, obj, owner=owner, stored_key=stored_key
            )
            data, ext = to_canonical(request.version, kind, obj, tctx)
            if kind == Kind.TARIFF_PATCH:
                # 2.2.1 has no Tariff PATCH: the fields replace the stored Tariff's, as a PUT.
                assert owner is not None
                stored = await edge.stored_data(session, "tariffs", owner, segments[2])
                if stored is None:
                    raise _Answer(OcpiStatus.INVALID_PARAMETERS, "PATCH of an unknown Tariff")
                data = {**stored, **TariffFields.model_validate(data).to_json()}
                method = "PUT"
        except OcpiError as exc:
            raise _Answer(exc.status_code, exc.message) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise _Answer(
                OcpiStatus.INVALID_PARAMETERS,
                f"Not a valid OCPI {request.version} {kind.value}: {where}: {first['msg']}",
            ) from None
        if request.module == "tokens" and method in ("PUT", "PATCH") and isinstance(data, dict):
            # The 2.2.1 route takes the token type from ?type= (RFID when omitted).
            token_type = data.get("type")
            if token_type:
                pairs = [(k, v) for k, v in parse_qsl(query) if k != "type"]
                query = urlencode([*pairs, ("type", token_type)])
        incoming = None
        module = edge.WHOLE.get(kind)
        if kind in _SUB_OBJECTS and owner is not None and isinstance(data, dict):
            # An EVSE or Connector PUT, or a Location/EVSE/Connector PATCH: its ext goes into
            # the stored Location's (app/ocpi/ext.py: put_at, patch_at).
            row = await store.get(session, "locations", owner, segments[2])
            path = edge.sub_object_path(segments)
            try:
                if kind in (Kind.EVSE, Kind.CONNECTOR):
                    merged = ext_engine.put_at(row.ext if row else None, path, ext)
                else:
                    merged = ext_engine.patch_at(row.ext if row else None, path, data, ext)
            except ext_engine.ExtOnlyParent as exc:
                raise _Answer(
                    OcpiStatus.INVALID_PARAMETERS,
                    f"{'/'.join(segments[2:])}: {exc} (OCPI 2.2.1 cannot carry it): PUT the"
                    " whole Location or EVSE",
                ) from None
            incoming = Incoming(
                "locations", owner.country_code, owner.party_id, segments[2], merged
            )
        elif module is not None and isinstance(data, dict):
            # The whole object replaces the stored one: its ext too (None from 2.1.1).
            key = data.get("uid" if kind == Kind.TOKEN else "id")
            incoming = Incoming(
                module, str(data["country_code"]), str(data["party_id"]), str(key), ext
            )
        return json.dumps(data).encode(), method, query, incoming

    async def _reply_out(
        self,
        session: AsyncSession,
        hub: HubContext,
        request: _Request,
        kinds: Kinds,
        out: bytes,
        base: TranslationContext,
        platform: Platform,
    ) -> bytes:
        try:
            envelope = json.loads(out) if out else None
        except ValueError:
            return out
        if not isinstance(envelope, dict) or envelope.get("data") is None:
            return out
        kind = kinds.reply
        assert kind is not None
        tctx = base
        if kind == Kind.CREDENTIALS:
            tctx = replace(base, reachable=await parties.reachable_roles(session, platform.id))
        data = envelope["data"]
        try:
            if kinds.many and isinstance(data, list):
                items = []
                for item in data:
                    try:
                        items.append(await self._one_out(session, request, kind, item, tctx))
                    except (NotRepresentable, ValueError):
                        continue  # this partner's version cannot carry it: not listed
                envelope["data"] = items
            else:
                envelope["data"] = await self._one_out(session, request, kind, data, tctx)
        except OcpiError as exc:
            envelope.pop("data", None)
            envelope["status_code"] = exc.status_code
            envelope["status_message"] = exc.message
        except ValueError:  # pydantic's ValidationError: the stored object is not legal there
            envelope.pop("data", None)
            envelope["status_code"] = OcpiStatus.SERVER_ERROR
            envelope["status_message"] = f"The object cannot be given in OCPI {request.version}"
        return json.dumps(envelope).encode()

    @staticmethod
    async def _one_out(
        session: AsyncSession, request: _Request, kind: Kind, data: Any, tctx: TranslationContext
    ) -> Any:
        tctx = await edge.outbound_context(session, tctx, kind, data)
        ext = await edge.stored_ext(session, kind, data) if request.version == edge.V230 else None
        return from_canonical(request.version, kind, data, ext, tctx)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, then: Receive | None = None) -> Receive:
    """The body, already read, once; then what the client does (its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
