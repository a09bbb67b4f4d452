"""Waiting for completion notifications (SQS queue or local listener) during a push.

Wraps ``client.notify_wait.wait_for_completions``: it runs in a daemon thread (so Ctrl-C never
waits for it) over the uploads still open once every chunk is sent; each verified completion
is handed to the push at once, and whatever has not been notified within the timeout is then
polled for as usual.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from catalog_ingest.client.notify_wait import wait_for_completions
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


async def wait_notified(push: Push, options: NotifyOptions | None, endpoint: str,
                        region: str) -> None:
    if options is None:
        return
    wanted = [t.ingestion_id for t in push.waiter.pending]
    if not wanted:
        return
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()

    def arrived(done: Completion) -> None:
        loop.call_soon_threadsafe(push.notified, done.ingestion_id, done.processing_status,
                                  done.report_download_link or None)

    def listen() -> None:
        error: BaseException | None = None
        try:
            wait_for_completions(wanted, sqs_queue_url=options.sqs_queue_url,
                                 sqs_client_kwargs=sqs_client_kwargs(options.sqs_queue_url,
                                                                     region),
                                 listen=options.listen, verifier=verifier_for(endpoint, region),
                                 timeout=options.timeout, on_completion=arrived,
                                 on_listening=lambda url: _note(loop, push, url))
        except BaseException as exc:
            error = exc
        loop.call_soon_threadsafe(_settle, finished, error)

    threading.Thread(target=listen, name="push-notify", daemon=True).start()
    try:
        await finished
    except Exception as exc:
        push.observer.note(f"notifications failed ({exc}); polling instead")


def _note(loop: asyncio.AbstractEventLoop, push: Push, url: str) -> None:
    loop.call_soon_threadsafe(push.observer.note, f"listening for notifications at {url}")


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
