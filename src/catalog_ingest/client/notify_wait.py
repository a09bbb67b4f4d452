"""Waiting for completion notifications instead of polling: from an SQS queue or a local listener.

``wait_for_completions`` returns the completions of the given ingestion ids that arrived
within ``timeout``; the caller polls ``getCatalogUploadStatus`` for the rest. The ids may be
a ``Wanted`` set that grows while the wait runs (a push starts listening before its first
upload and adds each upload as it is accepted; a completion that arrives before its id is
added is kept for it). Every message
is verified (signature, and a ``SigningCertURL`` under the configured service: see
:func:`service_verifier`) before it counts; messages about other uploads are left alone.

* **SQS** (``sqs_queue_url``): long polling; a message about one of our uploads is deleted
  once read (duplicates too); any other message, or one that does not verify, stays in the
  queue for whoever owns it.
* **HTTP** (``listen="HOST:PORT"``): a local HTTP server for the duration of the call. It
  answers a ``SubscriptionConfirmation`` by fetching its ``SubscribeURL`` (so the
  subscription made for this address confirms itself), acknowledges every verified
  notification with ``200``, and refuses a document that does not verify with ``400``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from catalog_ingest.client.sns import (
    NOTIFICATION,
    SUBSCRIPTION_CONFIRMATION,
    Completion,
    SnsFetchError,
    SnsMessageError,
    SnsSignatureError,
    SnsVerifier,
    completion,
    parse_message,
)

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024
SQS_MAX_WAIT = 20

OnCompletion = Callable[[Completion], None]
#: Completions of ids not (yet) wanted kept by a listener, for ids added later.
EARLY_KEPT = 100_000


class Wanted:
    """The ingestion ids to wait for: fixed, or growing until ``close()`` (thread-safe)."""

    def __init__(self, ids: Iterable[str] = (), *, closed: bool = False) -> None:
        self._ids = set(ids)
        self._closed = closed
        self._lock = threading.Lock()
        self._wake: Callable[[], None] = lambda: None

    def add(self, ingestion_id: str) -> None:
        with self._lock:
            self._ids.add(ingestion_id)
        self._wake()

    def close(self) -> None:
        """No more ids will be added."""
        with self._lock:
            self._closed = True
        self._wake()

    def __contains__(self, ingestion_id: object) -> bool:
        with self._lock:
            return ingestion_id in self._ids

    def snapshot(self) -> set[str]:
        with self._lock:
            return set(self._ids)

    def done(self, got: dict[str, Completion]) -> bool:
        """Closed, and every id has its completion."""
        with self._lock:
            return self._closed and self._ids.issubset(got)


def service_verifier(endpoint: str, **kwargs: Any) -> SnsVerifier:
    """A verifier that trusts only certificates the service at ``endpoint`` serves."""
    return SnsVerifier(allowed_cert_url_prefixes=[endpoint.rstrip("/") + "/sns/"], **kwargs)


def wait_for_completions(
    ingestion_ids: Iterable[str] | Wanted,
    *,
    sqs_queue_url: str | None = None,
    sqs_client_kwargs: dict[str, Any] | None = None,
    listen: str | None = None,
    verifier: SnsVerifier,
    timeout: float,
    on_completion: OnCompletion | None = None,
    on_listening: Callable[[str], None] | None = None,
    on_confirmed: Callable[[str], None] | None = None,
) -> dict[str, Completion]:
    """The completions of ``ingestion_ids`` that arrive within ``timeout`` seconds, by id.

    Exactly one of ``sqs_queue_url`` (with boto3 ``client("sqs", **sqs_client_kwargs)``) and
    ``listen`` (``"HOST:PORT"``; port 0 picks a free one, reported to ``on_listening`` as the
    listener's URL) is given. ``on_completion`` is called once per upload, as it arrives, in
    the calling thread; ``on_confirmed`` (listener only) with the SubscribeURL of each
    subscription the listener confirmed, in the listener's thread.
    """
    if (sqs_queue_url is None) == (listen is None):
        raise ValueError("give exactly one of sqs_queue_url and listen")
    wanted = (ingestion_ids if isinstance(ingestion_ids, Wanted)
              else Wanted(ingestion_ids, closed=True))
    deadline = time.monotonic() + timeout
    if sqs_queue_url is not None:
        return _from_sqs(wanted, sqs_queue_url, sqs_client_kwargs or {}, verifier, deadline,
                         on_completion)
    assert listen is not None
    return _from_listener(wanted, listen, verifier, deadline, on_completion, on_listening,
                          on_confirmed)


def _verified_completion(verifier: SnsVerifier, body: str | bytes) -> Completion | None:
    """The completion in ``body`` if it is a notification that verifies, else None."""
    try:
        message = parse_message(body)
        if message.type != NOTIFICATION:
            return None
        verifier.verify(message)
        return completion(message)
    except (SnsMessageError, SnsSignatureError) as exc:
        log.warning("ignoring a message that is not a valid completion notification: %s", exc)
    except SnsFetchError as exc:
        log.warning("could not fetch a signing certificate: %s", exc)
    return None


def _from_sqs(wanted: Wanted, queue_url: str, client_kwargs: dict[str, Any],
              verifier: SnsVerifier, deadline: float,
              on_completion: OnCompletion | None) -> dict[str, Completion]:
    import boto3

    client = boto3.session.Session().client("sqs", **client_kwargs)
    got: dict[str, Completion] = {}
    while not wanted.done(got) and (remaining := deadline - time.monotonic()) > 0:
        answer = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                        WaitTimeSeconds=min(SQS_MAX_WAIT, int(remaining)))
        for message in answer.get("Messages", []):
            done = _verified_completion(verifier, message.get("Body", ""))
            if done is None or done.ingestion_id not in wanted:
                continue
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if done.ingestion_id not in got:
                got[done.ingestion_id] = done
                if on_completion is not None:
                    on_completion(done)
    return got


def _from_listener(wanted: Wanted, listen: str, verifier: SnsVerifier, deadline: float,
                   on_completion: OnCompletion | None,
                   on_listening: Callable[[str], None] | None,
                   on_confirmed: Callable[[str], None] | None) -> dict[str, Completion]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"listen must be HOST:PORT, not {listen!r}")
    arrived: queue.Queue[Completion | None] = queue.Queue()
    server = ThreadingHTTPServer((host, int(port)), _handler(verifier, arrived, on_confirmed))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="notify-listener", daemon=True)
    thread.start()
    wanted._wake = lambda: arrived.put(None)  # an id added or the set closed: look again
    got: dict[str, Completion] = {}
    early: dict[str, Completion] = {}
    try:
        if on_listening is not None:
            on_listening(f"http://{host}:{server.server_address[1]}/")
        while not wanted.done(got) and (remaining := deadline - time.monotonic()) > 0:
            try:
                done = arrived.get(timeout=remaining)
            except queue.Empty:
                break
            if done is not None:
                early.setdefault(done.ingestion_id, done)
                if len(early) > EARLY_KEPT:
                    del early[next(iter(early))]
            for ingestion_id in [i for i in early if i in wanted]:
                found = early.pop(ingestion_id)
                if ingestion_id not in got:
                    got[ingestion_id] = found
                    if on_completion is not None:
                        on_completion(found)
    finally:
        wanted._wake = lambda: None
        server.shutdown()
        server.server_close()
        thread.join()
    return got


def _handler(verifier: SnsVerifier, arrived: queue.Queue[Completion | None],
             on_confirmed: Callable[[str], None] | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._answer(400)
                return
            self._answer(_handle(verifier, arrived, on_confirmed, self.rfile.read(length)))

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("notify listener: " + format, *args)

    return Handler


def _handle(verifier: SnsVerifier, arrived: queue.Queue[Completion | None],
            on_confirmed: Callable[[str], None] | None, body: bytes) -> int:
    """The HTTP status for one POSTed document (5xx makes the service try again later)."""
    try:
        message = verifier.verify(body)
        if message.type == SUBSCRIPTION_CONFIRMATION:
            verifier.confirm_subscription(message)
            if on_confirmed is not None:
                on_confirmed(message.subscribe_url or "")
        elif message.type == NOTIFICATION:
            arrived.put(completion(message))  # the waiting loop keeps what it wants
    except (SnsMessageError, SnsSignatureError) as exc:
        log.warning("refusing a document that does not verify: %s", exc)
        return 400
    except SnsFetchError as exc:
        log.warning("could not fetch from the service: %s", exc)
        return 503
    return 200
