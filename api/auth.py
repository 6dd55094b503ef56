"""Users, API tokens and passwords.

A token is 32 random bytes (URL-safe base64) shown once when made; only its SHA-256 is
stored, so a dump of the database holds no usable token. Tokens can expire and be revoked.

A password (for the pages under ``/app``) is kept as an argon2id hash (memory-hard) in
``user_passwords``; failed sign-ins are kept in ``sign_in_failures`` so that every worker
throttles the same guesses (:data:`MAX_FAILURES` per user name and per address in
:data:`FAILURE_WINDOW`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import DateTime, ForeignKey, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from care.tables import PeerEducator
from ledger import clock
from ledger.db import Base
from ledger.errors import Conflict, InvalidRequest
from ledger.tables import BigId, User

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


def rotate_token(session: Session, name: str, expires_at: datetime | None = None) -> str:
    """Give a user a new token; the old one stops working at once. The new token expires
    at ``expires_at`` (None: never)."""
    user = session.scalars(select(User).where(User.name == name)).one()
    token = new_token()
    user.token_hash = hash_token(token)
    user.revoked_at = None
    user.expires_at = expires_at
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


# --------------------------------------------------------------------------- passwords


class UserPassword(Base):
    """A user's password hash (argon2id, with its parameters and salt)."""

    __tablename__ = "user_passwords"
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignInFailure(Base):
    """A failed sign-in: the user name tried and the address it came from."""

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    username: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))


MIN_PASSWORD = 8
MAX_PASSWORD = 200
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()
#: Verified against when the user name is unknown, so both cases cost the same time.
_DUMMY_HASH = _hasher.hash("not a password of anybody")


def set_password(session: Session, name: str, password: str) -> None:
    """Give user ``name`` a password (replacing any earlier one)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidRequest(
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            errors={"password": ["too short or too long"]},
        )
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise InvalidRequest(f"no user named {name!r}", errors={"name": ["unknown user"]})
    row = session.get(UserPassword, user.id)
    hashed = _hasher.hash(password)
    if row is None:
        session.add(UserPassword(user_id=user.id, password_hash=hashed, changed_at=clock.now()))
    else:
        row.password_hash = hashed
        row.changed_at = clock.now()
    session.flush()


def _principal(user: User) -> Principal | None:
    if user.revoked_at is not None:
        return None
    if user.expires_at is not None:
        expires = user.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=clock.now().tzinfo)
        if expires <= clock.now():
            return None
    return Principal(user.id, user.name, user.role, user.pharmacy, user.educator)


def check_password(session: Session, name: str, password: str) -> Principal | None:
    """The principal whose name and password these are, or None (unknown user, wrong
    password, no password set, revoked or expired). Does not commit."""
    user = session.scalars(select(User).where(User.name == name)).first()
    row = session.get(UserPassword, user.id) if user is not None else None
    try:
        _hasher.verify(
            row.password_hash if row is not None else _DUMMY_HASH, password[:MAX_PASSWORD]
        )
    except (VerificationError, InvalidHashError):
        return None
    if user is None or row is None:
        return None
    return _principal(user)


def principal_by_id(session: Session, user_id: int) -> Principal | None:
    """The principal of a signed-in session (None once the user is revoked or expired)."""
    user = session.get(User, user_id)
    return _principal(user) if user is not None else None


def sign_in_blocked(session: Session, name: str, address: str) -> bool:
    """True when the user name or the address failed :data:`MAX_FAILURES` times within
    :data:`FAILURE_WINDOW`."""
    since = clock.now() - FAILURE_WINDOW
    by_name = session.scalar(
        select(func.count())
        .select_from(SignInFailure)
        .where(SignInFailure.username == name[:100], SignInFailure.at >= since)
    )
    by_addr = session.scalar(
        select(func.count())
        .select_from(SignInFailure)
        .where(SignInFailure.address == address[:64], SignInFailure.at >= since)
    )
    return int(by_name or 0) >= MAX_FAILURES or int(by_addr or 0) >= MAX_FAILURES


def record_sign_in_failure(session: Session, name: str, address: str) -> None:
    """Keep a failed sign-in (and forget failures older than a day). Does not commit."""
    now = clock.now()
    session.execute(delete(SignInFailure).where(SignInFailure.at < now - timedelta(days=1)))
    session.add(SignInFailure(at=now, username=name[:100], address=address[:64]))
    session.flush()


def clear_sign_in_failures(session: Session, name: str) -> None:
    """A successful sign-in forgets the user name's failures. Does not commit."""
    session.execute(delete(SignInFailure).where(SignInFailure.username == name[:100]))
