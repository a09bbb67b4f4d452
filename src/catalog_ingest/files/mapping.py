"""Mapping a source record to an API item (renames, constants, barcode columns, conversions)."""

from __future__ import annotations

import codecs
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog_ingest.domain.items import ADDITIONAL_IDS, KNOWN_FIELDS
from catalog_ingest.files.conversions import (
    ConversionError,
    Converter,
    MappingError,
    converter,
    to_string,
    trim,
)
from catalog_ingest.files.sources import FORMATS, SourceOptions

__all__ = ["IDENTITY", "AdditionalIds", "ConversionError", "Converter", "ItemMapping",
           "MappingError", "converter", "load_mapping", "lookup", "parse_mapping", "to_string"]
_TOP_LEVEL = {"source", "columns", "constants", "convert", "additional_ids", "options"}
_SOURCE_KEYS = {"format", "encoding", "delimiter", "sheet"}
_OPTION_KEYS = {"keep_unmapped", "trim"}
_ADDITIONAL_KEYS = {"column", "type", "split", "convert"}


# --- the mapping ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdditionalIds:
    """One source column holding additional barcodes (several when ``split`` is given)."""

    column: str
    type: str | None = None
    split: str | None = None
    convert: tuple[Converter, ...] = ()


@dataclass(frozen=True)
class ItemMapping:
    """How a source record becomes an item. The identity mapping (no ``columns``) keeps the
    record's own names; a ``columns`` table takes exactly the fields it names."""

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    convert: dict[str, tuple[Converter, ...]] = field(default_factory=dict)
    additional_ids: tuple[AdditionalIds, ...] = ()
    keep_unmapped: bool = False
    trim: bool = False
    source: SourceOptions = field(default_factory=SourceOptions)

    def with_store(self, store_id: str | None) -> ItemMapping:
        """The mapping with ``store_id`` a constant for every row (the --store option)."""
        if not store_id:
            return self
        columns = {k: v for k, v in self.columns.items() if k != "store_id"}
        constants = {**self.constants, "store_id": store_id}
        return ItemMapping(columns, constants, self.convert, self.additional_ids,
                        self.keep_unmapped, self.trim, self.source)

    @property
    def is_identity(self) -> bool:
        """No ``columns`` table: the source's own names are the API's."""
        return not self.columns

    def column_for(self, name: str) -> str | None:
        """The source column an API field (or an issue's field path) is read from; None for
        a constant or a field not mapped (for locating a problem in the user's file)."""
        if name.startswith(ADDITIONAL_IDS) and self.additional_ids:
            columns = {extra.column for extra in self.additional_ids}
            return columns.pop() if len(columns) == 1 else None
        if name in self.constants:
            return None
        if self.columns:
            return self.columns.get(name)
        return name

    def apply(self, data: Any, textual: bool, typed: bool = False
              ) -> tuple[Any, list[tuple[str, str, Any]]]:
        """The item for one record, and the conversion failures as (field, message, value).

        ``typed``: the values are spreadsheet cells, written as strings like mapped values.
        """
        if not isinstance(data, dict):
            return data, []  # the request-model rules say what is wrong with it
        failures: list[tuple[str, str, Any]] = []
        if self.columns:
            item = self._mapped(data, failures, typed)
        elif typed:
            item = self._cells(data, failures)
        else:
            item = self._identity(data, textual, failures)
        for name, value in self.constants.items():
            item[name] = value
        if self.additional_ids:
            extras = self._additional(data, failures)
            if extras:
                item[ADDITIONAL_IDS] = extras
        return item, failures

    def _value(self, name: str, raw: Any, failures: list[tuple[str, str, Any]]) -> Any:
        value = trim(raw) if self.trim else raw
        for conv in self.convert.get(name, ()):
            try:
                value = conv(value)
            except ConversionError as exc:
                failures.append((name, str(exc), raw if isinstance(raw, str | int | float)
                                 else None))
                return None
        return value

    def _identity(self, data: dict[str, Any], textual: bool,
                  failures: list[tuple[str, str, Any]]) -> dict[str, Any]:
        if not (textual or self.convert or self.trim):
            return data  # a JSON record is the item already (the row is not used again)
        item: dict[str, Any] = {}
        for name, raw in data.items():
            if textual and raw == "":
                continue
            item[name] = self._value(name, raw, failures) if name in self.convert or self.trim \
                else raw
        return item

    def _cells(self, data: dict[str, Any], failures: list[tuple[str, str, Any]]
               ) -> dict[str, Any]:
        """The identity mapping of a sheet row: every cell written as a string."""
        item: dict[str, Any] = {}
        for name, raw in data.items():
            value = to_string(self._value(name, raw, failures))
            if value is not None and value != "":
                item[name] = value
        return item

    def _mapped(self, data: dict[str, Any], failures: list[tuple[str, str, Any]],
                typed: bool = False) -> dict[str, Any]:
        item: dict[str, Any] = {}
        for name, column in self.columns.items():
            raw = lookup(data, column)
            value = None if raw is None else to_string(self._value(name, raw, failures))
            if value is not None and value != "":
                item[name] = value
        if self.keep_unmapped:
            used = set(self.columns.values()) | {a.column for a in self.additional_ids}
            for name, raw in data.items():
                if name not in used and name not in item and raw not in ("", None):
                    item[name] = to_string(raw) if typed else raw
        return item

    def _additional(self, data: dict[str, Any], failures: list[tuple[str, str, Any]]
                    ) -> list[dict[str, str]]:
        extras: list[dict[str, str]] = []
        for spec in self.additional_ids:
            raw = lookup(data, spec.column)
            if raw is None or raw == "":
                continue
            value = trim(raw) if self.trim else raw
            try:
                for conv in spec.convert:
                    value = conv(value)
            except ConversionError as exc:
                failures.append((ADDITIONAL_IDS, f"{spec.column}: {exc}", to_string(raw)))
                continue
            value = to_string(value)
            parts = value.split(spec.split) if spec.split and isinstance(value, str) else [value]
            for part in parts:
                part = part.strip() if spec.split and isinstance(part, str) else part
                if part == "":
                    continue
                entry = {"external_product_id": part}
                if spec.type:
                    entry["external_product_id_type"] = spec.type
                extras.append(entry)
        return extras


