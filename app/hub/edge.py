"""Versions at the edge: what the hub sends to a partner, and what it reads back, in the
partner's OCPI version (``Platform.version``: 2.1.1, 2.2.1 or 2.3.0).

The store and every service speak the canonical form (2.2.1). Every outbound call (a push from
the outbox, a directed request, a pull) passes here: the body is translated by
:mod:`app.ocpi.translate` for the receiver's version, with the context it needs from the store
(the Location of a Session or CDR, the Token an AuthorizationInfo answers about), and the
answer's ``data`` is translated back. A 2.2.1 partner costs one comparison.

What the receiver's version cannot carry raises ``NotRepresentable`` (an ``OcpiError``): the
asking party gets it as its answer, a push is not sent to that partner (the delivery is dropped
with the reason, visible in ``GET /admin/deliveries``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.dbtypes import utcnow
from app.core.settings import Settings
from app.hub.parties.models import Platform, PlatformRole
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.ocpi import ext as ext_engine
from app.ocpi.client import OcpiReply
from app.ocpi.errors import OcpiError
from app.ocpi.headers import PartyRef, RoutingHeaders
from app.ocpi.kinds import MODULES_211, Kinds, kinds_of
from app.ocpi.schemas.common import Role
from app.ocpi.translate import CANONICAL_VERSION, from_canonical, to_canonical
from app.ocpi.translation import Kind, NotRepresentable, PartyIds, TranslationContext
from app.ocpi.version import OCPI_PREFIX, VERSION_PREFIX

log = logging.getLogger("voltroam.edge")

V211 = "2.1.1"
V230 = "2.3.0"
# How long the hub waits for a 2.1.1 CPO's command result: a 2.1.1 CommandResponse has no
# ``timeout`` (2.2.1's must have one), so the hub states its own (TRANSLATION.md, Commands).
COMMAND_TIMEOUT_211 = 60

# The hub's response_url for results, per version of the receiver that will POST to it.
_RESULT_PATHS = {
    "commands": (f"{VERSION_PREFIX}/sender/commands/", "commands/"),
}


COMMANDS = frozenset(
    {
        Kind.START_SESSION,
        Kind.STOP_SESSION,
        Kind.RESERVE_NOW,
        Kind.CANCEL_RESERVATION,
        Kind.UNLOCK_CONNECTOR,
    }
)


def version_of(platform: Platform | None) -> str:
    return (platform.version if platform is not None else None) or CANONICAL_VERSION


def _decimal(value: str | None) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def base_context(
    settings: Settings, platform: Platform | None, roles: Sequence[PlatformRole] = ()
) -> TranslationContext:
    """What every translation for ``platform`` may need: the hub's party, the partner's roles
    (declared for a 2.1.1 partner, whose credentials do not say), time zone and VAT rate."""
    declared = platform.declared_role if platform is not None else None
    names = [declared] if declared else [r.role for r in roles]
    return TranslationContext(
        hub=PartyIds(settings.hub_country_code.upper(), settings.hub_party_id.upper()),
        roles=tuple(Role(n) for n in dict.fromkeys(names) if n in set(Role)),
        time_zone=platform.time_zone if platform is not None else None,
        vat=_decimal(platform.vat if platform is not None else None),
        command_timeout=COMMAND_TIMEOUT_211,
        now=utcnow(),
    )


# --- what the context needs from the store ---------------------------------------------------


async def stored_data(
    session: AsyncSession, module: str, owner: PartyRef, key: str, subtype: str | None = None
) -> dict[str, Any] | None:
    row = await store.get(session, module, owner, key, subtype)
    return dict(row.data) if row is not None else None


async def token_by_contract(session: AsyncSession, contract_id: str) -> dict[str, Any] | None:
    """The stored Token whose contract_id is a 2.1.1 ``auth_id`` (Sessions and CDRs of a 2.1.1
    CPO name the token by it only)."""
    rows = (
        await session.exec(
            select(OcpiObject)
            .where(
                OcpiObject.module == "tokens",
                col(OcpiObject.data)["contract_id"].as_string() == contract_id,
            )
            .order_by(col(OcpiObject.id).desc())
            .limit(1)
        )
    ).all()
    return dict(rows[0].data) if rows else None


async def location_of(session: AsyncSession, kind: Kind, data: Mapping[str, Any]) -> Any:
    """The stored Location of a canonical Session or CDR (2.1.1 embeds it)."""
    owner = PartyRef.of(str(data.get("country_code", "")), str(data.get("party_id", "")))
    if kind == Kind.CDR:
        location_id = (data.get("cdr_location") or {}).get("id")
    else:
        location_id = data.get("location_id")
    if not location_id:
        return None
    return await stored_data(session, "locations", owner, str(location_id))


# Whole objects whose ext the store keeps, by the module they are stored in.
WHOLE: dict[Kind, str] = {
    Kind.LOCATION: "locations",
    Kind.TARIFF: "tariffs",
    Kind.TOKEN: "tokens",
    Kind.SESSION: "sessions",
    Kind.CDR: "cdrs",
}


async def stored_ext(session: AsyncSession, kind: Kind, data: Any) -> dict[str, Any] | None:
    """The ext stored beside a whole canonical object (what a 2.3.0 sender gave that 2.2.1
    cannot carry), found by the object's own identity."""
    module = WHOLE.get(kind)
    if module is None or not isinstance(data, Mapping):
        return None
    key = data.get("uid" if kind == Kind.TOKEN else "id")
    if not isinstance(key, str):
        return None
    owner = PartyRef.of(str(data.get("country_code", "")), str(data.get("party_id", "")))
    subtype = str(data.get("type", "")) if kind == Kind.TOKEN else ""
    row = await store.get(session, module, owner, key, subtype)
    return dict(row.ext) if row is not None and row.ext else None


