"""Per-item rules: the request-model checks and the stateless processing rules of an item."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from catalog_ingest.domain.barcodes import judge_barcode, verdict_issue
from catalog_ingest.domain.issues import (
    BLANK_ITEM_NAME,
    DUPLICATE_BARCODE_IN_ITEM,
    MISSING_FIELD,
    TOO_LONG,
    TOO_MANY_ADDITIONAL_IDS,
    UNKNOWN_ATTRIBUTE,
    WRONG_TYPE,
    Issue,
    error,
    warning,
)
from catalog_ingest.domain.items import (
    ADDITIONAL_IDS,
    KNOWN_ADDITIONAL_FIELDS,
    KNOWN_FIELDS,
    MAX_ADDITIONAL_IDS,
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    max_length,
)
from catalog_ingest.domain.prices import check_price

PRIMARY: Final = "external_product_id"
PRIMARY_TYPE: Final = "external_product_id_type"

_REQUIRED_LIMITS: Final = tuple((f, max_length(f)) for f in REQUIRED_FIELDS)
_OPTIONAL_LIMITS: Final = tuple((f, max_length(f)) for f in OPTIONAL_FIELDS)
_ID_LIMIT: Final = max_length(PRIMARY)
_TYPE_LIMIT: Final = max_length(PRIMARY_TYPE)
_ADDITIONAL_LIMITS: Final = ((PRIMARY, _ID_LIMIT, True), (PRIMARY_TYPE, _TYPE_LIMIT, False))

_JSON_TYPES: Final[Mapping[type, str]] = {
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
    type(None): "null",
}


def additional_field(index: int, key: str = PRIMARY) -> str:
    """The report path of an attribute of an additional id, e.g. `...[3].external_product_id`."""
    return f"{ADDITIONAL_IDS}[{index}].{key}"


def _scalar(value: Any) -> Any:
    """`value` when it is a JSON scalar worth echoing in a report, else None."""
    return value if isinstance(value, str | int | float) else None


def item_barcodes(item: Mapping[str, Any]) -> list[str]:
    """The item's barcode values: the primary one, then each additional one, in order."""
    extras = item.get(ADDITIONAL_IDS)
    if not extras:
        return [item[PRIMARY]]
    return [item[PRIMARY], *(entry[PRIMARY] for entry in extras)]


def item_issues(item: Mapping[str, Any]) -> list[Issue]:
    """The stateless rules for an item that passed the request model, issues in report order:
    barcodes (primary, then additional), in-item duplicates, price, name, unknown attributes."""
    issues: list[Issue] = []
    value = item[PRIMARY]
    dtype = item.get(PRIMARY_TYPE)
    verdict = judge_barcode(value, dtype)
    if not dtype or not isinstance(verdict, str):
        issues.append(verdict_issue(verdict, value, dtype, PRIMARY))
    extras = item.get(ADDITIONAL_IDS)
    if extras:
        values = [value]
        for i, entry in enumerate(extras):
            value = entry[PRIMARY]
            dtype = entry.get(PRIMARY_TYPE)
            verdict = judge_barcode(value, dtype)
            if not dtype or not isinstance(verdict, str):
                issues.append(verdict_issue(verdict, value, dtype, additional_field(i)))
            values.append(value)
        if (values[0] == values[1]) if len(values) == 2 else len(set(values)) < len(values):
            _duplicate_issues(values, issues)
    price = item.get("standard_price")
    if price is not None:
        price_issue = check_price(price)
        if price_issue is not None:
            issues.append(price_issue)
    name = item["item_name"]
    if not name or name.isspace():
        issues.append(error(BLANK_ITEM_NAME, "item_name", "item_name is blank", name))
    if not KNOWN_FIELDS.issuperset(item):
        _unknown_issues(item, None, KNOWN_FIELDS, issues)
    if extras:
        for i, entry in enumerate(extras):
            if not KNOWN_ADDITIONAL_FIELDS.issuperset(entry):
                _unknown_issues(entry, i, KNOWN_ADDITIONAL_FIELDS, issues)
    return issues


def _duplicate_issues(values: list[str], issues: list[Issue]) -> None:
    """DUPLICATE_BARCODE_IN_ITEM on every later occurrence of a barcode already given.

    `values` is the primary barcode followed by the additional ones."""
    first: dict[str, int] = {}
    for position, value in enumerate(values):
        earlier = first.setdefault(value, position)
        if earlier != position:
            where = PRIMARY if earlier == 0 else additional_field(earlier - 1)
            message = f"Barcode {value} is given twice in this item (first as {where})"
            field = additional_field(position - 1)
            issues.append(error(DUPLICATE_BARCODE_IN_ITEM, field, message, value))


