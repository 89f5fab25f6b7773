"""The secret key that encrypts the tokens the hub presents to partners.

Every command (``voltroam serve`` and the CLI alike) finds it the same way (SECRET_KEY, else
SECRET_KEY_FILE, else the file beside a SQLite database: app/core/settings.py) and checks it
against the database before it uses it. The database keeps the key's fingerprint
(``hub_fact.secret_key_fingerprint``); a command with no key or another key stops with an error
naming SECRET_KEY/SECRET_KEY_FILE instead of storing tokens nobody else can decrypt. A key is
generated only for a SQLite database that holds no partner token yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from app.core.db import make_engine, make_sessionmaker
from app.core.security import TokenCipher, key_fingerprint
from app.core.settings import SecretKeyMissing, Settings
from app.hub.cluster.service import add_fact_once, get_fact
from app.hub.parties.models import Platform

log = logging.getLogger("voltroam.secret_key")

FINGERPRINT = "secret_key_fingerprint"

_HOW = (
    "Set SECRET_KEY (or SECRET_KEY_FILE, a file holding it) to the key this database's partner"
    " tokens were stored with; every instance and command needs the same one"
)


class SecretKeyError(Exception):
    """No usable secret key for this database (the message says what to set)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class _Stored:
    fingerprint: str | None = None
    tokens: list[str] = field(default_factory=list)
    # Whether the database has the table facts live in (it may not be migrated yet).
    facts_table: bool = False


async def _stored(settings: Settings) -> _Stored:
    """What the database says about the key: its fingerprint and the encrypted tokens."""
    found = _Stored()
    database = settings.sqlite_path
    if database is not None and not database.exists():
        return found  # a new database: nothing stored, and no empty file made here
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            try:
                found.fingerprint = await get_fact(session, FINGERPRINT)
                found.facts_table = True
            except DBAPIError:  # not migrated that far yet
                await session.rollback()
            try:
                rows = await session.exec(
                    select(Platform.outbound_token).where(col(Platform.outbound_token).is_not(None))
                )
                found.tokens = [t for t in rows.all() if t]
            except DBAPIError:
                await session.rollback()
    finally:
        await engine.dispose()
    return found


def _source(settings: Settings) -> str:
    if settings.secret_key:
        return "SECRET_KEY"
    return f"the key in {settings.secret_key_path}"


async def establish_secret_key(settings: Settings) -> str:
    """The secret key, checked against the database (and recorded there the first time).

    Raises SecretKeyError when there is none or it is not the database's key.
    """
    stored = await _stored(settings)
    try:
        secret = settings.resolved_secret_key
    except SecretKeyMissing as exc:
        if stored.fingerprint is not None or stored.tokens:
            raise SecretKeyError(
                f"{exc}. This database was used with a secret key (it keeps the key's"
                " fingerprint or tokens encrypted with it); a new key would make its partner"
                f" tokens unusable, so none was created. {_HOW}."
            ) from None
        if settings.sqlite_path is None:
            # Instances and commands on other machines share this database: a key made up
            # here would be this machine's alone.
            raise SecretKeyError(
                str(exc)
                if settings.secret_key_path is None
                else f"{exc}. With a PostgreSQL database the key must exist (none is generated"
                " for it): the same SECRET_KEY or SECRET_KEY_FILE for every instance and command"
            ) from None
        try:
            secret = settings.create_secret_key_file()
        except SecretKeyMissing as missing:
            raise SecretKeyError(str(missing)) from None
        log.warning("generated a new secret key in %s", settings.secret_key_path)
    fingerprint = key_fingerprint(secret)
    wrong = SecretKeyError(
        f"The secret key ({_source(settings)}) is not the one this database's partner tokens"
        f" were encrypted with. {_HOW}."
    )
    if stored.fingerprint is not None:
        if stored.fingerprint != fingerprint:
            raise wrong
        return secret
    # A database from before fingerprints were kept: the key must open its tokens.
    if stored.tokens:
        cipher = TokenCipher(secret)
        unreadable = sum(not cipher.can_decrypt(t) for t in stored.tokens)
        if unreadable == len(stored.tokens):
            raise wrong
        if unreadable:
            log.warning(
                "%s of %s stored partner tokens cannot be decrypted with the secret key (they"
                " were stored with another key); connect those partners again",
                unreadable,
                len(stored.tokens),
            )
    if stored.facts_table:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine)() as session:
                recorded = await add_fact_once(session, FINGERPRINT, fingerprint)
        finally:
            await engine.dispose()
        if recorded != fingerprint:  # another process with another key was faster
            raise wrong
    return secret
