"""--archive-missing: archive the SKUs that left the source, before any upload of the push.

The source's SKUs and the ones the tracking database knows meet in the push's scratch file
(not in memory); the missing ones are archived in order, at most 10,000 a request, in every
store known or in the source (the API archives a SKU in all the stores it names).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from catalog_ingest.client.push.chunking import SourceScan, archive_chunk
from catalog_ingest.domain.items import MAX_ITEMS_PER_UPLOAD

if TYPE_CHECKING:
    from catalog_ingest.client.push.pipeline import Push


async def archive_missing(push: Push) -> int:
    """Archive SKUs gone from the source; returns the first sequence number for uploads.

    The source's SKUs and the tracked ones meet in the scratch file, not in memory."""
    if not push.options.archive_missing:
        return 1
    scan = SourceScan(push.setup.files, push.setup.mapping)
    await asyncio.to_thread(push.scratch.add_present, scan)
    if not scan.complete:
        push.outcome.archive_skipped = ("some rows could not be read or name no SKU: "
                                        "nothing was archived")
        push.observer.note(f"--archive-missing: {push.outcome.archive_skipped}")
        return 1
    known = push.tracking.known_items(push.setup.endpoint, push.setup.source_key)
    await asyncio.to_thread(push.scratch.add_known, ((sku, store) for store, sku in known))
    partial = push.scratch.partially_missing()
    if partial:
        push.observer.note(f"--archive-missing: {partial} SKUs left some stores but not "
                           "all; the API archives a SKU in every store, so they were kept")
    stores = push.scratch.stores()
    seq, after = 1, ""
    while stores and (missing := push.scratch.missing(after, MAX_ITEMS_PER_UPLOAD)):
        skus = list(missing)
        push.collector.archive_pairs.update(missing)
        await push.send(archive_chunk(seq, skus, stores))
        seq, after = seq + 1, skus[-1]
    return seq
