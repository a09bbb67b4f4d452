"""Barcode rules: formats, check digits, declared types, inference and messages."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from catalog_ingest.domain import issues as codes
from catalog_ingest.domain.barcodes import (
    BARCODE_TYPES,
    barcode_format,
    check_barcode,
    gs1_check_digit,
    isbn10_check_digit,
    judge_barcode,
    upce_to_upca,
)

FIELD = "external_product_id"


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def gs1_code(n: int) -> st.SearchStrategy[str]:
    return digits(n - 1).map(lambda body: body + str(gs1_check_digit(body)))


def isbn10() -> st.SearchStrategy[str]:
    return digits(9).map(lambda body: body + isbn10_check_digit(body))


def upce() -> st.SearchStrategy[str]:
    """A UPC-E with a correct check digit (that of its UPC-A expansion)."""

    def complete(ns_body: tuple[str, str]) -> str:
        ns, body = ns_body
        expanded = upce_to_upca(ns + body + "0")
        return ns + body + str(gs1_check_digit(expanded[:11]))

    return st.tuples(st.sampled_from("01"), digits(6)).map(complete)


def only_issue(value: str, declared: str | None) -> codes.Issue:
    found = check_barcode(value, declared, FIELD)
    assert len(found) == 1, found
    return found[0]


def change_digit(code: str, position: int, delta: int) -> str:
    new = str((int(code[position]) + delta) % 10)
    return code[:position] + new + code[position + 1 :]


# --- known real barcodes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "declared", "fmt"),
    [
        ("4006381333931", "EAN", "EAN-13"),
        ("036000291452", "UPC", "UPC-A"),
        ("0306406152", "ISBN", "ISBN-10"),
        ("080442957X", "ISBN", "ISBN-10"),
        ("9780306406157", "ISBN", "ISBN-13"),
        ("96385074", "EAN8", "EAN-8"),
        ("04252614", "UPC", "UPC-E"),
        ("10614141000415", "GTIN", "GTIN-14"),
        ("036000291452", "GTIN", "GTIN-12"),
        ("4006381333931", "GTIN", "GTIN-13"),
        ("96385074", "GTIN", "GTIN-8"),
        ("4011", "PLU", "PLU"),
        ("94011", "PLU", "PLU"),
        ("4006381333931", "ean", "EAN-13"),
        ("04252614", "Upc", "UPC-E"),
    ],
)
def test_known_valid_barcodes(value: str, declared: str, fmt: str) -> None:
    assert check_barcode(value, declared, FIELD) == []
    assert barcode_format(value, declared) == fmt


def test_known_check_digits_by_computation() -> None:
    assert gs1_check_digit("400638133393") == 1
    assert gs1_check_digit("03600029145") == 2
    assert gs1_check_digit("9638507") == 4
    assert gs1_check_digit("1061414100041") == 5
    assert isbn10_check_digit("030640615") == "2"
    assert isbn10_check_digit("080442957") == "X"
    assert upce_to_upca("04252614") == "042100005264"


def test_report_example_wrong_ean13_check_digit() -> None:
    issue = only_issue("4006381333934", None)
    assert issue.to_dict() == {
        "severity": "ERROR",
        "code": "INVALID_CHECK_DIGIT",
        "field": FIELD,
        "message": "EAN-13 check digit should be 1, not 4",
        "value": "4006381333934",
    }


@pytest.mark.parametrize(
    ("value", "declared", "message"),
    [
        ("036000291453", "UPC", "UPC-A check digit should be 2, not 3"),
        ("04252615", "UPC", "UPC-E check digit should be 4, not 5"),
        ("96385075", "EAN8", "EAN-8 check digit should be 4, not 5"),
        ("10614141000416", None, "GTIN-14 check digit should be 5, not 6"),
        ("036000291453", "GTIN", "GTIN-12 check digit should be 2, not 3"),
        ("0306406153", "ISBN", "ISBN-10 check digit should be 2, not 3"),
        ("0804429571", None, "ISBN-10 check digit should be X, not 1"),
        ("030640615X", "ISBN", "ISBN-10 check digit should be 2, not X"),
        ("9780306406158", "ISBN", "ISBN-13 check digit should be 7, not 8"),
    ],
)
def test_check_digit_messages_name_the_format(
    value: str, declared: str | None, message: str
) -> None:
    issue = only_issue(value, declared)
    assert (issue.severity, issue.code, issue.message) == ("ERROR", "INVALID_CHECK_DIGIT", message)
    assert (issue.field, issue.value) == (FIELD, value)


# --- inference ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("4011", "PLU"),
        ("94011", "PLU"),
        ("96385074", "EAN-8"),
        ("04252614", "UPC-E"),
        ("0306406152", "ISBN-10"),
        ("036000291452", "UPC-A"),
        ("4006381333931", "EAN-13"),
        ("10614141000415", "GTIN-14"),
    ],
)
@pytest.mark.parametrize("absent", [None, ""])
def test_missing_type_is_inferred_with_a_warning(value: str, fmt: str, absent: str | None) -> None:
    issue = only_issue(value, absent)
    assert (issue.severity, issue.code) == ("WARNING", "INFERRED_BARCODE_TYPE")
    assert issue.message == f"external_product_id_type is missing; inferred {fmt}"
    assert (issue.field, issue.value) == (FIELD, value)
    assert barcode_format(value, absent) == fmt


def test_inferred_warning_names_the_type_attribute_of_the_field() -> None:
    field = "additional_external_product_information[2].external_product_id"
    [issue] = check_barcode("96385074", None, field)
    assert issue.message == f"{field}_type is missing; inferred EAN-8"
    assert issue.field == field


@given(gs1_code(8))
def test_eight_digits_with_ean8_check_digit_are_ean8(code: str) -> None:
    assert barcode_format(code, None) == "EAN-8"


@given(upce())
def test_eight_digits_without_ean8_check_digit_are_upce(code: str) -> None:
    assume(code[-1] != str(gs1_check_digit(code[:7])))
    assert barcode_format(code, None) == "UPC-E"


@given(digits(8))
def test_eight_digits_without_type_follow_the_ean8_then_upce_rule(code: str) -> None:
    fmt = barcode_format(code, None)
    if code[-1] == str(gs1_check_digit(code[:7])):
        assert fmt == "EAN-8"
    elif code[0] in "01" and code[-1] == str(gs1_check_digit(upce_to_upca(code)[:11])):
        assert fmt == "UPC-E"
    else:
        assert fmt is None
        named = "UPC-E" if code[0] in "01" else "EAN-8"
        assert only_issue(code, None).message.startswith(f"{named} check digit should be ")


# --- GS1 properties ------------------------------------------------------------------------


LENGTH_FORMATS = {8: "EAN-8", 12: "UPC-A", 13: "EAN-13", 14: "GTIN-14"}
TYPE_FOR_LENGTH = {8: "EAN8", 12: "UPC", 13: "EAN", 14: "GTIN"}


@given(st.sampled_from(sorted(LENGTH_FORMATS)).flatmap(lambda n: gs1_code(n)))
def test_appending_gs1_check_digit_gives_a_valid_code(code: str) -> None:
    n = len(code)
    assert check_barcode(code, TYPE_FOR_LENGTH[n], FIELD) == []
    assert barcode_format(code, TYPE_FOR_LENGTH[n]) == LENGTH_FORMATS[n]
    assert barcode_format(code, "GTIN") == f"GTIN-{n}"


@given(
    st.sampled_from(sorted(LENGTH_FORMATS)).flatmap(lambda n: gs1_code(n)),
    st.data(),
)
def test_changing_any_single_digit_breaks_the_gs1_check(code: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(code) - 1))
    delta = data.draw(st.integers(1, 9))
    broken = change_digit(code, position, delta)
    for declared in (TYPE_FOR_LENGTH[len(code)], "GTIN"):
        issue = only_issue(broken, declared)
        assert issue.code == "INVALID_CHECK_DIGIT"
        assert issue.message.endswith(f"should be {code[-1]}, not {broken[-1]}") or (
            position != len(code) - 1
        )
    assert barcode_format(broken, None) is None or len(code) == 8  # 8 digits may be UPC-E


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_gs1_check_digit_makes_the_weighted_sum_a_multiple_of_ten(body: str) -> None:
    check = gs1_check_digit(body)
    assert 0 <= check <= 9
    weights = [3 if i % 2 == 0 else 1 for i in range(len(body))]
    total = sum(int(d) * w for d, w in zip(reversed(body), weights, strict=True))
    assert (total + check) % 10 == 0


@pytest.mark.parametrize("body", ["", "12a", "\uff11\uff12\uff13", "12 3"])
def test_gs1_check_digit_refuses_non_digits(body: str) -> None:
    with pytest.raises(ValueError):
        gs1_check_digit(body)


# --- ISBN ----------------------------------------------------------------------------------


@given(isbn10())
def test_isbn10_with_mod11_check_is_valid(code: str) -> None:
    assert barcode_format(code, "ISBN") == "ISBN-10"
    assert barcode_format(code, None) == "ISBN-10"
    assert sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(code)) % 11 == 0


@given(isbn10(), st.data())
def test_isbn10_any_wrong_check_character_is_rejected(code: str, data: st.DataObject) -> None:
    wrong = data.draw(st.sampled_from([c for c in "0123456789X" if c != code[-1]]))
    issue = only_issue(code[:9] + wrong, "ISBN")
    assert issue.code == "INVALID_CHECK_DIGIT"
    assert issue.message == f"ISBN-10 check digit should be {code[-1]}, not {wrong}"


@given(isbn10(), st.data())
def test_isbn10_single_body_digit_change_is_detected(code: str, data: st.DataObject) -> None:
    broken = change_digit(code, data.draw(st.integers(0, 8)), data.draw(st.integers(1, 9)))
    assert only_issue(broken, "ISBN").code == "INVALID_CHECK_DIGIT"


def test_isbn_x_must_be_upper_case_and_last() -> None:
    assert only_issue("080442957x", "ISBN").code == "INVALID_BARCODE"
    assert "upper-case X" in only_issue("080442957x", None).message
    assert only_issue("08044295X7", "ISBN").code == "INVALID_BARCODE"
    assert only_issue("036000291X52", "UPC").code == "INVALID_BARCODE"


@given(st.sampled_from(["978", "979"]).flatmap(lambda p: digits(9).map(lambda d: p + d)))
def test_isbn13_needs_978_or_979_and_gs1_check(body: str) -> None:
    code = body + str(gs1_check_digit(body))
    assert barcode_format(code, "ISBN") == "ISBN-13"
    assert barcode_format(code, None) == "EAN-13"


def test_isbn_type_with_other_13_digits_is_a_mismatch() -> None:
    issue = only_issue("4006381333931", "ISBN")
    assert issue.code == "BARCODE_TYPE_MISMATCH"
    assert "978 or 979" in issue.message


# --- UPC-E ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upce_code", "upca_code"),
    [
        ("01234505", "012000003455"),  # last digit 0-2: manufacturer ends in it
        ("01234531", "012300000451"),  # 3
        ("01234543", "012340000053"),  # 4
        ("01234558", "012345000058"),  # 5-9
        ("11234596", "112345000096"),  # number system 1
    ],
)
def test_upce_expansion_rules(upce_code: str, upca_code: str) -> None:
    assert upce_to_upca(upce_code) == upca_code


@given(st.sampled_from("01"), digits(7))
def test_upce_valid_exactly_when_its_upca_expansion_is(ns: str, rest: str) -> None:
    code = ns + rest
    expanded = upce_to_upca(code)
    assert len(expanded) == 12
    assert expanded[0] == code[0] and expanded[-1] == code[-1]
    assert (check_barcode(code, "UPC", FIELD) == []) == (
        check_barcode(expanded, "UPC", FIELD) == []
    )


@given(upce())
def test_generated_upce_is_valid(code: str) -> None:
    assert barcode_format(code, "UPC") == "UPC-E"


@pytest.mark.parametrize("code", ["21234505", "0123450", "012345051", "0123450a", ""])
def test_upce_to_upca_refuses_non_upce(code: str) -> None:
    with pytest.raises(ValueError):
        upce_to_upca(code)


def test_upc_with_8_digits_of_other_number_system_is_a_mismatch() -> None:
    issue = only_issue("96385074", "UPC")
    assert issue.code == "BARCODE_TYPE_MISMATCH"
    assert "number system 9" in issue.message


# --- declared types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "declared", "looks"),
    [
        ("4006381333931", "UPC", "13 digits (an EAN-13)"),
        ("036000291452", "EAN", "12 digits (a UPC-A)"),
        ("4006381333931", "EAN8", "13 digits (an EAN-13)"),
        ("96385074", "EAN", "8 digits (an EAN-8 or UPC-E)"),
        ("0306406152", "GTIN", "10 characters (an ISBN-10)"),
        ("036000291452", "ISBN", "12 digits (a UPC-A)"),
        ("036000291452", "PLU", "12 digits (a UPC-A)"),
        ("4011", "UPC", "4 digits (a PLU)"),
        ("94011", "GTIN", "5 digits (a PLU)"),
        ("10614141000415", "EAN", "14 digits (a GTIN-14)"),
    ],
)
def test_declared_type_mismatch(value: str, declared: str, looks: str) -> None:
    issue = only_issue(value, declared)
    assert (issue.severity, issue.code, issue.field, issue.value) == (
        "ERROR",
        "BARCODE_TYPE_MISMATCH",
        FIELD,
        value,
    )
    assert issue.message.startswith(f"Barcode is {looks}; type {declared} expects ")


def test_mismatch_message_says_what_the_type_expects() -> None:
    message = only_issue("4006381333931", "upc").message
    assert message.endswith(
        "type UPC expects UPC-A (12 digits) or UPC-E (8 digits, number system 0 or 1)"
    )


@given(
    st.sampled_from(BARCODE_TYPES),
    st.sampled_from(sorted(LENGTH_FORMATS)).flatmap(lambda n: gs1_code(n)),
)
def test_type_matching_is_ascii_case_insensitive(declared: str, code: str) -> None:
    expected = judge_barcode(code, declared)
    assert judge_barcode(code, declared.lower()) == expected
    assert judge_barcode(code, declared.capitalize()) == expected


@pytest.mark.parametrize(
    "declared", ["UPCA", "EAN-13", "upc ", " EAN", "ISBN13", "QR", "\u0131SBN"]
)
def test_unknown_type(declared: str) -> None:
    issue = only_issue("4006381333931", declared)
    assert (issue.severity, issue.code) == ("ERROR", "UNKNOWN_BARCODE_TYPE")
    assert issue.field == "external_product_id_type"
    assert issue.value == declared
    assert issue.message.endswith("use one of UPC, EAN, EAN8, ISBN, GTIN, PLU")


# --- not a barcode -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("400638 1333931", "white space"),
        (" 4006381333931", "white space"),
        ("4006381333931\n", "white space"),
        ("٤٠٠٦٣٨١٣٣٣٩٣١", "non-ASCII digits"),
        (
            "\uff14\uff10\uff10\uff16\uff13\uff18\uff11\uff13\uff13\uff13\uff19\uff13\uff11",
            "non-ASCII digits",
        ),
        ("40²1", "non-ASCII digits"),
        ("123", "3 digits"),
        ("123456", "6 digits"),
        ("1234567", "7 digits"),
        ("123456789", "9 digits"),
        ("12345678901", "11 digits"),
        ("123456789012345", "15 digits"),
        ("ABC-123", "other than the digits"),
        ("-4011", "other than the digits"),
        ("4011.0", "other than the digits"),
    ],
)
@pytest.mark.parametrize("declared", [None, "EAN", "PLU"])
def test_invalid_barcode(value: str, fragment: str, declared: str | None) -> None:
    issue = only_issue(value, declared)
    assert (issue.severity, issue.code, issue.field, issue.value) == (
        "ERROR",
        "INVALID_BARCODE",
        FIELD,
        value,
    )
    assert fragment in issue.message


def test_wrong_length_message_mentions_declared_type() -> None:
    assert "type UPC expects UPC-A" in only_issue("12345678901", "UPC").message


@given(st.text(alphabet="0123456789", min_size=1, max_size=30), st.data())
def test_any_non_ascii_digit_makes_it_invalid(value: str, data: st.DataObject) -> None:
    char = data.draw(st.characters(categories=["Nd", "No"]).filter(lambda c: not c.isascii()))
    position = data.draw(st.integers(0, len(value) - 1))
    bad = value[:position] + char + value[position + 1 :]
    for declared in (None, *BARCODE_TYPES):
        assert only_issue(bad, declared).code == "INVALID_BARCODE"
        assert barcode_format(bad, declared) is None


@given(st.text(), st.one_of(st.none(), st.text(), st.sampled_from(BARCODE_TYPES)))
def test_check_barcode_never_raises_and_gives_at_most_one_issue(
    value: str, declared: str | None
) -> None:
    found = check_barcode(value, declared, FIELD)
    assert len(found) <= 1
    fmt = barcode_format(value, declared)
    if fmt is None:
        assert found and found[0].severity == "ERROR"
    else:
        assert (found == []) if declared else (found[0].code == "INFERRED_BARCODE_TYPE")
    for issue in found:
        assert issue.code in {
            codes.INVALID_BARCODE,
            codes.BARCODE_TYPE_MISMATCH,
            codes.UNKNOWN_BARCODE_TYPE,
            codes.INVALID_CHECK_DIGIT,
            codes.INFERRED_BARCODE_TYPE,
        }


@given(st.text(alphabet="0123456789X", max_size=16), st.sampled_from((None, *BARCODE_TYPES)))
def test_valid_barcodes_have_accepted_lengths(value: str, declared: str | None) -> None:
    fmt = barcode_format(value, declared)
    if fmt is not None:
        assert len(value) in {4, 5, 8, 10, 12, 13, 14}
        assert "X" not in value[:-1]
