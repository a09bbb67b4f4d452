"""Waiting for completion notifications (SQS queue or local listener) during a push.

Wraps ``client.notify_wait.wait_for_completions`` in a daemon thread (so Ctrl-C never waits
for it), started before the push's first upload: the listener is up (and, with ``--listen``,
the subscription confirmed) before anything is sent, so no completion can come before
anyone listens. Each accepted upload is added to what it waits for; each verified completion
is handed to the push at once, and whatever has not been notified within the timeout is then
polled for as usual.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from catalog_ingest.client.notify_wait import Wanted, wait_for_completions
from catalog_ingest.client.sns import Completion, SnsVerifier

if TYPE_CHECKING:
    from catalog_ingest.client.push.options import NotifyOptions
    from catalog_ingest.client.push.pipeline import Push


def verifier_for(endpoint: str, region: str) -> SnsVerifier:
    """Trust signing certificates served by this service, or by AWS SNS in the region."""
    return SnsVerifier(allowed_cert_url_prefixes=[
        endpoint.rstrip("/") + "/sns/", f"https://sns.{region}.amazonaws.com/"])


def sqs_client_kwargs(queue_url: str | None, region: str) -> dict[str, str]:
    """The queue's region: from an AWS queue URL (sqs.<region>.amazonaws.com), else the push's.

    boto3 itself reads AWS_DEFAULT_REGION only, while the toolkit follows AWS_REGION too.
    """
    host = urlsplit(queue_url or "").hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[0] == "sqs" and parts[2] == "amazonaws":
        return {"region_name": parts[1]}
    return {"region_name": region}


class Notifier:
    """One push's notifications: listening from before its first upload until every upload it
    sent is notified (or the timeout); each verified completion goes to the push at once."""

    def __init__(self, push: Push, options: NotifyOptions, endpoint: str, region: str) -> None:
        self.push, self.options = push, options
        self.endpoint, self.region = endpoint, region
        self.wanted = Wanted()
        self.loop = asyncio.get_running_loop()
        self.listening = asyncio.Event()
        self.confirmed = asyncio.Event()
        self.finished: asyncio.Future[None] = self.loop.create_future()

    def start(self) -> None:
        threading.Thread(target=self._listen, name="push-notify", daemon=True).start()
        if self.options.listen is None:
            self.listening.set()  # SQS: the queue holds messages until they are read

    def _listen(self) -> None:
        options, loop = self.options, self.loop
        error: BaseException | None = None

        def arrived(done: Completion) -> None:
            loop.call_soon_threadsafe(self.push.notified, done.ingestion_id,
                                      done.processing_status, done.report_download_link or None)

        try:
            wait_for_completions(
                self.wanted, sqs_queue_url=options.sqs_queue_url,
                sqs_client_kwargs=sqs_client_kwargs(options.sqs_queue_url, self.region),
                listen=options.listen, verifier=verifier_for(self.endpoint, self.region),
                timeout=options.timeout, on_completion=arrived,
                on_listening=partial(self._soon, self._listening),
                on_confirmed=partial(self._soon, self._confirmed))
        except BaseException as exc:
            error = exc
        loop.call_soon_threadsafe(_settle, self.finished, error)

    def _soon(self, call: Callable[[str], None], url: str) -> None:
        self.loop.call_soon_threadsafe(call, url)

    def _listening(self, url: str) -> None:
        self.push.observer.note(f"listening for notifications at {url}")
        self.listening.set()

    def _confirmed(self, url: str) -> None:
        self.push.observer.note("notification subscription confirmed")
        self.confirmed.set()

    async def ready(self) -> None:
        """Return once the listener is up and, with ``--listen``, a subscription it confirmed
        (or ``confirm_wait`` seconds without one: a subscription confirmed in an earlier push
        sends no confirmation). A listener that could not start is reported; the push then
        polls."""
        started: asyncio.Future[Any] = asyncio.ensure_future(self.listening.wait())
        waits: list[asyncio.Future[Any]] = [started, self.finished]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if self.finished.done():
            await self._failed()
            return
        if self.options.listen is None or self.options.confirm_wait <= 0:
            return
        try:
            await asyncio.wait_for(self.confirmed.wait(), self.options.confirm_wait)
        except TimeoutError:
            self.push.observer.note(
                f"no subscription confirmation within {self.options.confirm_wait:g} s "
                "(one confirmed before sends none): sending")

    def add(self, ingestion_id: str) -> None:
        self.wanted.add(ingestion_id)

    async def finish(self) -> None:
        """Every upload is sent: wait for the notifications still due (or the timeout)."""
        self.wanted.close()
        await self._failed()

    async def _failed(self) -> None:
        try:
            await self.finished
        except Exception as exc:
            self.push.observer.note(f"notifications failed ({exc}); polling instead")


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