def sub_object_path(segments: Sequence[str]) -> list[tuple[str, str]]:
    """The ext path of an EVSE or Connector below ``{country_code}/{party_id}/{location_id}``."""
    path = [("evses", segments[3])] if len(segments) > 3 else []
    if len(segments) > 4:
        path.append(("connectors", segments[4]))
    return path


async def sub_object_ext(session: AsyncSession, segments: Sequence[str]) -> dict[str, Any] | None:
    """The ext of an EVSE or Connector (``segments``: cc/pid/location/evse[/connector]) inside
    its stored Location's."""
    if len(segments) < 4:
        return None
    owner = PartyRef.of(segments[0], segments[1])
    row = await store.get(session, "locations", owner, segments[2])
    if row is None or not row.ext:
        return None
    return ext_engine.at(row.ext, sub_object_path(segments))


async def outbound_context(
    session: AsyncSession, base: TranslationContext, kind: Kind, data: Any
) -> TranslationContext:
    """The context of a canonical message leaving for a partner."""
    if kind in (Kind.SESSION, Kind.CDR) and isinstance(data, Mapping):
        return replace(base, location=await location_of(session, kind, data))
    return base


async def inbound_context(
    session: AsyncSession,
    base: TranslationContext,
    kind: Kind,
    obj: Any,
    *,
    owner: PartyRef | None,
    stored_key: tuple[str, str] | None = None,
) -> TranslationContext:
    """The context of a message of another version arriving at the hub: the owner (from the URL
    or the sender's credentials), the Token of a 2.1.1 ``auth_id``, the stored object a PATCH
    applies to."""
    ctx = base
    if owner is not None:
        ctx = replace(ctx, owner=PartyIds(owner.country_code, owner.party_id))
    if kind in (Kind.SESSION, Kind.CDR, Kind.SESSION_PATCH) and isinstance(obj, Mapping):
        auth_id = obj.get("auth_id")
        if isinstance(auth_id, str):
            ctx = replace(ctx, token=await token_by_contract(session, auth_id))
    if stored_key is not None and owner is not None:
        module, key = stored_key
        ctx = replace(ctx, stored=await stored_data(session, module, owner, key))
    return ctx


# --- outbound -------------------------------------------------------------------------------


@dataclass
class Outgoing:
    """A call to a partner, in its version: what to send, and how to read the answer."""

    version: str
    method: str
    path: str
    query: str
    body: Any
    routing: RoutingHeaders | None
    kinds: Kinds | None = None
    reply_context: TranslationContext | None = None
    # The answer the hub gives itself instead of calling (a command the receiver's version
    # does not have: NOT_SUPPORTED, as its CPO would say).
    answer: OcpiReply | None = None

    @property
    def canonical(self) -> bool:
        return self.version == CANONICAL_VERSION


def _segments(path: str) -> list[str]:
    return [unquote(s) for s in path.split("/") if s]


def _result_url(settings: Settings, url: str, version: str) -> str:
    """The hub's response_url as the receiver of that version is to POST to it."""
    ours, theirs = _RESULT_PATHS["commands"]
    prefix = f"{settings.base_url}{ours}"
    if not url.startswith(prefix):
        return url
    if version == V211:
        return f"{settings.base_url}{OCPI_PREFIX}/{V211}/{theirs}{url[len(prefix) :]}"
    return f"{settings.base_url}{OCPI_PREFIX}/{V230}/sender/{theirs}{url[len(prefix) :]}"


async def outbound(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    platform: Platform,
    *,
    module: str,
    interface: str,
    method: str,
    path: str,
    query: str,
    body: Any,
    routing: RoutingHeaders | None,
    result: bool = False,
) -> Outgoing:
    """The call to ``platform`` in its version. ``path`` is the encoded path below the endpoint
    URL, ``result`` True for a POST to a requester's response_url."""
    version = version_of(platform)
    out = Outgoing(version, method, path, query, body, routing)
    if out.canonical:
        return out
    async with sessions() as session:
        try:
            return await _outbound(
                session, settings, platform, out, module=module, interface=interface, result=result
            )
        except ValueError as exc:  # pydantic's ValidationError: not legal in that version
            raise NotRepresentable(
                module, f"not valid once translated: {_first(exc)}", version=version
            ) from None


