"""Roaming agreements: the one check of who may exchange with whom.

Commercial hubs move data between a CPO and an eMSP only once they have a roaming agreement (the
OCN node gives each party white and black lists per module). Here an agreement is a row between a
CPO role and an eMSP-like role (EMSP, NSP, OTHER, SCSP) covering a set of modules, in a state
(proposed, active, suspended, ended); a pair without a row has the hub's default,
AGREEMENTS_DEFAULT (``open``: active for every module, ``closed``: proposed).

Every path asks ``may`` (or one of the helpers below, which ask it) and nothing else:

- broadcast pushes (``receivers``) and what an OFFLINE party is sent when it is back
  (``pushes``): Locations and Tariffs to eMSPs, Tokens to CPOs;
- GET-all and GET-one on the hub's Sender interfaces (``readable_owners``);
- directed requests of every module (``allows``, called where the receiver is resolved); a request
  across a missing agreement gets exactly what a request to an unknown party gets (4001 "Unknown
  receiver", transport_and_format "Message Routing"), so the answer does not tell whether the
  party exists;
- Sessions and CDRs the hub routes to the token's eMSP (``recipient``): a Session that started
  while the agreement was active finishes (its updates and its CDR still go to the token's owner);
- real-time authorization (a token of an eMSP without an agreement is an unknown token, 2004),
  commands and ChargingProfiles, charging preferences, HubClientInfo (``visible``).

The hub's own parties (the own CPO, the payments eMSP) are parties like any other: agreements apply
to them, with the same default.

The agreements are kept in memory per database, in the cache of the parties (app/hub/directory),
which is good for one value of ``parties_version``: every change of the agreements raises that
counter in its own transaction (``bump``), so that every instance sharing the database reloads
them in its next unit of work, which reads the counter anyway (authentication does). A check
costs no statement of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from weakref import WeakKeyDictionary

from prometheus_client import Counter
from sqlalchemy import event, text, update
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.hub.agreements_models import UNPUBLISHED, Agreement, AgreementRevision, AgreementState
from app.hub.context import HubContext
from app.hub.directory.models import PartiesVersion
from app.hub.directory.service import directory
from app.hub.parties.models import PlatformRole
from app.hub.routing import BROADCAST_TO, CPO_ONLY, EMSP_LIKE, OWNERS, Party
from app.hub.store import service as store
from app.hub.store.models import OcpiObject
from app.ocpi.headers import PartyRef
from app.ocpi.pagination import PageParams

if TYPE_CHECKING:
    from app.core.metrics import HubMetrics
    from app.hub.outbox.service import Push

log = logging.getLogger("voltroam.agreements")

# The modules an agreement covers. Real-time authorization is part of "tokens", charging
# preferences of "sessions"; HubClientInfo shows the parties a party may reach in any module.
MODULES = ("locations", "tariffs", "tokens", "sessions", "cdrs", "commands", "chargingprofiles")
# Session statuses of a Session still running: requests about it, its updates and its CDR
# go on after its agreement was suspended or ended.
RUNNING = frozenset({"ACTIVE", "PENDING", "RESERVATION"})

Pair = tuple[PartyRef, PartyRef]


class Caller(Protocol):
    """What the checks need of a request's caller (``app.hub.auth.Caller``, which imports
    modules that import this one)."""

    def parties(self, allowed_roles: frozenset[str] | None = None) -> list[PartyRef]: ...

    def readable_owners(self, module: str) -> list[PartyRef] | None: ...


@dataclass(frozen=True)
class Terms:
    state: str
    modules: frozenset[str] | None

    def allow(self, module: str) -> bool:
        return self.state == AgreementState.ACTIVE and (
            self.modules is None or module in self.modules
        )


@dataclass(frozen=True)
class Book:
    """The agreements of one database at one revision, and the hub's default."""

    default_open: bool
    pairs: dict[Pair, Terms] = field(default_factory=dict)
    # Parties with an agreement that does not let everything through.
    restricted: frozenset[PartyRef] = frozenset()

    def may(self, cpo: PartyRef, emsp: PartyRef, module: str) -> bool:
        terms = self.pairs.get((cpo, emsp))
        if terms is None:
            return self.default_open
        return terms.allow(module)

    def state(self, cpo: PartyRef, emsp: PartyRef) -> str:
        terms = self.pairs.get((cpo, emsp))
        if terms is not None:
            return terms.state
        return AgreementState.ACTIVE if self.default_open else AgreementState.PROPOSED

    def everyone(self, parties: Iterable[PartyRef]) -> bool:
        """True when these parties may exchange with every party of the other side."""
        return self.default_open and not any(p in self.restricted for p in parties)


