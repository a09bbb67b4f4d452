"""What the cross-item rules (duplicate SKUs, barcode conflicts) remember of a source so far."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class CrossItemState(Protocol):
    """What the cross-item rules remember of the items seen so far (in memory, or on disk)."""

    def first_sku(self, store: str, sku: str) -> bool:
        """Note (store, SKU); False when it was noted before."""

    def owners(self, store: str, codes: Sequence[str]) -> dict[str, str]:
        """The SKU owning each of ``codes`` in the store (those owned by none are left out)."""

    def claim(self, store: str, codes: Sequence[str], sku: str) -> None:
        """``sku`` owns ``codes`` in the store from now on."""


class MemoryState:
    """Cross-item state in dictionaries (a few hundred bytes per item)."""

    def __init__(self) -> None:
        # Per store, keyed by the item's own strings: no new strings per item (1M items ≈ 0.3 GB).
        self._skus: dict[str, set[str]] = {}
        self._owners: dict[str, dict[str, str]] = {}

    def first_sku(self, store: str, sku: str) -> bool:
        skus = self._skus.get(store)
        if skus is None:
            skus = self._skus[store] = set()
        if sku in skus:
            return False
        skus.add(sku)
        return True

    def owners(self, store: str, codes: Sequence[str]) -> dict[str, str]:
        known = self._owners.get(store) or {}
        return {code: known[code] for code in codes if code in known}

    def claim(self, store: str, codes: Sequence[str], sku: str) -> None:
        owners = self._owners.setdefault(store, {})
        for code in codes:
            owners[code] = sku
