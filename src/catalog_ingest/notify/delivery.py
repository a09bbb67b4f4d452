"""Delivering the outbox: claim due messages, send them (HTTP POST or SQS), record each attempt.

Any number of deliverers may run (a thread in ``serve``, one in each ``catalog-ingest worker``).
A claim moves a message's ``next_attempt_at`` a lease ahead, so a deliverer that dies
mid-attempt only delays that message; on PostgreSQL, claims use ``FOR UPDATE SKIP LOCKED``,
on SQLite the single writer serialises them. The network is never touched inside a
transaction.

Delivery is at least once: a message whose send succeeded but whose outcome was not recorded
(a crash in between) is sent again, with the same ``MessageId``. A failed attempt is retried
after ``notify_backoff_base * 2**(attempts-1)`` seconds (capped at ``notify_backoff_max``,
with jitter: between half and all of it) until ``notify_retry_seconds`` after the message
was recorded; the last attempt is made at that deadline, then the message is ``GAVE_UP``.
An HTTP(S) delivery succeeds on a 2xx answer; anything else (3xx, 4xx, 5xx, timeouts,
refused connections) is retried.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from catalog_ingest.errors import TransientError
from catalog_ingest.notify import documents, sns
from catalog_ingest.notify.keys import SigningKey
from catalog_ingest.notify.subscriptions import sqs_client_options
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import notifications as repo
from catalog_ingest.storage.notifications import OutboxRow, Subscription

log = logging.getLogger(__name__)
BATCH = 8


def backoff_delay(attempts: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """The wait after the ``attempts``-th failed attempt: exponential, capped, jittered."""
    delay = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 60))
    return delay / 2 + rng() * delay / 2


class SendFailed(TransientError):
    """One attempt did not deliver; the message says why (recorded with the attempt)."""


class Deliverer:
    """Sends due outbox messages; ``run_once`` for one batch, ``run`` until stopped."""

    def __init__(self, svc: Runtime, *, clock: Callable[[], float] = time.time,
                 rng: Callable[[], float] = random.random) -> None:
        self.svc = svc
        self.settings = svc.settings
        self._clock = clock
        self._rng = rng
        self._http = httpx.Client(timeout=self.settings.notify_timeout, follow_redirects=False)
        self._sqs_clients: dict[tuple[tuple[str, Any], ...], Any] = {}
        self._sqs_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=BATCH, thread_name_prefix="notify-send")
        self._key: SigningKey | None = None

    @property
    def lease_seconds(self) -> float:
        # One attempt may take a connect and a read timeout; leave room before others retry.
        return 3 * self.settings.notify_timeout + 5

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; an idle deliverer looks again every poll interval."""
        try:
            while not stop.is_set():
                try:
                    if self.run_once() == 0:
                        stop.wait(self.settings.poll_interval)
                except Exception:  # the database may be briefly unreachable: keep going
                    log.exception("notification delivery: loop error")
                    stop.wait(1.0)
        finally:
            self.close()

    def run_once(self) -> int:
        """Claim and attempt one batch of due messages; how many were attempted."""
        return len(self.run_batch())

    def run_batch(self) -> list[int]:
        """Claim and attempt one batch of due messages; their outbox ids."""
        now = self._clock()
        with self.svc.db.read() as conn:
            if not repo.any_due(conn, now):
                return []  # cheap on SQLite: no write lock taken while idle
        with self.svc.db.write() as conn:
            rows = repo.claim_due(conn, now, now + self.lease_seconds, BATCH,
                                  skip_locked=not self.svc.db.is_sqlite)
            subs = {row.subscription_id: repo.get_subscription(conn, row.subscription_id)
                    for row in rows}
        for _ in self._pool.map(lambda row: self._attempt(row, subs[row.subscription_id]), rows):
            pass
        return [row.id for row in rows]

    def _attempt(self, row: OutboxRow, sub: Subscription | None) -> None:
        skip = _why_not_deliverable(row, sub)
        if skip is not None:
            self._record(row, repo.DROPPED, skip, repo.DROPPED, 0.0)
            return
        assert sub is not None
        try:
            detail = self._send(row, sub)
        except SendFailed as exc:
            self._failed(row, str(exc))
        except Exception as exc:  # a bug or an odd library error must not lose the message
            log.exception("notification %s: unexpected delivery error", row.message_id)
            self._failed(row, f"{type(exc).__name__}: {exc}")
        else:
            self._record(row, repo.DELIVERED, detail, repo.DELIVERED, 0.0)

    def _failed(self, row: OutboxRow, detail: str) -> None:
        now = self._clock()
        deadline = row.created_at + self.settings.notify_retry_seconds
        if now >= deadline:
            self._record(row, repo.GAVE_UP, f"{detail}; retries ended", repo.GAVE_UP, 0.0)
            return
        delay = backoff_delay(row.attempts + 1, self.settings.notify_backoff_base,
                              self.settings.notify_backoff_max, self._rng)
        self._record(row, repo.FAILED, detail, repo.PENDING, min(now + delay, deadline))

    def _record(self, row: OutboxRow, outcome: str, detail: str, status: str,
                next_attempt_at: float) -> None:
        with self.svc.db.write() as conn:
            repo.record_attempt(conn, row, outcome=outcome, detail=detail, now=self._clock(),
                                status=status, next_attempt_at=next_attempt_at)
        self.svc.metrics.observe_notification(outcome)

    def _signing_key(self) -> SigningKey:
        if self._key is None:
            self._key = documents.signing_key(self.svc.db, self.settings.secret_key)
        return self._key

    def _send(self, row: OutboxRow, sub: Subscription) -> str:
        doc = documents.build_document(self.settings, self._signing_key(), row, self._clock())
        body = sns.document_body(doc)
        if sub.protocol == "sqs":
            return self._send_sqs(sub, body)
        arn = None
        if row.kind != sns.SUBSCRIPTION_CONFIRMATION:
            arn = documents.subscription_arn(self.settings, sub.retailer_id, sub.subscription_id)
        try:
            response = self._http.post(sub.endpoint, content=body,
                                       headers=sns.http_headers(doc, arn))
        except httpx.HTTPError as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise SendFailed(f"HTTP {response.status_code}")
        return f"HTTP {response.status_code}"

    def _send_sqs(self, sub: Subscription, body: bytes) -> str:
        client = self._sqs_client(sub)
        try:
            answer = client.send_message(QueueUrl=sub.endpoint, MessageBody=body.decode("utf-8"))
        except Exception as exc:  # botocore's ClientError, connection and credential errors
            raise SendFailed(f"SQS {type(exc).__name__}: {exc}") from exc
        return f"SQS MessageId {answer.get('MessageId', '')}"

    def _sqs_client(self, sub: Subscription) -> Any:
        import boto3
        from botocore.config import Config

        options = sqs_client_options(self.settings.secret_key, sub)
        cache_key = tuple(sorted(options.items()))
        with self._sqs_lock:  # boto3's session setup is not thread-safe; clients are
            client = self._sqs_clients.get(cache_key)
            if client is None:
                timeout = self.settings.notify_timeout
                config = Config(connect_timeout=timeout, read_timeout=timeout,
                                retries={"total_max_attempts": 1})
                client = boto3.session.Session().client("sqs", config=config, **options)
                self._sqs_clients[cache_key] = client
        return client


