"""Service configuration, declared once: each setting's name, variable, default and meaning.

`Settings` is the table. Each field is declared with `setting(...)`, which records its
environment variable (``CATALOG_INGEST_`` + the upper-cased name), how a value is parsed, and
what it means; `from_env` reads every field from that, and `docs/configuration.md` shows the
same table (`markdown_table`; a test keeps the document equal to it). Command-line options
(`serve --data-dir`, …) are keyword overrides of `from_env`, so they win.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from catalog_ingest.crypto import secret_file
from catalog_ingest.errors import ConfigurationError

ENV_PREFIX = "CATALOG_INGEST_"

Parser = Callable[[str, str], Any]


def _text(name: str, raw: str) -> str:
    return raw


def _path(name: str, raw: str) -> Path:
    return Path(raw)


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, not {raw!r}") from exc


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}") from exc
    if not value >= 0 or value == float("inf"):
        raise ConfigurationError(f"{name} must be a finite number >= 0, not {raw!r}")
    return value


def _switch(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    raise ConfigurationError(f"{name} must be on or off, not {raw!r}")


def _hex(name: str, raw: str) -> bytes:
    try:
        return bytes.fromhex(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be hexadecimal") from exc


def setting(default: Any, meaning: str, parse: Parser = _text, *, shown: str | None = None,
            env: bool = True, secret: bool = False) -> Any:
    """A field of `Settings`: its default, what it means, how its variable is parsed.

    ``shown`` is the default as the documentation states it (when the value in code is a
    placeholder resolved later, e.g. from the data directory); ``env=False`` for values the
    process sets itself.
    """
    return field(default=default, repr=not secret, metadata={
        "meaning": meaning, "parse": parse, "shown": shown, "env": env})


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know; `create_app(settings)` and the worker take one."""

    data_dir: Path = setting(Path("./catalog-data"), "embedded database, payloads, reports, "
                             "generated secrets", _path, shown="`./catalog-data`")
    database_url: str = setting("", "or `postgresql://user@host/db` (psycopg 3 is used)",
                                shown="`sqlite:///<data dir>/catalog.db`")
    blob_url: str = setting("", "or `s3://bucket/prefix`; `AWS_ENDPOINT_URL_S3` for "
                            "S3-compatible stores", shown="`file://<data dir>/blobs`")
    redis_url: str | None = setting(None, "shared rate-limit counters for several API "
                                    "processes", shown="unset: in-process limits")
    public_url: str | None = setting(None, "base of pre-signed links and notification URLs "
                                     "(set it behind a proxy)",
                                     shown="the request's own base URL")
    region: str = setting("us-east-1", "SigV4 region requests must be scoped to")
    rate_limit: str = setting("10/second", "per retailer, all signed endpoints together "
                              "(`limits` syntax)")
    max_body_bytes: int = setting(10 * 1024 * 1024, "larger bodies get 413 before they are "
                                  "read", _int)
    report_link_ttl: int = setting(3600, "seconds a report link stays valid", _int)
    secret_key: bytes = setting(b"", "hex; signs links, seals API key secrets. Give every "
                                "process of one deployment the same value", _hex,
                                shown="generated into `<data dir>/secrets/server.key`",
                                secret=True)
    lease_seconds: float = setting(30.0, "how long an INPROGRESS claim lasts without a "
                                   "heartbeat before another worker may take it", _seconds)
    poll_interval: float = setting(0.5, "how often an idle worker looks for new uploads "
                                   "(serve's own worker is also woken at once)", _seconds)
    max_attempts: int = setting(3, "attempts before an upload whose processing keeps "
                                "failing is marked FATAL", _int)
    idempotency_ttl: int = setting(24 * 3600, "seconds an `Idempotency-Key` is remembered",
                                   _int)
    notify_retry_seconds: int = setting(24 * 3600, "how long failed notification deliveries "
                                        "are retried", _int)
    notify_backoff_base: float = setting(1.0, "first retry delay (seconds) of a failed "
                                         "delivery, doubled per attempt with jitter", _seconds)
    notify_backoff_max: float = setting(600.0, "longest retry delay (seconds)", _seconds)
    notify_timeout: float = setting(10.0, "timeout of one delivery attempt (HTTP POST or SQS "
                                    "SendMessage), seconds", _seconds)
    portal_session_idle: int = setting(30 * 60, "seconds without a request after which a "
                                       "portal session ends", _int)
    portal_stuck_after: float = setting(180.0, "seconds an upload may wait while no worker is "
                                        "alive before the portal shows it as stuck", _seconds)
    login_failures_per_account: str = setting("5/15 minutes", "failed portal log-ins allowed "
                                              "per account (`limits` syntax); then refused "
                                              "until the window moves on")
    login_failures_per_address: str = setting("20/15 minutes", "failed portal log-ins allowed "
                                              "per client address (`limits` syntax)")
    portal_max_upload_bytes: int = setting(64 * 1024 * 1024, "the largest file the portal's "
                                           "upload page takes (refused before it is read in "
                                           "full)", _int)
    # --- operations (issue 11): metrics, retention, shutdown (docs/operations.md) ---
    metrics: bool = setting(True, "serve `GET /metrics` (Prometheus text, unsigned); `off` "
                            "answers 404 there", _switch, shown="`on`")
    retention_days: float = setting(90.0, "days after which finished uploads, their payloads "
                                    "and reports, and finished notification records are "
                                    "purged by idle workers; `0` keeps them forever", _seconds)
    payload_retention_days: float = setting(7.0, "days after which the payload of a finished "
                                            "upload is deleted (the upload and its report "
                                            "stay); `0` keeps them", _seconds)
    retention_interval: float = setting(60.0, "seconds between two retention passes of an "
                                        "idle worker", _seconds)
    worker_nice: int = setting(10, "how much lower the CPU priority of `serve`'s worker "
                               "process is than `serve`'s own (a Unix nice increment): a "
                               "request competing with processing for a core goes first; "
                               "`0` keeps them equal", _int)
    switch_interval: float = setting(0.0005, "seconds a thread may hold the interpreter "
                                     "before another waiting thread is let run (Python's "
                                     "`sys.setswitchinterval`), set by `serve`; "
                                     "lower keeps requests quick while a worker thread "
                                     "(`serve --worker-threads`) plans an upload (Python's "
                                     "default: 0.005)", _seconds)
    shutdown_grace: float = setting(20.0, "seconds a SIGTERM leaves in-flight requests and "
                                    "the upload being processed before the worker gives its "
                                    "claim back", _seconds)
    #: The address `serve` listens on (set by `serve`): the base of the URLs in notifications
    #: when `public_url` is unset, since a notification has no request to copy.
    listen_url: str | None = setting(None, "set by `serve`", env=False)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'catalog.db'}"

    @property
    def effective_blob_url(self) -> str:
        return self.blob_url or f"file://{self.data_dir.resolve() / 'blobs'}"

    @property
    def rate_limit_value(self) -> str:
        if self.rate_limit.endswith("/s"):
            return self.rate_limit.replace("/s", "/second")
        return self.rate_limit

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


def env_name(f: dataclasses.Field[Any]) -> str:
    return ENV_PREFIX + f.name.upper()


def configurable() -> list[dataclasses.Field[Any]]:
    """The fields read from the environment, in declaration order."""
    return [f for f in fields(Settings) if f.metadata["env"]]


def from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from CATALOG_INGEST_* variables; keyword overrides (command-line options) win.

    An unset or empty variable means the default.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in configurable():
        raw = env.get(env_name(f))
        if raw:
            values[f.name] = f.metadata["parse"](env_name(f), raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


def markdown_table() -> str:
    """The settings as the Markdown table of `docs/configuration.md`."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for f in configurable():
        shown = f.metadata["shown"] or f"`{_shown(f.default)}`"
        lines.append(f"| `{env_name(f)}` | {shown} | {f.metadata['meaning']} |")
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


if __name__ == "__main__":
    print(markdown_table(), end="")
