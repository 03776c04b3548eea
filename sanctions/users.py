"""Users of the officers' workspace: roles, password hashes, sign-in throttling, API tokens.

Roles are ordered: a **viewer** reads everything (gaps included), an **officer**
also decides, an **admin** also manages users and reads the audit log.
Passwords are hashed with argon2id (argon2-cffi); API tokens are random and
stored as their SHA-256 only (a 256-bit random token needs no slow hash), so
the database never holds anything a thief could sign in with.

Repeated failed sign-ins are slowed: after ``FREE_FAILURES`` failures in a
row, the account refuses every attempt, right or wrong, until
``throttle_delay`` seconds have passed since the last failure (30 s, doubling
each time, capped at 15 minutes), so guessing costs hours, not seconds.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from sanctions import audit
from sanctions.db import session_factory
from sanctions.models import ApiToken, User

ROLES = ("viewer", "officer", "admin")
MIN_PASSWORD = 10
FREE_FAILURES = 3
FIRST_DELAY = 30
MAX_DELAY = 15 * 60
TOKEN_PREFIX = "sr_"

_hasher = PasswordHasher()


class UserError(ValueError):
    """A user command or sign-in the registry refuses, with a message a person can act on."""


@dataclass(frozen=True)
class Account:
    """What the web app keeps of a signed-in user (no hash, no session-bound ORM object)."""

    id: int
    name: str
    role: str
    disabled: bool

    def can(self, role: str) -> bool:
        """True if this account's role is ``role`` or above it."""
        return not self.disabled and ROLES.index(self.role) >= ROLES.index(role)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _account(user: User) -> Account:
    return Account(user.id, user.name, user.role, user.disabled)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _get(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise UserError(f"no user named {name!r}")
    return user


def add_user(engine: Engine, name: str, role: str, password: str, actor: str) -> Account:
    name = name.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise UserError("a user name is 1 to 100 characters without spaces")
    _check_role(role)
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters long")
    with session_factory(engine).begin() as session:
        if session.scalars(select(User.id).where(User.name == name)).first() is not None:
            raise UserError(f"a user named {name!r} exists already")
        user = User(name=name, role=role, password_hash=_hasher.hash(password), disabled=False, created_at=_now(),
                    failed_signins=0)
        session.add(user)
        audit.append(session, actor, "user-add", name, None, {"role": role}, None)
        session.flush()
        return _account(user)


def list_users(session: Session) -> list[dict]:
    tokens = dict(session.execute(select(ApiToken.user_id, ApiToken.id).where(ApiToken.revoked.is_(False))).all())
    return [{"name": u.name, "role": u.role, "disabled": u.disabled, "created_at": u.created_at.replace(microsecond=0),
             "has_token": u.id in tokens}
            for u in session.scalars(select(User).order_by(User.name))]


def set_role(engine: Engine, name: str, role: str, actor: str) -> Account:
    _check_role(role)
    with session_factory(engine).begin() as session:
        user = _get(session, name)
        before = {"role": user.role}
        user.role = role
        audit.append(session, actor, "user-role", name, before, {"role": role}, None)
        return _account(user)


def disable(engine: Engine, name: str, actor: str) -> Account:
    """Disable an account: its sessions and tokens stop working at their next request."""
    with session_factory(engine).begin() as session:
        user = _get(session, name)
        user.disabled = True
        session.execute(update(ApiToken).where(ApiToken.user_id == user.id).values(revoked=True))
        audit.append(session, actor, "user-disable", name, {"disabled": False}, {"disabled": True}, None)
        return _account(user)


def issue_token(engine: Engine, name: str, actor: str) -> str:
    """A new API token for the user (older ones are revoked); the token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session_factory(engine).begin() as session:
        user = _get(session, name)
        if user.disabled:
            raise UserError(f"user {name!r} is disabled")
        session.execute(update(ApiToken).where(ApiToken.user_id == user.id).values(revoked=True))
        session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), created_at=_now(), revoked=False))
        audit.append(session, actor, "user-token", name, None, {"token": "issued"}, None)
    return token


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def account_for_token(session: Session, token: str) -> Account | None:
    """The enabled account a bearer token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    user = session.scalars(select(User).join(ApiToken, ApiToken.user_id == User.id).where(
        ApiToken.token_hash == _token_hash(token), ApiToken.revoked.is_(False))).first()
    return _account(user) if user is not None and not user.disabled else None


def account_by_id(session: Session, user_id: int) -> Account | None:
    user = session.get(User, user_id)
    return _account(user) if user is not None and not user.disabled else None


def throttle_delay(failures: int) -> int:
    """Seconds an account waits after ``failures`` failed sign-ins in a row (0 for the first few)."""
    if failures < FREE_FAILURES:
        return 0
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - FREE_FAILURES))


class SignInRefused(UserError):
    """Wrong name or password, a disabled account, or too many recent failures (``retry_after`` s)."""

    def __init__(self, message: str, retry_after: int = 0):
        super().__init__(message)
        self.retry_after = retry_after


def authenticate(engine: Engine, name: str, password: str, now: dt.datetime | None = None) -> Account:
    """Check a sign-in; count failures and refuse attempts that come too soon after them.

    The same message for an unknown name and a wrong password, so the form does
    not reveal which names exist.  A password check runs for an unknown name too
    (against a dummy hash) so the answer takes as long either way.
    """
    now = now or _now()
    refusal: SignInRefused | None = None
    with session_factory(engine).begin() as session:
        user = session.scalars(select(User).where(User.name == name)).first() if name else None
        if user is not None and user.last_failed_at is not None:
            wait = throttle_delay(user.failed_signins) - int((now - user.last_failed_at).total_seconds())
            if wait > 0:
                raise SignInRefused(f"too many failed sign-ins for this account: try again in {wait} s", wait)
        try:
            _hasher.verify(user.password_hash if user else _dummy_hash(), password)
            good = user is not None
        except (VerificationError, InvalidHashError):
            good = False
        if not good:
            if user is not None:  # counted and committed: the refusal is raised after the commit
                user.failed_signins += 1
                user.last_failed_at = now
            refusal = SignInRefused("wrong user name or password")
        elif user.disabled:
            raise SignInRefused("this account is disabled")
        else:
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            user.failed_signins, user.last_failed_at = 0, None
            account = _account(user)
    if refusal is not None:
        raise refusal
    return account


@functools.cache
def _dummy_hash() -> str:
    """Made on first use, not at import: hashing costs every CLI command a fifth of a second.
    The web app makes it at start-up (``prepare_sign_in``), so that the first sign-in with an
    unknown name takes no longer than any other."""
    return _hasher.hash("not a password of anyone " + secrets.token_hex(8))


def prepare_sign_in() -> None:
    """Make the dummy hash now: the web app calls this once, before serving any sign-in."""
    _dummy_hash()
