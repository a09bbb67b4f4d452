"""Service configuration: one immutable Settings value, from the environment or built in code."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from catalog_ingest.crypto import secret_file
from catalog_ingest.errors import ConfigurationError

ENV_PREFIX = "CATALOG_INGEST_"


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know; `create_app(settings)` and the worker take one."""

    data_dir: Path = Path("./catalog-data")
    database_url: str = ""
    blob_url: str = ""
    redis_url: str | None = None
    public_url: str | None = None
    region: str = "us-east-1"
    rate_limit: str = "10/second"
    max_body_bytes: int = 10 * 1024 * 1024
    report_link_ttl: int = 3600
    secret_key: bytes = field(default=b"", repr=False)
    #: How long an INPROGRESS claim lasts without a heartbeat before another worker may take it.
    lease_seconds: float = 30.0
    #: How often an idle worker looks for new uploads (it is also woken in-process).
    poll_interval: float = 0.5
    #: Attempts before an upload whose processing keeps failing is marked FATAL.
    max_attempts: int = 3
    idempotency_ttl: int = 24 * 3600
    notify_retry_seconds: int = 24 * 3600
    #: First retry delay of a failed notification delivery; doubles per attempt (with jitter).
    notify_backoff_base: float = 1.0
    #: The longest delay between two delivery attempts of one notification.
    notify_backoff_max: float = 600.0
    #: Timeout of one delivery attempt (HTTP POST or SQS SendMessage), seconds.
    notify_timeout: float = 10.0
    #: A portal session ends after this many seconds without a request from its user.
    portal_session_idle: int = 30 * 60
    #: The largest file the portal's upload page takes (refused before it is read in full).
    portal_max_upload_bytes: int = 64 * 1024 * 1024
    #: An upload queued longer than this while no worker is alive is shown as stuck.
    portal_stuck_after: float = 180.0
    #: Failed portal log-ins allowed per account, and per client address (`limits` notation);
    #: past the limit log-in is refused until the window has moved on.
    login_failures_per_account: str = "5/15 minutes"
    login_failures_per_address: str = "20/15 minutes"
    #: The address `serve` listens on (set by `serve`, not configured): the base of the URLs in
    #: notifications when `public_url` is unset, since a notification has no request to copy.
    listen_url: str | None = None

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'catalog.db'}"

    @property
    def effective_blob_url(self) -> str:
        return self.blob_url or f"file://{self.data_dir.resolve() / 'blobs'}"

    @property
    def rate_limit_value(self) -> str:
        return self.rate_limit.replace("/s", "/second") if self.rate_limit.endswith("/s") else (
            self.rate_limit
        )

    def with_secret(self) -> Settings:
        """Settings with a secret key: the configured one, else one kept in the data dir."""
        if self.secret_key:
            return self
        return replace(self, secret_key=_data_dir_secret(self.data_dir))

    def replace(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _data_dir_secret(data_dir: Path) -> bytes:
    """The server secret stored under the data dir, created once (atomically) on first use."""
    return secret_file(data_dir / "secrets" / "server.key")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(ENV_PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{ENV_PREFIX}{name} must be an integer, not {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(ENV_PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{ENV_PREFIX}{name} must be a number, not {raw!r}") from exc
    if not value >= 0 or value == float("inf"):
        raise ConfigurationError(f"{ENV_PREFIX}{name} must be a finite number >= 0, not {raw!r}")
    return value


def _hex(raw: str | None) -> bytes:
    try:
        return bytes.fromhex(raw or "")
    except ValueError as exc:
        raise ConfigurationError(f"{ENV_PREFIX}SECRET_KEY must be hexadecimal") from exc


def from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from CATALOG_INGEST_* variables; keyword overrides (command-line options) win."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        return env.get(ENV_PREFIX + name) or None

    values: dict[str, Any] = {
        "data_dir": Path(get("DATA_DIR") or "./catalog-data"),
        "database_url": get("DATABASE_URL") or "",
        "blob_url": get("BLOB_URL") or "",
        "redis_url": get("REDIS_URL"),
        "public_url": get("PUBLIC_URL"),
        "region": get("REGION") or "us-east-1",
        "rate_limit": get("RATE_LIMIT") or "10/second",
        "max_body_bytes": _int(env, "MAX_BODY_BYTES", 10 * 1024 * 1024),
        "report_link_ttl": _int(env, "REPORT_LINK_TTL", 3600),
        "secret_key": _hex(get("SECRET_KEY")),
        "notify_retry_seconds": _int(env, "NOTIFY_RETRY_SECONDS", 24 * 3600),
        "notify_backoff_base": _float(env, "NOTIFY_BACKOFF_BASE", 1.0),
        "notify_backoff_max": _float(env, "NOTIFY_BACKOFF_MAX", 600.0),
        "notify_timeout": _float(env, "NOTIFY_TIMEOUT", 10.0),
        "portal_session_idle": _int(env, "PORTAL_SESSION_IDLE", 30 * 60),
        "portal_max_upload_bytes": _int(env, "PORTAL_MAX_UPLOAD_BYTES", 64 * 1024 * 1024),
        "portal_stuck_after": _float(env, "PORTAL_STUCK_AFTER", 180.0),
        "login_failures_per_account": get("LOGIN_FAILURES_PER_ACCOUNT") or "5/15 minutes",
        "login_failures_per_address": get("LOGIN_FAILURES_PER_ADDRESS") or "20/15 minutes",
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
