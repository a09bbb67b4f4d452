"""Portal accounts: users of one retailer with a role, argon2id passwords, throttled log-in."""

from __future__ import annotations

import contextlib
import math
import re
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from catalog_ingest.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import portal as repo
from catalog_ingest.storage import reads

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
#: Failures in the window after which each further failed attempt is answered late.
SLOW_AFTER_FAILURES = 3
SLOW_SECONDS = 1.0
SLOW_SECONDS_MAX = 4.0


class Role(StrEnum):
    """What a portal user may do: admins everything, editors change the catalog, viewers read."""

    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def can_change(self) -> bool:
        """Upload, edit, archive, reactivate, cancel."""
        return self in (Role.ADMIN, Role.EDITOR)

    @property
    def can_administer(self) -> bool:
        """The integration health page (keys, subscriptions, deliveries)."""
        return self is Role.ADMIN

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may."""
        if needed is Role.VIEWER:
            return True
        if needed is Role.EDITOR:
            return self.can_change
        return self.can_administer


@dataclass(frozen=True)
class PortalUser:
    user_id: str
    retailer_id: str
    email: str
    role: Role
    retailer_name: str


@dataclass(frozen=True)
class LoginOutcome:
    """The result of one log-in attempt: a user, or a message; `delay` seconds to answer late."""

    user: PortalUser | None
    message: str = ""
    delay: float = 0.0
    refused: bool = False


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with the library's current (RFC 9106 low-memory) defaults


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


def create_user(svc: Runtime, retailer_id: str, email: str, password: str,
                role: str = Role.EDITOR.value) -> PortalUser:
    """A new portal user of `retailer_id`; InvalidInput/NotFound/Conflict say what is wrong."""
    address = normalize_email(email)
    if not _EMAIL.fullmatch(address) or len(address) > 254:
        raise InvalidInput(f"{email!r} is not an e-mail address")
    try:
        user_role = Role(role)
    except ValueError:
        raise InvalidInput(f"role must be admin, editor or viewer, not {role!r}") from None
    check_password_rules(password)
    password_hash = _hasher().hash(password)
    with svc.db.write() as conn:
        if repo.retailer_name(conn, retailer_id) is None:
            raise NotFound(f"no retailer {retailer_id!r}")
        if repo.user_by_email(conn, address) is not None:
            raise Conflict(f"a portal user {address!r} already exists")
        row = repo.UserRow(str(uuid.uuid4()), retailer_id, address, password_hash,
                           user_role.value, time.time(), None)
        repo.insert_user(conn, row)
        name = repo.retailer_name(conn, retailer_id) or retailer_id
    return PortalUser(row.user_id, retailer_id, address, user_role, name)


def get_user(svc: Runtime, user_id: str) -> PortalUser | None:
    """The user behind a session, read afresh (a changed role counts at once); None if gone."""
    with svc.db.read() as conn:
        row = repo.user_by_id(conn, user_id)
        if row is None or not reads.retailer_enabled(conn, row.retailer_id):
            return None
        name = repo.retailer_name(conn, row.retailer_id) or row.retailer_id
    return PortalUser(row.user_id, row.retailer_id, row.email, Role(row.role), name)


class Accounts:
    """One process's log-in service: password checks behind per-account and per-address limits.

    Failures are counted with `limits` moving windows, in Redis when the deployment has one (so
    every process of it counts together), else in this process.
    """

    def __init__(self, svc: Runtime) -> None:
        self.svc = svc
        try:
            self.per_account: RateLimitItem = parse(svc.settings.login_failures_per_account)
            self.per_address: RateLimitItem = parse(svc.settings.login_failures_per_address)
        except ValueError as exc:
            raise ConfigurationError(f"bad log-in failure limit: {exc}") from None
        redis_url = svc.settings.redis_url
        storage: Storage = RedisStorage(redis_url) if redis_url else MemoryStorage()
        self.limiter = MovingWindowRateLimiter(storage)
        self._dummy_hash = _hasher().hash("not-a-password-of-anyone")

    def _keys(self, email: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [(self.per_account, "portal-login-account", email),
                (self.per_address, "portal-login-address", address)]

    def login(self, email: str, password: str, address: str) -> LoginOutcome:
        """Check a log-in; refused without looking at the password while a limit is exhausted."""
        email = normalize_email(email)
        keys = self._keys(email, address)
        for item, *ident in keys:
            if not self.limiter.test(item, *ident):
                return self._refused(item, ident, "account" if ident[0].endswith("account")
                                     else "address")
        user = self._verify(email, password)
        if user is not None:
            self.limiter.clear(self.per_account, *keys[0][1:])
            return LoginOutcome(user)
        for item, *ident in keys:
            self.limiter.hit(item, *ident)
        return self._failed(keys)

    def _verify(self, email: str, password: str) -> PortalUser | None:
        hasher = _hasher()
        with self.svc.db.read() as conn:
            row = repo.user_by_email(conn, email)
        if row is None or len(password) > MAX_PASSWORD_LENGTH:
            # As slow as a real check, so timing does not tell which e-mails exist.
            with contextlib.suppress(VerificationError):
                hasher.verify(self._dummy_hash, password[:MAX_PASSWORD_LENGTH] + "x")
            return None
        try:
            hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        user = get_user(self.svc, row.user_id)
        if user is None:
            return None
        new_hash = hasher.hash(password) if hasher.check_needs_rehash(row.password_hash) else None
        with self.svc.db.write() as conn:
            repo.record_login(conn, row.user_id, time.time(), new_hash)
        return user

    def _failed(self, keys: list[tuple[RateLimitItem, str, str]]) -> LoginOutcome:
        item, *ident = keys[0]
        stats = self.limiter.get_window_stats(item, *ident)
        failures = item.amount - stats.remaining
        message = "Wrong e-mail address or password."
        if stats.remaining == 0:
            return self._refused(item, ident, "account", first=True)
        delay = 0.0
        if failures >= SLOW_AFTER_FAILURES:
            delay = min(SLOW_SECONDS * 2 ** (failures - SLOW_AFTER_FAILURES), SLOW_SECONDS_MAX)
            message += (f" Further attempts are slowed down; after {stats.remaining} more failed "
                        f"attempt{'s' if stats.remaining != 1 else ''}, log-in is refused for a "
                        "while.")
        return LoginOutcome(None, message, delay)

    def _refused(self, item: RateLimitItem, ident: list[str], what: str,
                 first: bool = False) -> LoginOutcome:
        stats = self.limiter.get_window_stats(item, *ident)
        minutes = max(1, math.ceil((stats.reset_time - time.time()) / 60))
        who = "this account" if what == "account" else "your address"
        lead = "Wrong e-mail address or password. " if first else ""
        message = (f"{lead}Too many failed log-in attempts for {who}: log-in is refused for "
                   f"{minutes} minute{'s' if minutes != 1 else ''}. Try again later, or ask "
                   "your administrator to check the account.")
        return LoginOutcome(None, message, SLOW_SECONDS_MAX if first else 0.0, refused=True)