def _unknown_issues(
    mapping: Mapping[str, Any], index: int | None, known: frozenset[str], issues: list[Issue]
) -> None:
    for key, value in mapping.items():
        if key not in known:
            field = key if index is None else additional_field(index, key)
            message = f"Unknown attribute {key!r} was ignored"
            issues.append(warning(UNKNOWN_ATTRIBUTE, field, message, _scalar(value)))


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _string_issue(value: Any, field: str, limit: int, required: bool) -> Issue | None:
    """The request-model issue of one string attribute (None value means absent)."""
    if value is None or value == "":
        if required:
            return error(MISSING_FIELD, field, f"{field} is required and must not be empty")
        return None
    if not isinstance(value, str):
        message = f"{field} must be a string, not {_json_type(value)}"
        return error(WRONG_TYPE, field, message, _scalar(value))
    if len(value) > limit:
        message = f"{field} is {len(value)} characters long; at most {limit} are allowed"
        return error(TOO_LONG, field, message, value)
    return None


def request_model_issues(item: Any, index: int | None = None) -> list[Issue]:
    """The request-model errors of one item (jwo-api.md, upload step 1), in field order.

    Fields are item-relative ("item_sku"); with `index` they are prefixed
    "catalogItems[<index>]." so that they locate the attribute in the request body.
    Absent or null optional attributes are fine; unknown attributes are not checked here.
    """
    prefix = "" if index is None else f"catalogItems[{index}]."
    if not isinstance(item, dict):
        message = f"An item must be an object, not {_json_type(item)}"
        return [error(WRONG_TYPE, prefix[:-1] or None, message, _scalar(item))]
    issues: list[Issue] = []
    for fields, required in ((_REQUIRED_LIMITS, True), (_OPTIONAL_LIMITS, False)):
        for field, limit in fields:
            issue = _string_issue(item.get(field), prefix + field, limit, required)
            if issue is not None:
                issues.append(issue)
    extras = item.get(ADDITIONAL_IDS)
    if extras is not None:
        _additional_model_issues(extras, prefix, issues)
    return issues


def _additional_model_issues(extras: Any, prefix: str, issues: list[Issue]) -> None:
    field = prefix + ADDITIONAL_IDS
    if not isinstance(extras, list):
        message = f"{ADDITIONAL_IDS} must be an array of objects, not {_json_type(extras)}"
        issues.append(error(WRONG_TYPE, field, message, _scalar(extras)))
        return
    if len(extras) > MAX_ADDITIONAL_IDS:
        message = f"{len(extras)} additional ids given; at most {MAX_ADDITIONAL_IDS} are allowed"
        issues.append(error(TOO_MANY_ADDITIONAL_IDS, field, message))
    for i, entry in enumerate(extras):
        path = f"{field}[{i}]"
        if not isinstance(entry, dict):
            message = f"An additional id must be an object, not {_json_type(entry)}"
            issues.append(error(WRONG_TYPE, path, message, _scalar(entry)))
            continue
        for key, limit, required in _ADDITIONAL_LIMITS:
            issue = _string_issue(entry.get(key), f"{path}.{key}", limit, required)
            if issue is not None:
                issues.append(issue)


def is_request_model_valid(item: Any) -> bool:
    """True exactly when request_model_issues(item) would be empty, without building issues."""
    if not isinstance(item, dict):
        return False
    get = item.get
    for field, limit in _REQUIRED_LIMITS:
        value = get(field)
        if not isinstance(value, str) or not value or len(value) > limit:
            return False
    for field, limit in _OPTIONAL_LIMITS:
        value = get(field)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return False
    extras = get(ADDITIONAL_IDS)
    if extras is None:
        return True
    if not isinstance(extras, list) or len(extras) > MAX_ADDITIONAL_IDS:
        return False
    for entry in extras:
        if not isinstance(entry, dict):
            return False
        value = entry.get(PRIMARY)
        if not isinstance(value, str) or not value or len(value) > _ID_LIMIT:
            return False
        dtype = entry.get(PRIMARY_TYPE)
        if dtype is not None and (not isinstance(dtype, str) or len(dtype) > _TYPE_LIMIT):
            return False
    return True
