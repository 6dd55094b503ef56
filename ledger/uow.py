"""The unit of work: the one place a write's transaction is begun, retried, committed or
rolled back, and its after-commit hooks run. Every write goes through :func:`run` — a
single HTTP write (``api.writes.run_write``), each record of a batch, a chunk of records —
so the rules below hold everywhere:

* ``work(uow)`` runs in a transaction of ``uow.session`` and must be re-runnable from
  scratch (it reads everything it needs inside the transaction);
* a refusal of the books (:class:`~ledger.errors.RdfError`) rolls back and is raised, never
  retried;
* a serialization failure, a deadlock or a locked SQLite database (``ledger.db.is_retryable``)
  rolls back and runs ``work`` again, ``attempts`` times at most;
* an ``IntegrityError`` (a unique key taken by a concurrent transaction: an idempotency key,
  a ``client_ref``) rolls back and runs ``work`` again only when ``retry_integrity`` (the
  work claims a key, and its next run finds the other's stored answer);
* ``uow.discard()`` ends the transaction with a rollback and runs no hook (a replayed
  answer: nothing was written);
* after the commit, the hooks ``work`` added with ``uow.after_commit`` run, then those given
  to :func:`run` (the sealer), in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.db import is_retryable
from ledger.errors import RdfError

T = TypeVar("T")
Hook = Callable[[], object]


class UnitOfWork:
    """One run of a write's transaction: its session, the hooks to run once committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.hooks: list[Hook] = []
        self.discarded = False

    def after_commit(self, hook: Hook) -> None:
        """Run ``hook`` once this transaction has committed (not if it rolls back)."""
        self.hooks.append(hook)

    def discard(self) -> None:
        """End the transaction with a rollback when ``work`` returns: nothing to keep."""
        self.discarded = True


def run(
    session: Session,
    work: Callable[[UnitOfWork], T],
    *,
    attempts: int = 8,
    retry_integrity: bool = False,
    after_commit: Sequence[Hook] = (),
) -> T:
    """Run ``work`` in one transaction and commit it (see the module's rules); returns what
    ``work`` returned. The last failure is raised when every attempt failed."""
    for attempt in range(1, attempts + 1):
        uow = UnitOfWork(session)
        try:
            result = work(uow)
            if uow.discarded:
                session.rollback()
                return result
            session.commit()
        except IntegrityError:
            session.rollback()
            if not retry_integrity or attempt == attempts:
                raise
            continue
        except RdfError:
            session.rollback()
            raise
        except Exception as exc:
            session.rollback()
            if attempt == attempts or not is_retryable(exc):
                raise
            continue
        for hook in (*uow.hooks, *after_commit):
            hook()
        return result
    raise AssertionError("unreachable")  # pragma: no cover
