"""Who a token or a signed-in session stands for, cached per process behind one version
number that the database bumps on every change of users and passwords.

Checking a credential read the ``users`` row through the ORM on every request (a query,
an ORM object, a rollback). Here a worker keeps what it read, keyed by the token's hash
and by user id, for as long as ``auth_version`` (migration 0017h: row triggers on
``users`` and ``user_passwords``) keeps the number it had when the rows were read. Each
request still reads that number once, in the request's own transaction, so a revocation,
a rotated token, a changed role, pharmacy, expiry or password is seen by the very next
request after it commits, whichever code (or person with SQL) made it, in every worker.

Order matters: the version is read before the row, so a row kept under version ``v`` is
at least as new as ``v``; a later change moves the number and empties the cache. The
numbers grow by random steps (0017h), so a database restored to an earlier state under a
running process does not climb back to a number the process trusts.

Expiry is checked on every use against the clock (it needs no change to happen).
Unknown tokens are not kept (a caller cannot fill the memory; the bad-token limiter of
``api.ratelimit`` counts them), and the cache is emptied when it holds
:data:`MAX_ENTRIES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, text

from api.auth import TOKEN_PREFIX, Principal, UserPassword, hash_token
from ledger import clock
from ledger.tables import User

_VERSION = text("SELECT version FROM auth_version WHERE id = 1")
# Core statements built once (typed columns: datetimes come back as datetimes on SQLite)
_U = User.__table__
_P = UserPassword.__table__
_COLUMNS = [_U.c[c] for c in ("id", "name", "role", "pharmacy", "educator")]
_COLUMNS += [_U.c.expires_at, _U.c.revoked_at]
_BY_TOKEN = select(*_COLUMNS).where(_U.c.token_hash == bindparam("h"))
_BY_USER = (
    select(*_COLUMNS, _P.c.changed_at)
    .select_from(_U.outerjoin(_P, _P.c.user_id == _U.c.id))
    .where(_U.c.id == bindparam("id"))
)

#: Entries kept at most (tokens and users together); the cache is emptied beyond.
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Known:
    """A user as read at some version: its principal (None: revoked), when it expires, and
    a stamp of its password (None: no password), which a signed-in session carries."""

    principal: Principal | None
    expires_at: datetime | None
    password_stamp: str | None = None

    def now_valid(self) -> Principal | None:
        if self.principal is None:
            return None
        expires = self.expires_at
        if expires is not None:
            now = clock.now()
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=now.tzinfo)
            if expires <= now:
                return None
        return self.principal


def _known(row: Any, stamp: str | None = None) -> Known:
    uid, name, role, pharmacy, educator, expires_at, revoked_at = row[:7]
    who = None if revoked_at is not None else Principal(int(uid), name, role, pharmacy, educator)
    return Known(who, expires_at, stamp)


def password_stamp(changed_at: datetime | None) -> str | None:
    """What a session remembers of the password it was signed in with: when it was set."""
    return None if changed_at is None else changed_at.isoformat()


class AuthCache:
    """The principals one process has seen, for one database (``app.extensions``)."""

    def __init__(self) -> None:
        self._version: int | None = None
        self._entries: dict[Any, Known] = {}
        self.reads = 0  # rows read from the database (tests and bench)

    def _at(self, version: int) -> dict[Any, Known]:
        entries = self._entries
        if self._version != version or len(entries) >= MAX_ENTRIES:
            # a fresh dict, swapped in whole: a thread still filling the old one (read
            # at another version) fills a dict nobody reads any more
            entries = {}
            self._entries = entries
            self._version = version
        return entries

    def by_token(self, conn: Connection, token: str) -> Principal | None:
        """The principal ``token`` stands for, or None (unknown, revoked or expired)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        h = hash_token(token)
        entries = self._at(int(conn.execute(_VERSION).scalar_one()))
        known = entries.get(h)
        if known is None:
            row = conn.execute(_BY_TOKEN, {"h": h}).first()
            self.reads += 1
            if row is None:
                return None
            known = entries[h] = _known(row)
        return known.now_valid()

    def by_user(self, conn: Connection, user_id: int) -> Known | None:
        """The user ``user_id`` as it is now (None: no such user); its principal is None
        when revoked (check expiry with :meth:`Known.now_valid`)."""
        entries = self._at(int(conn.execute(_VERSION).scalar_one()))
        key = ("user", user_id)
        known = entries.get(key)
        if known is None:
            row = conn.execute(_BY_USER, {"id": user_id}).first()
            self.reads += 1
            if row is None:
                return None
            known = entries[key] = _known(row, password_stamp(row[7]))
        return known