@dataclass(frozen=True)
class _Loaded:
    pairs: dict[Pair, Terms]
    restricted: frozenset[PartyRef]


_REFUSALS: WeakKeyDictionary[HubMetrics, Counter] = WeakKeyDictionary()
# The key of the agreements in the cache of the parties (app/hub/directory).
_BOOK = ("agreements",)
# Set on a session whose transaction changed the agreements: until it ends, its checks read
# them from the database (they see its own changes) and leave the cache alone (what it holds is
# not committed yet, and may never be).
_WRITTEN = "voltroam.agreements_written"


def _refusals(ctx: HubContext) -> Counter:
    counter = _REFUSALS.get(ctx.metrics)
    if counter is None:
        counter = Counter(
            "voltroam_agreement_refusals",
            "Requests refused and pushes withheld for want of an active roaming agreement, by"
            " module and kind (request: refused as an unknown receiver; push: not sent; read:"
            " objects left out of a GET)",
            ["module", "kind"],
            registry=ctx.metrics.registry,
        )
        _REFUSALS[ctx.metrics] = counter
    return counter


def refused(ctx: HubContext, module: str, kind: str, count: int = 1) -> None:
    if count:
        _refusals(ctx).labels(module=module, kind=kind).inc(count)


_PARTIES_VERSION: Any = PartiesVersion.__table__  # type: ignore[attr-defined]


async def bump(session: AsyncSession) -> None:
    """Tell every instance that the agreements changed (the caller commits): the parties
    version goes up with them (and the agreements' own revision, kept for the record)."""
    await session.exec(
        update(AgreementRevision)
        .where(col(AgreementRevision.id) == 1)
        .values(revision=AgreementRevision.revision + 1)
        .execution_options(synchronize_session=False)
    )
    await session.exec(
        update(_PARTIES_VERSION)
        .where(_PARTIES_VERSION.c.id == 1)
        .values(value=_PARTIES_VERSION.c.value + 1)
    )
    session.info[_WRITTEN] = True


