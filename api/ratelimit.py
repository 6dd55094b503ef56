"""Slow down guessing without locking anyone out.

Only *unknown* tokens count: a valid token is looked up first and admitted whatever the
failures of its address (behind a reverse proxy every client may share one address, and
one guesser must not lock out the finance team). Failures are counted per presented
credential (a hash of it, never the token) and per client address (``request.remote_addr``:
the proxy's ``X-Forwarded-For`` counts only when ``RDF_TRUSTED_PROXIES`` says how many proxies
to trust). Past ``limit`` failures of an address, or ``credential_limit`` of one credential,
within ``window_s`` seconds, an unknown token is answered 429 instead of 401.

The counters live in the database (table ``auth_failures``, migration 0012), so every
worker process sees the same ones: one row per key, a fixed window that starts at the
key's first failure.
"""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Table,
    case,
    delete,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from ledger.db import is_postgres, sqlite_read_only

metadata = MetaData()

#: Made by migration 0012; declared here, where it is used (the edge's own bookkeeping).
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False),
)


def credential_key(token: str) -> str:
    digest = hashlib.sha256(b"rdf-auth-failure\x00" + token[:512].encode("utf-8", "replace"))
    return "cred:" + digest.hexdigest()[:40]


def address_key(addr: str) -> str:
    return "addr:" + addr[:70]


class BadTokenLimiter:
    """Failure counters shared by every worker through the database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        limit: int = 20,
        credential_limit: int = 10,
        window_s: int = 60,
    ) -> None:
        self.sessions = sessions
        #: failures per address in a window
        self.limit = limit
        #: failures per presented credential in a window
        self.credential_limit = credential_limit
        self.window_s = window_s

    def refuse_or_count(self, addr: str, token: str) -> bool:
        """An unknown token was presented: True when its address or itself is over its
        limit (answer 429); else count the failure (answer 401) and return False."""
        now = int(time.time())
        cutoff = now - self.window_s
        keys = {address_key(addr): self.limit, credential_key(token): self.credential_limit}
        reset = sqlite_read_only.set(False)
        try:
            with self.sessions() as s:
                rows = s.execute(
                    select(auth_failures.c.key, auth_failures.c.failures).where(
                        auth_failures.c.key.in_(keys), auth_failures.c.window_start > cutoff
                    )
                ).all()
                if any(n >= keys[k] for k, n in rows):
                    return True
                ins = pg_insert if is_postgres(s) else sqlite_insert
                for key in sorted(keys):  # one order: two workers never wait in a cycle
                    stmt = ins(auth_failures).values(key=key, window_start=now, failures=1)
                    old: ColumnElement[bool] = auth_failures.c.window_start <= cutoff
                    stmt = stmt.on_conflict_do_update(
                        index_elements=[auth_failures.c.key],
                        set_={
                            "failures": case((old, 1), else_=auth_failures.c.failures + 1),
                            "window_start": case((old, now), else_=auth_failures.c.window_start),
                        },
                    )
                    s.execute(stmt)
                s.execute(delete(auth_failures).where(auth_failures.c.window_start <= cutoff))
                s.commit()
            return False
        finally:
            sqlite_read_only.reset(reset)
