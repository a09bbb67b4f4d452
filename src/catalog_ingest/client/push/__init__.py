"""The retailer toolkit's push: read, map, validate, chunk, upload, wait, report (seed 003)."""

from catalog_ingest.client.push.mapping import IDENTITY, ItemMapping, MappingError, load_mapping
from catalog_ingest.client.push.options import (
    NotifyOptions,
    PushError,
    PushObserver,
    PushOptions,
    PushResult,
)
from catalog_ingest.client.push.outcome import Outcome
from catalog_ingest.client.push.pipeline import Push
from catalog_ingest.client.push.sources import SourceError, SourceOptions
from catalog_ingest.client.push.tracking import (
    Tracking,
    TrackingBackend,
    TrackingError,
    default_path,
)
from catalog_ingest.client.push.validate import Problem, SourceValidator

__all__ = [
    "IDENTITY",
    "ItemMapping",
    "MappingError",
    "NotifyOptions",
    "Outcome",
    "Problem",
    "Push",
    "PushError",
    "PushObserver",
    "PushOptions",
    "PushResult",
    "SourceError",
    "SourceOptions",
    "SourceValidator",
    "Tracking",
    "TrackingBackend",
    "TrackingError",
    "default_path",
    "load_mapping",
]
