"""Reference data cached per process, checked against one version number per use.

A dispensing reads a dozen small tables that change a few times a month (accounts,
commodities, lots, periods, contracts, price lists, schemes). Reading them on every request
was a third of its statements. Here they are read once per process into an immutable
:class:`Snapshot`, and each use costs one ``SELECT version FROM ref_version``: database
triggers bump that number on every insert, update or delete of those tables (migration
0009), so a snapshot whose version equals what the request's transaction sees is exactly
what the transaction would have read.

How a snapshot is found (``reference(session)``):

1. the transaction's version ``v`` (it sees committed changes and its own);
2. the process's snapshot, if its version is ``v``;
3. else a fresh snapshot read on a connection of its own (committed data only, one
   consistent read) and kept for the process; used if its version is ``v``;
4. else (the transaction changed reference data itself and has not committed, or another
   commit landed in between) a snapshot read through the transaction's own session, kept
   for that transaction only.

What a snapshot holds is wired, not registered: the application factory gives each
database (``ledger.db.Database``) its parts, a name and a loader each (``app.REFERENCE_PARTS``:
the ledger's and the contracts'). A loader reads its tables through the session it is given
and returns plain immutable data (detached rows are fine as long as nobody changes them).

This module knows nothing of engines: how to read committed data on a connection of its own
is given to :class:`RefCache` by the database that owns it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, SessionTransaction

#: Reads one part of the snapshot through the session it is given.
Loader = Callable[[Session], Any]

#: Opens a session on a connection of its own that reads committed data in one consistent
#: read (``ledger.db.Database.read_committed``).
CommittedReader = Callable[[], AbstractContextManager[Session]]

_VERSION_SQL = text("SELECT version FROM ref_version WHERE id = 1")

#: ``session.info`` key of the process cache (set by ``ledger.db.Database``'s sessionmaker).
CACHE_KEY = "rdf_refcache"
_LOCAL_KEY = "rdf_refcache_local"


@dataclass(frozen=True)
class Snapshot:
    version: int
    parts: Mapping[str, Any] = field(repr=False)

    def __getitem__(self, name: str) -> Any:
        return self.parts[name]


class RefCache:
    """The process's snapshot for one database (one per ``ledger.db.Database``).

    ``parts``: the loaders of the snapshot's parts, by name. ``read_committed``: how to read
    committed data outside the caller's transaction (None: never; every snapshot is then
    read through the transaction's own session, as for an in-memory database)."""

    def __init__(self, parts: Mapping[str, Loader], read_committed: CommittedReader | None) -> None:
        self.parts: Mapping[str, Loader] = MappingProxyType(dict(parts))
        self._read_committed = read_committed
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self.loads = 0  # how many snapshots this process read (bench and tests)

    def current(self) -> Snapshot | None:
        return self._snapshot

    def refresh(self) -> Snapshot | None:
        """Read a snapshot of committed data on a connection of its own and keep it."""
        if self._read_committed is None:
            return None
        with self._lock:
            with self._read_committed() as s:  # closing detaches the rows, still loaded
                snap = self.load(s)
            self._snapshot = snap
            self.loads += 1
            return snap

    def load(self, session: Session) -> Snapshot:
        """Read every part through ``session`` (not kept)."""
        version = int(session.execute(_VERSION_SQL).scalar_one())
        return Snapshot(version, {name: load(session) for name, load in self.parts.items()})


def fresh_snapshot(session: Session) -> Snapshot | None:
    """The process's snapshot if it is what ``session``'s transaction sees now (one
    ``SELECT version``), else None; never reads a new one (a caller that wants one small
    fact reads it itself rather than the whole snapshot)."""
    cache: RefCache | None = session.info.get(CACHE_KEY)
    snap = cache.current() if cache is not None else None
    if snap is None:
        return None
    version = int(session.execute(_VERSION_SQL).scalar_one())
    return snap if snap.version == version else None


def reference(session: Session) -> Snapshot:
    """The reference data as ``session``'s transaction sees it now (see the module doc).

    ``session`` must come from a ``ledger.db.Database`` (its sessionmaker carries the cache
    and so the parts a snapshot holds)."""
    version = int(session.execute(_VERSION_SQL).scalar_one())
    cache: RefCache | None = session.info.get(CACHE_KEY)
    if cache is None:
        raise RuntimeError(
            "reference data is read through a session of ledger.db.Database (none is wired)"
        )
    snap = cache.current()
    if snap is not None and snap.version == version:
        return snap
    snap = cache.refresh()
    if snap is not None and snap.version == version:
        return snap
    txn: SessionTransaction | None = session.get_transaction()
    local: tuple[SessionTransaction | None, Snapshot] | None = session.info.get(_LOCAL_KEY)
    if local is not None and local[0] is txn and local[1].version == version:
        return local[1]
    snap = cache.load(session)
    session.info[_LOCAL_KEY] = (txn, snap)
    return snap
