"""The quote of a dispensing: what it would cost, before anything is posted.

No second copy of the rules: the quote is the dispensing itself (``dispense_many``, the
same pricing, lot picking and cap checks), done in the caller's transaction and rolled
back, so the figures shown before **Record dispensing** are the figures then posted (as
long as nothing else moved the stock or the patient's month in between). The answer is
the dispensing's, without what only a recorded dispensing has (id, entry, accounting
date, client_ref).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from dispensing.service import DispenseRequest, dispense_many
from ledger.errors import RdfError

#: Fields of a recorded dispensing a quote does not have.
NOT_QUOTED = ("id", "entry_id", "accounting_date", "client_ref")


def quote_answer(session: Session, req: DispenseRequest, *, by: str) -> dict[str, Any]:
    """Price ``req`` as ``dispense_answer`` would, post nothing (rolls the session back)."""
    try:
        (answer,) = dispense_many(session, [replace(req, client_ref=None)], by=by)
    finally:
        session.rollback()
    if isinstance(answer, RdfError):
        raise answer
    return {k: v for k, v in answer.items() if k not in NOT_QUOTED}