def _why_not_deliverable(row: OutboxRow, sub: Subscription | None) -> str | None:
    """Why ``row`` must not be sent to ``sub`` any more, or None if it may be."""
    if sub is None:
        return "the subscription does not exist"
    if row.kind == sns.NOTIFICATION and sub.status != repo.CONFIRMED:
        return f"the subscription is {sub.status}"
    if row.kind == sns.SUBSCRIPTION_CONFIRMATION and (
        sub.status != repo.PENDING_CONFIRMATION or sub.confirm_token != row.payload["token"]
    ):
        return f"the subscription is {sub.status}: nothing to confirm"
    if row.kind == sns.UNSUBSCRIBE_CONFIRMATION and sub.status != repo.DELETED:
        return f"the subscription is {sub.status} again"
    return None


def deliver_due(svc: Runtime, *, clock: Callable[[], float] = time.time) -> int:
    """Attempt every message due now once (tests and ``worker --once``); how many attempts.

    "Now" is the pass's start, for every batch of it: a message that fails is due again only
    after its backoff, so a pass slower than a backoff (a loaded machine) does not attempt it
    a second time; only a zero backoff makes it due again at once (then it is attempted
    twice, and the pass ends).
    """
    started = clock()
    deliverer = Deliverer(svc, clock=lambda: started)
    seen: set[int] = set()
    attempts = 0
    try:
        while True:
            ids = deliverer.run_batch()
            attempts += len(ids)
            if not ids or seen.issuperset(ids):
                return attempts
            seen.update(ids)
    finally:
        deliverer.close()
