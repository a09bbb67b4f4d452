"""Prometheus metrics of one process, and their text exposition (multi-process aware).

Each `Runtime` holds its own `Metrics` on a private registry (no import-time singleton, so
test apps do not collide). Counters and histograms are observed where things happen (the
request middleware, the worker, the deliverer). When `PROMETHEUS_MULTIPROC_DIR` is set for
every process of a deployment (serve and separate `worker`s), prometheus-client keeps the
values in files there and `/metrics` of any process reports the sum over all of them.
Gauges about the queue are not kept in memory at all: they are read from the database at
scrape time (`QueueSnapshot`), so every process reports the same truth.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "catalog_ingest_"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_PROCESSING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
_RATE_BUCKETS = (100.0, 1_000.0, 5_000.0, 10_000.0, 20_000.0, 50_000.0, 100_000.0, 250_000.0)


@dataclass(frozen=True)
class QueueSnapshot:
    """What the database says at scrape time."""

    uploads_by_status: dict[str, int] = field(default_factory=dict)
    oldest_queued_seconds: float | None = None
    live_workers: int = 0
    outbox_by_status: dict[str, int] = field(default_factory=dict)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_exiting() -> None:
    """Drop this process's live gauges from the multi-process directory (on a clean exit)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class Metrics:
    """The counters and histograms one process observes."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(f"{PREFIX}http_requests", "HTTP requests answered.",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram(f"{PREFIX}http_request_duration_seconds",
                                 "Time from request start to the end of the answer.",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge(f"{PREFIX}http_requests_in_flight",
                               "Requests being served right now.", registry=r,
                               multiprocess_mode="livesum")
        self.rate_limited = Counter(f"{PREFIX}rate_limited_requests",
                                    "Requests refused with 429 by the per-retailer limit.",
                                    ["route"], registry=r)
        self.processing = Histogram(f"{PREFIX}processing_duration_seconds",
                                    "Time a worker spent on one upload (claim to end).",
                                    ["kind", "status"], buckets=_PROCESSING_BUCKETS, registry=r)
        self.items_rate = Histogram(f"{PREFIX}processing_items_per_second",
                                    "Items per second of each processed upload.",
                                    ["kind"], buckets=_RATE_BUCKETS, registry=r)
        self.items = Counter(f"{PREFIX}processed_items", "Items of processed uploads.",
                             ["kind"], registry=r)
        self.notifications = Counter(f"{PREFIX}notification_attempts",
                                     "Notification delivery attempts by outcome "
                                     "(DELIVERED, FAILED, GAVE_UP, DROPPED).",
                                     ["outcome"], registry=r)
        self.purged = Counter(f"{PREFIX}retention_purged", "Records removed by retention.",
                              ["what"], registry=r)
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            # `labels()` costs as much as the update itself; the label sets are few (routes
            # are templates, never raw paths), so each pair is looked up once per process.
            children = (self.requests.labels(method, route, str(status)),
                        self.latency.labels(method, route))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if status == 429:
            self.rate_limited.labels(route).inc()

    def observe_processing(self, kind: str, status: str, items: int, seconds: float) -> None:
        self.processing.labels(kind, status).observe(seconds)
        self.items.labels(kind).inc(items)
        if seconds > 0 and items > 0:
            self.items_rate.labels(kind).observe(items / seconds)

    def observe_notification(self, outcome: str) -> None:
        self.notifications.labels(outcome).inc()

    def observe_purge(self, what: str, count: int) -> None:
        if count:
            self.purged.labels(what).inc(count)

    def render(self, snapshot: QueueSnapshot | None = None) -> bytes:
        """The Prometheus text exposition: this process (or all, in multi-process mode) plus
        the database-derived gauges (left out when the database could not be read)."""
        if multiprocess_dir():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry = self.registry
        text = generate_latest(registry)
        if snapshot is not None:
            gauges = CollectorRegistry()
            gauges.register(_SnapshotCollector(snapshot))
            text += generate_latest(gauges)
        return text


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: QueueSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        return list(_families(self.snapshot))


def _families(snap: QueueSnapshot) -> Iterator[Metric]:
    uploads = GaugeMetricFamily(f"{PREFIX}uploads", "Stored uploads by status.",
                                labels=["status"])
    for status, count in sorted(snap.uploads_by_status.items()):
        uploads.add_metric([status], count)
    yield uploads
    yield GaugeMetricFamily(f"{PREFIX}queue_depth", "Uploads waiting for a worker (INQUEUE).",
                            value=snap.uploads_by_status.get("INQUEUE", 0))
    yield GaugeMetricFamily(f"{PREFIX}oldest_queued_upload_age_seconds",
                            "How long the oldest INQUEUE upload has waited (0 when none).",
                            value=snap.oldest_queued_seconds or 0.0)
    yield GaugeMetricFamily(f"{PREFIX}live_workers", "Workers with a recent heartbeat.",
                            value=snap.live_workers)
    outbox = GaugeMetricFamily(f"{PREFIX}notification_outbox",
                               "Notification messages by status.", labels=["status"])
    for status, count in sorted(snap.outbox_by_status.items()):
        outbox.add_metric([status], count)
    yield outbox
