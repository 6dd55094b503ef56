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