IDENTITY = ItemMapping()


def lookup(data: dict[str, Any], column: str) -> Any:
    """``data[column]``, or a dotted path into nested JSON objects ("price.amount")."""
    if column in data:
        return data[column]
    value: Any = data
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


# --- loading -------------------------------------------------------------------------------------


def load_mapping(path: Path) -> ItemMapping:
    """Read and check a mapping file (TOML); MappingError says what is wrong and where."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return parse_mapping(doc)
    except MappingError as exc:
        raise MappingError(f"{path}: {exc}") from None


def parse_mapping(doc: Mapping[str, Any]) -> ItemMapping:
    _only(doc, _TOP_LEVEL, "the mapping")
    columns = _strings(doc.get("columns", {}), "columns", fields=True)
    constants = _strings(doc.get("constants", {}), "constants", fields=True, scalars=True)
    both = sorted(set(columns) & set(constants))
    if both:
        raise MappingError(f"{', '.join(both)} is both in [columns] and in [constants]")
    convert = {name: _converters(specs, f"convert.{name}")
               for name, specs in _table(doc.get("convert", {}), "convert").items()}
    _known_fields(convert, "convert")
    extras = tuple(_additional_spec(e, i) for i, e in enumerate(_list(doc, "additional_ids")))
    if extras and ADDITIONAL_IDS in {*columns, *constants}:
        raise MappingError(f"additional_ids and a {ADDITIONAL_IDS} column cannot be combined")
    options = _table(doc.get("options", {}), "options")
    _only(options, _OPTION_KEYS, "[options]")
    return ItemMapping(columns, constants, convert, extras,
                    keep_unmapped=_flag(options, "keep_unmapped"), trim=_flag(options, "trim"),
                    source=_source(_table(doc.get("source", {}), "source")))


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise MappingError(f"unknown key {unknown[0]!r} in {where} "
                           f"(allowed: {', '.join(sorted(allowed))})")


def _table(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(f"[{name}] must be a table")
    return value


def _list(doc: Mapping[str, Any], name: str) -> list[Any]:
    value = doc.get(name, [])
    if not isinstance(value, list):
        raise MappingError(f"{name} must be an array")
    return value


def _flag(table: Mapping[str, Any], name: str) -> bool:
    value = table.get(name, False)
    if not isinstance(value, bool):
        raise MappingError(f"options.{name} must be true or false")
    return value


def _known_fields(table: Mapping[str, Any], name: str) -> None:
    for key in table:
        if key not in KNOWN_FIELDS:
            raise MappingError(f"[{name}] names {key!r}, which is not a catalog item field "
                               f"(fields: {', '.join(sorted(KNOWN_FIELDS))})")


def _strings(value: Any, name: str, *, fields: bool, scalars: bool = False) -> dict[str, str]:
    table = _table(value, name)
    if fields:
        _known_fields(table, name)
    out: dict[str, str] = {}
    for key, item in table.items():
        if scalars and isinstance(item, int | float) and not isinstance(item, bool):
            item = to_string(item)
        if not isinstance(item, str) or not item:
            raise MappingError(f"{name}.{key} must be a non-empty string")
        out[key] = item
    return out


def _converters(specs: Any, name: str) -> tuple[Converter, ...]:
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise MappingError(f"{name} must be a conversion name or an array of them")
    return tuple(converter(s) for s in specs)


def _additional_spec(entry: Any, index: int) -> AdditionalIds:
    where = f"additional_ids[{index}]"
    if isinstance(entry, str):
        entry = {"column": entry}
    if not isinstance(entry, dict):
        raise MappingError(f"{where} must be a column name or a table")
    _only(entry, _ADDITIONAL_KEYS, where)
    column = entry.get("column")
    if not isinstance(column, str) or not column:
        raise MappingError(f"{where}.column must be a non-empty string")
    for key in ("type", "split"):
        if key in entry and (not isinstance(entry[key], str) or not entry[key]):
            raise MappingError(f"{where}.{key} must be a non-empty string")
    convert = _converters(entry.get("convert", []), f"{where}.convert")
    return AdditionalIds(column, entry.get("type"), entry.get("split"), convert)


def _source(table: dict[str, Any]) -> SourceOptions:
    _only(table, _SOURCE_KEYS, "[source]")
    for key, value in table.items():
        if not isinstance(value, str) or not value:
            raise MappingError(f"source.{key} must be a non-empty string")
    fmt = table.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise MappingError(f"source.format must be one of {', '.join(FORMATS)}")
    delimiter = table.get("delimiter")
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise MappingError("source.delimiter must be one character (or \"tab\")")
    encoding = table.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise MappingError(f"source.encoding {encoding!r} is not a known encoding") from exc
    return SourceOptions(fmt, encoding, delimiter, table.get("sheet"))
