"""Reading and writing stored OCPI objects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, bindparam, cast, func, tuple_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.core.db import detached
from app.core.dbtypes import utcnow
from app.hub.store import evse_index
from app.hub.store.models import OcpiObject
from app.ocpi.headers import PartyRef
from app.ocpi.incoming import ext_for
from app.ocpi.pagination import PageParams, date_window, fetch_page
from app.ocpi.schemas.common import ci_key

OBJECT: Table = OcpiObject.__table__  # type: ignore[attr-defined]


def object_ref(module: str, owner: PartyRef, key: str, subtype: str = "") -> str:
    """The ordering key of deliveries about one object."""
    return f"{module}:{owner}:{ci_key(key)}:{subtype}"


def parse_object_ref(ref: str) -> tuple[str, PartyRef, str, str] | None:
    """(module, owner, key, subtype) of an ``object_ref``; None when it names no stored object.

    The key may itself contain ':' (ids are printable ASCII); module, owner and subtype do not.
    """
    module, _, rest = ref.partition(":")
    owner, _, rest = rest.partition(":")
    key, sep, subtype = rest.rpartition(":")
    country_code, star, party_id = owner.partition("*")
    if not (module and sep and key and star and country_code and party_id):
        return None
    return module, PartyRef(country_code, party_id), key, subtype


async def get_locked(
    session: AsyncSession, module: str, owner: PartyRef, key: str, subtype: str = ""
) -> OcpiObject | None:
    """The stored object, read after taking its row's write lock (the caller's transaction keeps
    it until it commits), so that no new version is stored meanwhile.

    The lock is an UPDATE that changes nothing: on PostgreSQL it locks the row as SELECT ... FOR
    UPDATE would (and waits for a writer that holds it, then sees its version); on SQLite it takes
    the database's write lock, which pysqlite would otherwise take only at the first write, after
    the read.
    """
    where = (
        col(OcpiObject.module) == module,
        col(OcpiObject.country_code) == owner.country_code,
        col(OcpiObject.party_id) == owner.party_id,
        col(OcpiObject.object_key) == ci_key(key),
        col(OcpiObject.subtype) == subtype,
    )
    locked = await session.exec(
        update(OcpiObject)
        .where(*where)
        .values(stored_at=OcpiObject.stored_at)
        .execution_options(synchronize_session=False)
    )
    if not locked.rowcount:
        return None
    stmt = select(OcpiObject).where(*where).execution_options(populate_existing=True)
    return (await session.exec(stmt)).first()


# The reads of one object by its key, built once: a statement built per call (its clauses, its
# cache key) cost more than SQLite took to run it. Bound per call: module, cc, pid, key, subtype.
_BY_OWNER_KEY = select(OcpiObject).where(
    col(OcpiObject.module) == bindparam("module"),
    col(OcpiObject.country_code) == bindparam("cc"),
    col(OcpiObject.party_id) == bindparam("pid"),
    col(OcpiObject.object_key) == bindparam("key"),
)
_GET = _BY_OWNER_KEY.where(col(OcpiObject.subtype) == bindparam("subtype")).order_by(
    col(OcpiObject.id)
)
_GET_ANY_SUBTYPE = _BY_OWNER_KEY.order_by(col(OcpiObject.id))
_BY_KEY = (
    select(OcpiObject)
    .where(
        col(OcpiObject.module) == bindparam("module"),
        col(OcpiObject.object_key) == bindparam("key"),
    )
    .order_by(col(OcpiObject.id))
    .limit(10)
)


async def get(
    session: AsyncSession, module: str, owner: PartyRef, key: str, subtype: str | None = ""
) -> OcpiObject | None:
    values = {
        "module": module,
        "cc": owner.country_code,
        "pid": owner.party_id,
        "key": ci_key(key),
    }
    if subtype is None:
        return (await session.exec(_GET_ANY_SUBTYPE, params=values)).first()
    values["subtype"] = subtype
    return (await session.exec(_GET, params=values)).first()


def _of_parties(
    country_code: Any, party_id: Any, parties: Sequence[PartyRef]
) -> ColumnElement[bool]:
    # One row-value IN, not an OR per party: a GET-all may name a hundred owners.
    return tuple_(country_code, party_id).in_([(p.country_code, p.party_id) for p in parties])


async def find_by_key(
    session: AsyncSession,
    module: str,
    key: str,
    *,
    owner: PartyRef | None = None,
    recipients: Sequence[PartyRef] | None = None,
) -> list[OcpiObject]:
    """Objects of any owner with this id (GET on a Sender interface has no owner in the URL);
    ``owner`` and ``recipients`` narrow it down to one owner, to objects addressed to them."""
    if owner is None and recipients is None:
        values = {"module": module, "key": ci_key(key)}
        return list((await session.exec(_BY_KEY, params=values)).all())
    stmt = select(OcpiObject).where(
        OcpiObject.module == module, OcpiObject.object_key == ci_key(key)
    )
    if owner is not None:
        stmt = stmt.where(
            OcpiObject.country_code == owner.country_code, OcpiObject.party_id == owner.party_id
        )
    if recipients is not None:
        if not recipients:
            return []
        stmt = stmt.where(
            _of_parties(
                col(OcpiObject.recipient_country_code),
                col(OcpiObject.recipient_party_id),
                recipients,
            )
        )
    return list((await session.exec(stmt.order_by(col(OcpiObject.id)).limit(10))).all())


class AlreadyStored(Exception):
    """``save(replace=False)``: a concurrent transaction stored the object first."""

    def __init__(self, row: OcpiObject) -> None:
        super().__init__(f"{row.module} {row.object_key} already stored")
        self.row = row


async def save(
    session: AsyncSession,
    *,
    module: str,
    owner: PartyRef,
    key: str,
    data: dict[str, Any],
    last_updated: datetime,
    owner_platform_id: int | None,
    subtype: str = "",
    recipient: PartyRef | None = None,
    existing: OcpiObject | None = None,
    looked_up: bool = False,
    replace: bool = True,
) -> tuple[OcpiObject, bool]:
    """Insert or replace an object (the caller commits). Returns the row and whether it is new.

    ``looked_up``: the caller read the stored object in this transaction (``existing``, None when
    there was none), so it is not read again. ``replace=False``: an object that cannot be
    replaced (a CDR) found stored, by this lookup or by its INSERT (a concurrent transaction
    stored it after the caller saw none), raises :class:`AlreadyStored` instead of becoming a
    new version."""
    row = (
        existing
        if existing is not None or looked_up
        else await get(session, module, owner, key, subtype)
    )
    # A 2.3.0 sender's object keeps what 2.2.1 cannot carry beside data (app/ocpi/incoming.py).
    announced, ext = ext_for(module, owner.country_code, owner.party_id, key)
    if row is None:
        # A new object: inserted unless a concurrent push of the same object (a CPO resending a
        # PUT whose answer was slow, while the first is still being stored) inserted it since
        # this one read "none". Then this push is a new version of that row, as if it had come
        # second: without ON CONFLICT, its INSERT failed on uq_ocpi_object (and on PostgreSQL
        # aborted the transaction) and the partner got an error for a valid push.
        values: dict[str, Any] = {
            "module": module,
            "country_code": owner.country_code,
            "party_id": owner.party_id,
            "object_key": ci_key(key),
            "subtype": subtype,
            "owner_platform_id": owner_platform_id,
            "recipient_country_code": recipient.country_code if recipient is not None else None,
            "recipient_party_id": recipient.party_id if recipient is not None else None,
            "data": data,
            "ext": ext if announced else None,
            "last_updated": last_updated,
            "stored_at": utcnow(),
        }
        inserted = (await session.exec(_insert_new(session), params=values)).first()
        if inserted is not None:
            values["id"] = inserted[0]
            row = detached(OcpiObject, values)
            session.add(row)  # in the session as if loaded: a later save in it is one UPDATE
            if module == "locations":
                await evse_index.refresh(session, inserted[0], set(), data)
            return row, True
        row = await get(session, module, owner, key, subtype)
        if row is None:  # pragma: no cover - stored and deleted again meanwhile
            raise RuntimeError(f"{module} {owner} {key}: neither inserted nor found")
    if not replace:
        raise AlreadyStored(row)
    indexed = evse_index.evse_uids(row.data) if module == "locations" else set()
    if row.id is not None and row in session and row not in session.dirty:
        # A new version of a stored row (every push but the first): one UPDATE, without the
        # ORM's unit of work; the row in hand is given the values as if it had been flushed.
        values = {
            "data": data,
            "last_updated": last_updated,
            "owner_platform_id": owner_platform_id,
            "stored_at": utcnow(),
        }
        if announced:
            values["ext"] = ext
        if recipient is not None:
            values["recipient_country_code"] = recipient.country_code
            values["recipient_party_id"] = recipient.party_id
        await session.exec(update(OBJECT).where(OBJECT.c.id == row.id).values(values))
        for name, value in values.items():
            set_committed_value(row, name, value)
        if module == "locations":
            await evse_index.refresh(session, row.id, indexed, data)
        return row, False
    row.data = data
    if announced:
        row.ext = ext
    row.last_updated = last_updated
    row.owner_platform_id = owner_platform_id
    row.stored_at = utcnow()
    if recipient is not None:
        row.recipient_country_code = recipient.country_code
        row.recipient_party_id = recipient.party_id
    session.add(row)
    await session.flush()
    if module == "locations" and row.id is not None:
        await evse_index.refresh(session, row.id, indexed, data)
    return row, False


_INSERT_NEW: dict[str, Any] = {}


def _insert_new(session: AsyncSession) -> Any:
    """INSERT ... ON CONFLICT (uq_ocpi_object) DO NOTHING RETURNING id, built once per dialect
    (its columns are those of the parameters it is run with): no row back means a concurrent
    transaction stored the object first (PostgreSQL waits for it to end; SQLite's writers take
    turns)."""
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    stmt = _INSERT_NEW.get(name)
    if stmt is None:
        insert = pg_insert if name == "postgresql" else sqlite_insert
        stmt = (
            insert(OBJECT)
            .on_conflict_do_nothing(
                index_elements=["module", "country_code", "party_id", "object_key", "subtype"]
            )
            .returning(OBJECT.c.id)
        )
        _INSERT_NEW[name] = stmt
    return stmt


async def page(
    session: AsyncSession,
    module: str,
    params: PageParams,
    recipients: Sequence[PartyRef] | None = None,
    owners: Sequence[PartyRef] | None = None,
    exclude_ids: Sequence[int] = (),
) -> tuple[list[OcpiObject], int]:
    """One page of a GET-all; ``recipients`` limits it to objects addressed to these parties
    (Sessions/CDRs of their tokens), ``owners`` to objects of these parties; ``exclude_ids``
    leaves rows out."""
    stmt = select(OcpiObject).where(OcpiObject.module == module)
    if exclude_ids:
        stmt = stmt.where(col(OcpiObject.id).not_in(exclude_ids))
    if recipients is not None:
        if not recipients:
            return [], 0
        stmt = stmt.where(
            _of_parties(
                col(OcpiObject.recipient_country_code),
                col(OcpiObject.recipient_party_id),
                recipients,
            )
        )
    if owners is not None:
        if not owners:
            return [], 0
        stmt = stmt.where(
            _of_parties(col(OcpiObject.country_code), col(OcpiObject.party_id), owners)
        )
    rows, total = await fetch_page(
        session,
        stmt,
        col(OcpiObject.last_updated),
        col(OcpiObject.id),
        params,
    )
    return list(rows), total


async def page_json(
    session: AsyncSession,
    module: str,
    params: PageParams,
    recipients: Sequence[PartyRef] | None = None,
    owners: Sequence[PartyRef] | None = None,
    exclude_ids: Sequence[int] = (),
) -> tuple[list[str], int]:
    """``page``, with each object as the JSON text the database holds: a GET-all sends it as
    it is (``paginated_json_response``), without decoding it into Python and encoding it again.

    One query: the page's ids are found (and OFFSET skips) on (last_updated, id) alone, only the
    page's rows are read whole and turned into text, and the total rides along on each row as
    an uncorrelated subquery (computed once). A page past the end costs a second query.
    """
    where: list[Any] = [col(OcpiObject.module) == module]
    if recipients is not None:
        if not recipients:
            return [], 0
        where.append(
            _of_parties(
                col(OcpiObject.recipient_country_code),
                col(OcpiObject.recipient_party_id),
                recipients,
            )
        )
    if owners is not None:
        if not owners:
            return [], 0
        where.append(_of_parties(col(OcpiObject.country_code), col(OcpiObject.party_id), owners))
    if exclude_ids:
        where.append(col(OcpiObject.id).not_in(exclude_ids))
    where += date_window(col(OcpiObject.last_updated), params)
    table = OBJECT
    total = sa_select(func.count()).select_from(table).where(*where)
    ids = (
        sa_select(table.c.id, table.c.last_updated)
        .where(*where)
        .order_by(table.c.last_updated, table.c.id)
        .offset(params.offset)
        .limit(params.limit)
        .subquery("page")
    )
    page = (
        sa_select(cast(table.c.data, Text), total.scalar_subquery().correlate(None))
        .join_from(ids, table, table.c.id == ids.c.id)
        .order_by(ids.c.last_updated, ids.c.id)
    )
    connection = await session.connection()
    rows = (await connection.execute(page)).all()
    if rows:
        return [r[0] for r in rows], int(rows[0][1])
    return [], int((await connection.execute(total)).scalar_one())


async def changed_since(
    session: AsyncSession, modules: Sequence[str], since: datetime
) -> list[OcpiObject]:
    stmt = (
        select(OcpiObject)
        .where(col(OcpiObject.module).in_(modules), col(OcpiObject.stored_at) >= since)
        .order_by(col(OcpiObject.id))
    )
    return list((await session.exec(stmt)).all())
