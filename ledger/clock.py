"""The service's notion of now. Tests may pin it; nothing else reads the wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

_pinned: datetime | None = None


def now() -> datetime:
    return _pinned if _pinned is not None else datetime.now(UTC)


def today() -> date:
    return now().date()


def pin(moment: datetime | None) -> None:
    """Pin the clock (tests only); ``None`` releases it."""
    global _pinned
    _pinned = moment


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset. SQLite hands timestamps back without a zone; they
    were written in UTC, so a naive one is UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()
