"""Users and API tokens.

A token is 32 random bytes (URL-safe base64) shown once when made; only its SHA-256 is
stored, so a dump of the database holds no usable token. Tokens can expire and be revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from care.tables import PeerEducator
from ledger import clock
from ledger.errors import Conflict, InvalidRequest
from ledger.tables import User

ROLES = ("admin", "finance", "auditor", "pharmacist", "educator")
TOKEN_PREFIX = "rdf_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user's id, name, role and (for a pharmacist) its pharmacy."""

    user_id: int
    name: str
    role: str
    pharmacy: str | None
    #: for an ``educator``: the peer educator it is (care: its own patients only)
    educator: str | None = None

    @property
    def is_pharmacist(self) -> bool:
        return self.role == "pharmacist"

    @property
    def is_educator(self) -> bool:
        return self.role == "educator"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_user(
    session: Session,
    name: str,
    role: str,
    pharmacy: str | None = None,
    expires_at: datetime | None = None,
    educator: str | None = None,
) -> tuple[User, str]:
    """Create a user and return it with its token (the only time the token is seen)."""
    if role not in ROLES:
        raise InvalidRequest(
            f"role must be one of {', '.join(ROLES)}", errors={"role": ["unknown role"]}
        )
    if (role == "pharmacist") != (pharmacy is not None):
        raise InvalidRequest(
            "a pharmacist is bound to exactly one pharmacy; other roles to none",
            errors={"pharmacy": ["required for pharmacists only"]},
        )
    if (role == "educator") != (educator is not None):
        raise InvalidRequest(
            "an educator user is bound to exactly one peer educator; other roles to none",
            errors={"educator": ["required for educators only"]},
        )
    if educator is not None and session.get(PeerEducator, educator) is None:
        raise InvalidRequest(
            f"no peer educator {educator!r}", errors={"educator": ["unknown educator"]}
        )
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"a user named {name!r} exists already")
    token = new_token()
    user = User(
        name=name,
        role=role,
        pharmacy=pharmacy,
        educator=educator,
        token_hash=hash_token(token),
        created_at=clock.now(),
        expires_at=expires_at,
    )
    session.add(user)
    session.flush()
    return user, token


def rotate_token(session: Session, name: str) -> str:
    """Give a user a new token; the old one stops working at once."""
    user = session.scalars(select(User).where(User.name == name)).one()
    token = new_token()
    user.token_hash = hash_token(token)
    user.revoked_at = None
    session.flush()
    return token


def revoke(session: Session, name: str) -> None:
    user = session.scalars(select(User).where(User.name == name)).one()
    user.revoked_at = clock.now()
    session.flush()


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal a token stands for, or None when unknown, revoked or expired."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    user = session.scalars(select(User).where(User.token_hash == hash_token(token))).first()
    if user is None or user.revoked_at is not None:
        return None
    if user.expires_at is not None:
        expires = user.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=clock.now().tzinfo)
        if expires <= clock.now():
            return None
    return Principal(user.id, user.name, user.role, user.pharmacy, user.educator)
