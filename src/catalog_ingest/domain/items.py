"""The catalog item as the Catalog API defines it: field names, limits, canonical form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

MAX_ITEMS_PER_UPLOAD: Final = 10_000
MAX_ADDITIONAL_IDS: Final = 50
MAX_STRING: Final = 255

REQUIRED_FIELDS: Final = ("item_sku", "external_product_id", "item_name", "store_id")
OPTIONAL_FIELDS: Final = (
    "external_product_id_type",
    "standard_price",
    "brand_name",
    "product_tax_code",
    "product_category",
    "product_subcategory",
)
ADDITIONAL_IDS: Final = "additional_external_product_information"
KNOWN_FIELDS: Final = frozenset((*REQUIRED_FIELDS, *OPTIONAL_FIELDS, ADDITIONAL_IDS))
KNOWN_ADDITIONAL_FIELDS: Final = frozenset(("external_product_id", "external_product_id_type"))

#: Per-field length limits; every other string field is limited to MAX_STRING.
FIELD_MAX_LENGTH: Final[Mapping[str, int]] = {
    "standard_price": 10,
    "product_category": 50,
    "product_subcategory": 50,
}

#: Stored columns of an item, in a fixed order (the "canonical tuple").
STORED_FIELDS: Final = (
    "external_product_id",
    "external_product_id_type",
    "item_name",
    "standard_price",
    "brand_name",
    "product_tax_code",
    "product_category",
    "product_subcategory",
)


def max_length(field: str) -> int:
    """Length limit of a string field of an item."""
    return FIELD_MAX_LENGTH.get(field, MAX_STRING)


def canonical_values(item: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values an upsert stores, absent optional fields as None; equal tuples mean UNCHANGED.

    In STORED_FIELDS order, then the additional ids as (id, type) pairs. Spelled out rather
    than looped: it runs for every item of every upload.
    """
    get = item.get
    raw = get(ADDITIONAL_IDS)
    # A list comprehension, not a generator: 0.4 µs against 1.1 µs for two entries.
    extras = (
        tuple([(e["external_product_id"], e.get("external_product_id_type")) for e in raw])
        if raw else ()
    )
    return (
        get("external_product_id"), get("external_product_id_type"), get("item_name"),
        get("standard_price"), get("brand_name"), get("product_tax_code"),
        get("product_category"), get("product_subcategory"), extras,
    )