async def _outbound(
    session: AsyncSession,
    settings: Settings,
    platform: Platform,
    out: Outgoing,
    *,
    module: str,
    interface: str,
    result: bool,
) -> Outgoing:
    version, method, path, query, body, routing = (
        out.version,
        out.method,
        out.path,
        out.query,
        out.body,
        out.routing,
    )
    if version == V211:
        out.routing = None
        if module not in MODULES_211:
            raise NotRepresentable(module, "OCPI 2.1.1 has no such module", version=V211)
    if result:
        kinds: Kinds | None = Kinds(body=Kind.COMMAND_RESULT) if module == "commands" else Kinds()
    else:
        kinds = kinds_of(module, method, interface, _segments(path))
    out.kinds = kinds
    base = base_context(settings, platform)
    kind = kinds.body if kinds is not None else None
    if kind is not None and body is not None:
        if version == V211 and kind == Kind.SESSION_PATCH:
            # "PATCHes may be sent as PUTs of the translated whole object": a 2.1.1 PATCH
            # replaces charging_periods where 2.2.1's appends to them.
            owner_cc, owner_pid, key = _segments(path)[-3:]
            stored = await stored_data(session, module, PartyRef.of(owner_cc, owner_pid), key)
            if stored is None:
                raise NotRepresentable("session", "the stored Session is gone", version=V211)
            out.method, kind, body = "PUT", Kind.SESSION, stored
        if kind in COMMANDS and isinstance(body, dict):
            body = {**body, "response_url": _result_url(settings, body["response_url"], version)}
        tctx = await outbound_context(session, base, kind, body)
        ext = None
        if version == V230:
            ext = await stored_ext(session, kind, body)
            if kind in (Kind.EVSE, Kind.CONNECTOR):
                ext = await sub_object_ext(session, _segments(path))
        try:
            out.body = from_canonical(version, kind, body, ext, tctx)
        except NotRepresentable as exc:
            if kind not in COMMANDS:
                raise
            # A command the receiver's version does not know (CANCEL_RESERVATION to 2.1.1):
            # the CommandResponse its CPO would give (mod_commands, CommandResponseType).
            log.info("command not sent to platform %s: %s", platform.id, exc.message)
            out.answer = OcpiReply(
                200,
                1000,
                None,
                {
                    "result": "NOT_SUPPORTED",
                    "timeout": 0,
                    "message": [{"language": "en", "text": exc.message[:512]}],
                },
            )
            return out
    if version == V211 and module == "tokens" and method in ("PUT", "PATCH"):
        # 2.1.1 Tokens are PUT at {country_code}/{party_id}/{uid}, without ?type.
        out.query = urlencode([(k, v) for k, v in parse_qsl(query) if k != "type"])
    if kinds is not None and kinds.reply == Kind.AUTHORIZATION_INFO:
        segments = _segments(path)
        to = routing.to_party if routing is not None else None
        types = dict(parse_qsl(query)).get("type", "RFID")
        token = await stored_data(session, "tokens", to, segments[0], types) if to else None
        out.reply_context = replace(base, token=token)
    else:
        out.reply_context = base
    return out


def _first(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg')}"
    return str(exc)[:200]


def reply_in(out: Outgoing, reply: OcpiReply) -> OcpiReply:
    """The partner's answer with its ``data`` in the canonical form. What cannot be translated
    becomes the answer's error (2001/2002), never a 5xx."""
    if out.canonical or out.kinds is None or out.kinds.reply is None:
        return reply
    if not reply.ok or reply.data is None:
        return reply
    kind, tctx = out.kinds.reply, out.reply_context or TranslationContext()
    try:
        if out.kinds.many:
            data: Any = [to_canonical(out.version, kind, item, tctx)[0] for item in reply.many()]
        else:
            data = to_canonical(out.version, kind, reply.one(), tctx)[0]
    except OcpiError as exc:
        return OcpiReply(200, exc.status_code, exc.message, None, reply.headers)
    except ValueError as exc:  # pydantic's ValidationError: not valid in the partner's version
        return OcpiReply(
            200, 2001, f"The partner's answer is not valid OCPI {out.version}: {exc}"[:500], None
        )
    return replace(reply, data=data)


async def pulled(
    settings: Settings, platform: Platform, module: str, item: Any, owner: PartyRef
) -> tuple[Any, dict[str, Any] | None] | None:
    """An object pulled from a partner's Sender interface (Locations, Tariffs): its canonical
    data and ext; None when it cannot be translated (logged; the pull counts it as ignored)."""
    version = version_of(platform)
    if version == CANONICAL_VERSION:
        return item, None
    kind = {"locations": Kind.LOCATION, "tariffs": Kind.TARIFF}.get(module)
    if kind is None:
        return item, None
    tctx = replace(
        base_context(settings, platform), owner=PartyIds(owner.country_code, owner.party_id)
    )
    try:
        return to_canonical(version, kind, item, tctx)
    except (OcpiError, ValueError) as exc:
        log.warning("ignored a %s object from platform %s: %s", module, platform.id, exc)
        return None