def _after_transaction(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction only: a savepoint ending inside it leaves its changes pending.
    if transaction.parent is None:
        session.info.pop(_WRITTEN, None)


event.listen(Session, "after_transaction_end", _after_transaction)


async def _load(session: AsyncSession) -> _Loaded:
    rows = (await session.exec(select(Agreement))).all()
    pairs = {
        (
            PartyRef(r.cpo_country_code, r.cpo_party_id),
            PartyRef(r.emsp_country_code, r.emsp_party_id),
        ): Terms(r.state, frozenset(r.modules) if r.modules is not None else None)
        for r in rows
    }
    restricted = frozenset(
        party
        for pair, terms in pairs.items()
        if terms.state != AgreementState.ACTIVE or terms.modules is not None
        for party in pair
    )
    return _Loaded(pairs, restricted)


async def book(session: AsyncSession, ctx: HubContext) -> Book:
    """The agreements as of now: from memory while the parties version has not moved."""
    loaded: _Loaded | None
    if session.info.get(_WRITTEN):
        loaded = await _load(session)
    else:
        view = await directory(session)
        loaded = view.get(_BOOK) if view is not None else None
        if loaded is None:
            loaded = await _load(session)
            if view is not None:
                view.put(_BOOK, loaded)
    return Book(ctx.settings.agreements_default == "open", loaded.pairs, loaded.restricted)


async def may(
    session: AsyncSession, ctx: HubContext, cpo: PartyRef, emsp: PartyRef, module: str
) -> bool:
    """May ``cpo`` and ``emsp`` exchange ``module`` data now?"""
    return (await book(session, ctx)).may(cpo, emsp, module)


def pair(receiver_role: str, receiver: PartyRef, other: PartyRef) -> Pair:
    """(CPO, eMSP) of a message between ``receiver`` (in ``receiver_role``) and ``other``."""
    return (receiver, other) if receiver_role in CPO_ONLY else (other, receiver)


async def allows(
    session: AsyncSession, ctx: HubContext, party: Party, asking: PartyRef, module: str
) -> bool:
    """May ``asking`` reach ``party`` (a receiver found for a directed request) in ``module``?
    Counted when not."""
    cpo, emsp = pair(party.role.role, party.ref, asking)
    if await may(session, ctx, cpo, emsp, module):
        return True
    refused(ctx, module, "request")
    log.info("%s to %s refused: no active agreement for %s", asking, party.ref, module)
    return False


async def authorizes(session: AsyncSession, ctx: HubContext, cpo: PartyRef, emsp: PartyRef) -> bool:
    """May the CPO ``cpo`` have tokens of ``emsp`` authorized (real-time, or from the stored
    Token's whitelist)? Counted when not."""
    if await may(session, ctx, cpo, emsp, "tokens"):
        return True
    refused(ctx, "tokens", "request")
    return False


async def reachable_owner(
    session: AsyncSession, ctx: HubContext, cpo: PartyRef | None, emsp: PartyRef, module: str
) -> PartyRef | None:
    """``cpo`` (the owner of an object a request names) when ``emsp`` may reach it, else None:
    the object is then one the hub does not know. Counted when not."""
    if cpo is None or await may(session, ctx, cpo, emsp, module):
        return cpo
    refused(ctx, module, "request")
    return None


def _owner(object_ref: str) -> PartyRef | None:
    parsed = store.parse_object_ref(object_ref)
    return parsed[1] if parsed else None


async def receivers(
    session: AsyncSession,
    ctx: HubContext,
    module: str,
    object_ref: str,
    parties: list[Party],
    stored: OcpiObject | None = None,
) -> list[Party]:
    """The broadcast receivers of an object that have an agreement with its owner (and, for a
    Location that is not published, that own a token it is published to). ``stored``: the
    object's row as the caller just stored it (saves reading it again)."""
    parsed = store.parse_object_ref(object_ref)
    if parsed is None or not parties:
        return parties
    owner = parsed[1]
    rules = await book(session, ctx)
    kept = [p for p in parties if rules.may(*pair(p.role.role, p.ref, owner), module)]
    refused(ctx, module, "push", len(parties) - len(kept))
    if module == "locations" and kept:
        row = stored or await store.get(session, module, owner, parsed[2], parsed[3])
        if row is not None and restricted(row):
            kept = [p for p in kept if await _shown_to(session, row, p.ref)]
    return kept


# --- Locations that are not published (mod_locations "publish", "publish_allowed_to") ---------


def restricted(row: OcpiObject) -> bool:
    """ "Locations that have this flag set to false SHALL not be shown in an app or on a website
    etc. unless it is to the owner of a Token in the publish_allowed_to list"."""
    return row.module == "locations" and row.data.get("publish") is False


def _same(a: object, b: object, ci: bool) -> bool:
    if a is None or b is None:
        return False
    return str(a).upper() == str(b).upper() if ci else str(a) == str(b)


def publish_matches(allowed: dict[str, object], token: dict[str, object]) -> bool:
    """ "Only owners of Tokens that match all the set fields of one PublishToken in the list are
    allowed to be shown this location" (uid and group_id are CiStrings)."""
    fields = {"uid": True, "type": False, "visual_number": False, "issuer": False, "group_id": True}
    wanted = {name: ci for name, ci in fields.items() if allowed.get(name) is not None}
    return bool(wanted) and all(
        _same(allowed[name], token.get(name), ci) for name, ci in wanted.items()
    )


async def _tokens_of(session: AsyncSession, party: PartyRef) -> list[dict[str, object]]:
    rows = (
        await session.exec(
            select(OcpiObject.data).where(
                OcpiObject.module == "tokens",
                OcpiObject.country_code == party.country_code,
                OcpiObject.party_id == party.party_id,
            )
        )
    ).all()
    return [dict(r) for r in rows]


def _shown(row: OcpiObject, tokens: Sequence[dict[str, object]]) -> bool:
    allowed = row.data.get("publish_allowed_to") or []
    return any(isinstance(a, dict) and publish_matches(a, t) for a in allowed for t in tokens)


async def _shown_to(session: AsyncSession, row: OcpiObject, party: PartyRef) -> bool:
    return _shown(row, await _tokens_of(session, party))


async def deliverable(
    session: AsyncSession,
    ctx: HubContext,
    module: str,
    receiver: PartyRef,
    objects: list[OcpiObject],
) -> list[OcpiObject]:
    """Of ``objects`` (of a party ``receiver`` has an agreement with), those it may be sent: all
    but the Locations that are not published to a token it owns."""
    if module != "locations" or not any(restricted(o) for o in objects):
        return objects
    tokens = await _tokens_of(session, receiver)
    return [o for o in objects if not restricted(o) or _shown(o, tokens)]


async def hidden_locations(
    session: AsyncSession, caller: Caller, owners: Sequence[PartyRef] | None
) -> list[int]:
    """Ids of the stored Locations (of ``owners``, not the caller's own) that are not published
    to any token of the caller's eMSP-like roles (its GET-all and GET-one leave them out)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    # The condition of the partial index ix_ocpi_object_unpublished (migration 0012), word for
    # word, so that only the Locations that are not published are read.
    stmt = select(OcpiObject).where(
        OcpiObject.module == "locations", text(UNPUBLISHED.get(dialect, UNPUBLISHED["sqlite"]))
    )
    own = caller.parties(CPO_ONLY)
    rows = [
        r
        for r in (await session.exec(stmt)).all()
        if may_read(owners, r) and PartyRef(r.country_code, r.party_id) not in own
    ]
    if not rows:
        return []
    tokens = [t for reader in caller.parties(EMSP_LIKE) for t in await _tokens_of(session, reader)]
    return [r.id for r in rows if r.id is not None and not _shown(r, tokens)]


async def pushes(session: AsyncSession, ctx: HubContext, queued: list[Push]) -> list[Push]:
    """Pushes of stored objects to their receivers (``to_party``), minus those across a missing
    agreement. Sessions and CDRs were addressed when stored (``recipient``) and pass."""
    rules = await book(session, ctx)
    kept: list[Push] = []
    for push in queued:
        owner = _owner(push.object_ref)
        if push.module not in BROADCAST_TO or owner is None or push.to_party is None:
            kept.append(push)
            continue
        to_role = "CPO" if push.module == "tokens" else "EMSP"
        if not rules.may(*pair(to_role, push.to_party, owner), push.module):
            refused(ctx, push.module, "push")
        elif push.module == "locations" and (push.body or {}).get("publish") is False:
            # A Location that is not published: only to an owner of a token it names.
            allowed = push.body.get("publish_allowed_to") if push.body else None
            tokens = await _tokens_of(session, push.to_party)
            if any(
                isinstance(a, dict) and publish_matches(a, t) for a in allowed or [] for t in tokens
            ):
                kept.append(push)
        else:
            kept.append(push)
    return kept


async def _parties(session: AsyncSession, roles: frozenset[str]) -> list[PartyRef]:
    rows = (
        await session.exec(
            select(PlatformRole.country_code, PlatformRole.party_id)
            .where(col(PlatformRole.role).in_(roles))
            .distinct()
        )
    ).all()
    return [PartyRef(cc, pid) for cc, pid in rows]


async def readable_owners(
    session: AsyncSession, ctx: HubContext, caller: Caller, module: str
) -> list[PartyRef] | None:
    """Whose objects of a broadcast module (Locations, Tariffs, Tokens) the caller may pull:
    its own, and those of the parties of the other side it has an agreement with (None: all)."""
    readable = caller.readable_owners(module)
    if readable is not None:
        return readable
    mine = caller.parties(BROADCAST_TO[module])
    rules = await book(session, ctx)
    if rules.everyone(mine):
        return None
    receiver_role = "CPO" if module == "tokens" else "EMSP"
    owners = [
        owner
        for owner in await _parties(session, OWNERS[module])
        if any(rules.may(*pair(receiver_role, me, owner), module) for me in mine)
    ]
    return [*owners, *(p for p in caller.parties(OWNERS[module]) if p not in owners)]


async def page_json(
    session: AsyncSession, ctx: HubContext, caller: Caller, module: str, params: PageParams
) -> tuple[list[str], int]:
    """One page of a GET-all of Locations, Tariffs or Tokens on the hub's Sender interface, each
    object as the JSON text the database holds (``store.page_json``): the caller's own and those
    of the parties it has an agreement with; for eMSPs, no Location that is not published to one
    of their tokens."""
    owners = await readable_owners(session, ctx, caller, module)
    exclude: list[int] = []
    if module == "locations" and caller.parties(BROADCAST_TO[module]):
        exclude = await hidden_locations(session, caller, owners)
    return await store.page_json(session, module, params, owners=owners, exclude_ids=exclude)


async def readable(
    session: AsyncSession, ctx: HubContext, caller: Caller, module: str
) -> Callable[[OcpiObject], bool]:
    """Whether the caller may read one stored object (GET of one Location, Tariff or Token)."""
    owners = await readable_owners(session, ctx, caller, module)
    hidden: set[int] = set()
    if module == "locations" and caller.parties(BROADCAST_TO[module]):
        hidden = set(await hidden_locations(session, caller, owners))
    return lambda row: may_read(owners, row) and row.id not in hidden


async def readable_rows(
    session: AsyncSession, ctx: HubContext, caller: Caller, module: str, rows: list[OcpiObject]
) -> list[OcpiObject]:
    """Of ``rows`` (what a GET of one object found by its id), those the caller may read, as
    ``readable`` decides; the caller's tokens are read only when a Location is not published
    (not the list of every such Location: one stored object is asked about)."""
    if not rows:
        return rows
    owners = await readable_owners(session, ctx, caller, module)
    kept = [r for r in rows if may_read(owners, r)]
    if module == "locations" and caller.parties(BROADCAST_TO[module]):
        own = caller.parties(CPO_ONLY)
        unpublished = [
            r for r in kept if restricted(r) and PartyRef(r.country_code, r.party_id) not in own
        ]
        if unpublished:
            tokens = [
                t for reader in caller.parties(EMSP_LIKE) for t in await _tokens_of(session, reader)
            ]
            kept = [r for r in kept if r not in unpublished or _shown(r, tokens)]
    return kept


def may_read(readable: Sequence[PartyRef] | None, row: OcpiObject) -> bool:
    return readable is None or PartyRef(row.country_code, row.party_id) in readable


async def recipient(
    session: AsyncSession,
    ctx: HubContext,
    module: str,
    owner: PartyRef,
    token_owner: PartyRef | None,
    existing: OcpiObject | None,
    data: dict[str, object],
) -> PartyRef | None:
    """The eMSP a Session or CDR of ``owner`` (a CPO) is addressed to: the token's owner when
    they have an agreement, or when the Session started while they had one (it finishes: its
    updates and its CDR still go there); else nobody (stored for its CPO only, as a Session of
    an unknown eMSP is)."""
    if token_owner is None or module not in ("sessions", "cdrs"):
        return token_owner
    if await may(session, ctx, owner, token_owner, module):
        return token_owner
    if await _started_with(session, module, owner, token_owner, existing, data):
        return token_owner
    refused(ctx, module, "push")
    log.info("%s of %s for %s not routed: no active agreement", module, owner, token_owner)
    return None


def _addressed_to(row: OcpiObject | None, party: PartyRef) -> bool:
    return (
        row is not None
        and row.recipient_country_code == party.country_code
        and row.recipient_party_id == party.party_id
    )


async def _started_with(
    session: AsyncSession,
    module: str,
    owner: PartyRef,
    token_owner: PartyRef,
    existing: OcpiObject | None,
    data: dict[str, object],
) -> bool:
    if module == "sessions":
        return _addressed_to(existing, token_owner)
    session_id = data.get("session_id")
    if not isinstance(session_id, str):
        return False
    row = await store.get(session, "sessions", owner, session_id)
    return _addressed_to(row, token_owner)


async def about_session(
    session: AsyncSession, ctx: HubContext, row: OcpiObject, module: str
) -> bool:
    """May the eMSP of a Session (``row``, routed to it) send a request about it to its CPO:
    with an agreement, or while the Session is still running (it finishes)."""
    if not row.recipient_country_code or not row.recipient_party_id:
        return False
    cpo = PartyRef(row.country_code, row.party_id)
    emsp = PartyRef(row.recipient_country_code, row.recipient_party_id)
    if await may(session, ctx, cpo, emsp, module) or row.data.get("status") in RUNNING:
        return True
    refused(ctx, module, "request")
    return False


def _reaches(
    rules: Book, viewer: Sequence[tuple[str, PartyRef]], role: str, party: PartyRef
) -> bool:
    """May a platform with the roles ``viewer`` reach ``party`` (in ``role``) in some module? Its
    own parties and those of its own side are shown (no agreement is about two CPOs or two
    eMSPs), as are roles no agreement is about (the hub)."""
    for my_role, me in viewer:
        if me == party or (my_role in CPO_ONLY) == (role in CPO_ONLY):
            return True
        if role not in CPO_ONLY and role not in EMSP_LIKE:
            return True
        if my_role not in CPO_ONLY and my_role not in EMSP_LIKE:
            continue
        cpo, emsp = pair(my_role, me, party)
        if any(rules.may(cpo, emsp, m) for m in MODULES):
            return True
    return False


class _Info(Protocol):
    @property
    def party(self) -> PartyRef: ...

    @property
    def role(self) -> str: ...


InfoT = TypeVar("InfoT", bound=_Info)


async def client_infos(
    session: AsyncSession, ctx: HubContext, viewer: Sequence[PlatformRole], infos: list[InfoT]
) -> list[InfoT]:
    """HubClientInfo GET-all: the ClientInfo of the parties the caller may reach."""
    rules = await book(session, ctx)
    mine = [(r.role, PartyRef(r.country_code, r.party_id)) for r in viewer]
    if rules.everyone(p for _r, p in mine):
        return infos
    kept = [i for i in infos if _reaches(rules, mine, i.role, i.party)]
    refused(ctx, "hubclientinfo", "read", len(infos) - len(kept))
    return kept


async def client_info_pushes(
    session: AsyncSession, ctx: HubContext, queued: list[Push]
) -> list[Push]:
    """ClientInfo pushes (``object_ref`` hubclientinfo:{party}:{role}) to the platforms that may
    reach the party they are about."""
    rules = await book(session, ctx)
    if not queued or (rules.default_open and not rules.restricted):
        return queued
    platform_ids = {p.platform_id for p in queued}
    rows = (
        await session.exec(
            select(PlatformRole).where(col(PlatformRole.platform_id).in_(platform_ids))
        )
    ).all()
    roles: dict[int, list[tuple[str, PartyRef]]] = {}
    for r in rows:
        roles.setdefault(r.platform_id, []).append((r.role, PartyRef(r.country_code, r.party_id)))
    kept: list[Push] = []
    for push in queued:
        _module, _sep, rest = push.object_ref.partition(":")
        party_text, _sep, role = rest.rpartition(":")
        cc, _star, pid = party_text.partition("*")
        if _reaches(rules, roles.get(push.platform_id, []), role, PartyRef(cc, pid)):
            kept.append(push)
    refused(ctx, "hubclientinfo", "push", len(queued) - len(kept))
    return kept
