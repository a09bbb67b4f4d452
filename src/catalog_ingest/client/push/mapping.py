"""The push's mapping: re-exported from the shared ``catalog_ingest.files`` mapping."""

from catalog_ingest.files.mapping import (
    IDENTITY,
    AdditionalIds,
    ConversionError,
    Converter,
    ItemMapping,
    MappingError,
    converter,
    load_mapping,
    lookup,
    parse_mapping,
    to_string,
)

__all__ = [
    "IDENTITY",
    "AdditionalIds",
    "ConversionError",
    "Converter",
    "ItemMapping",
    "MappingError",
    "converter",
    "load_mapping",
    "lookup",
    "parse_mapping",
    "to_string",
]
