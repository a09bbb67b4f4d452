"""Unit tests for HMAC-SHA256 pre-signed report links."""

from __future__ import annotations

import string
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_ingest.crypto import (
    EXPIRED_MESSAGE,
    INVALID_MESSAGE,
    LinkExpired,
    LinkInvalid,
    presigned_url,
    sign_path,
    verify_path,
)
from catalog_ingest.errors import AuthenticationFailed, ConfigurationError

SECRET = b"0123456789abcdef0123456789abcdef"
PATH = "/v1/catalog/reports/3f2a9c1e-7b4d-4e6f-9a01-5c3d2b1a0f9e"
OTHER = "/v1/catalog/reports/3f2a9c1e-7b4d-4e6f-9a01-5c3d2b1a0f9f"
NOW = 1_764_000_000.0


def params_of(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


def signed(path: str = PATH, expires_at: int = int(NOW) + 3600) -> dict[str, str]:
    return params_of(sign_path(SECRET, path, expires_at))


def test_valid_link_verifies_until_its_expiry() -> None:
    params = signed()
    assert set(params) == {"expires", "signature"}
    verify_path(SECRET, PATH, params, NOW)
    verify_path(SECRET, PATH, params, NOW + 3600)  # the last second is still valid


def test_expired_link() -> None:
    with pytest.raises(LinkExpired) as info:
        verify_path(SECRET, PATH, signed(), NOW + 3600.001)
    assert info.value.message == EXPIRED_MESSAGE == "Request has expired"
    assert isinstance(info.value, AuthenticationFailed)


def invalid(path: str, params: dict[str, str], now: float = NOW) -> None:
    with pytest.raises(LinkInvalid) as info:
        verify_path(SECRET, path, params, now)
    assert info.value.message == INVALID_MESSAGE
    assert isinstance(info.value, AuthenticationFailed)


def test_altered_signature() -> None:
    params = signed()
    sig = params["signature"]
    invalid(PATH, {**params, "signature": sig[:-1] + ("0" if sig[-1] != "0" else "1")})
    invalid(PATH, {**params, "signature": sig.upper()})
    invalid(PATH, {**params, "signature": sig[:-2]})
    invalid(PATH, {**params, "signature": "é" * 64})


def test_link_for_another_upload_is_refused() -> None:
    invalid(OTHER, signed())
    invalid(PATH + "/", signed())
    verify_path(SECRET, OTHER, signed(OTHER), NOW)


def test_altered_expiry_is_invalid_not_expired_nor_accepted() -> None:
    params = signed(expires_at=int(NOW) - 10)  # already expired
    invalid(PATH, {**params, "expires": str(int(NOW) + 10_000)})
    invalid(PATH, {**params, "expires": "0" + params["expires"]})
    invalid(PATH, {**params, "expires": params["expires"] + "0"}, now=NOW + 10**12)


def test_missing_or_garbled_params() -> None:
    params = signed()
    invalid(PATH, {})
    invalid(PATH, {"expires": params["expires"]})
    invalid(PATH, {"signature": params["signature"]})
    for bad in ("", "-1", "1e9", " 1", "\uff11\uff12\uff13", "abc"):
        invalid(PATH, {**params, "expires": bad})


def test_other_secret_is_refused_and_short_secret_is_a_configuration_error() -> None:
    with pytest.raises(LinkInvalid):
        verify_path(b"another-secret-of-32-bytes......", PATH, signed(), NOW)
    with pytest.raises(ConfigurationError):
        sign_path(b"short", PATH, 1)
    with pytest.raises(ConfigurationError):
        verify_path(b"", PATH, signed(), NOW)


def test_presigned_url() -> None:
    url = presigned_url("https://reports.example.com/", PATH, SECRET, 3600, NOW)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "https://reports.example.com"
    assert parts.path == PATH
    params = params_of(parts.query)
    assert params["expires"] == str(int(NOW) + 3600)
    verify_path(SECRET, parts.path, params, NOW + 3599)
    with pytest.raises(LinkExpired):
        verify_path(SECRET, parts.path, params, NOW + 3601)
    with pytest.raises(ValueError):
        presigned_url("https://x", "v1/no-slash", SECRET, 60, NOW)
    with pytest.raises(ValueError):
        presigned_url("https://x", PATH + "?a=1", SECRET, 60, NOW)


_path_chars = string.ascii_letters + string.digits + "-_./~"


def _change_one(text: str, index: int, replacement: str) -> str:
    index %= len(text)
    if replacement == text[index]:
        replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


@settings(max_examples=300, deadline=None)
@given(index=st.integers(min_value=0), char=st.sampled_from(_path_chars))
def test_property_any_single_character_change_to_path_is_refused(index: int, char: str) -> None:
    invalid(_change_one(PATH, index, char), signed())


@settings(max_examples=300, deadline=None)
@given(index=st.integers(min_value=0), char=st.characters(codec="utf-8"))
def test_property_any_single_character_change_to_signature_is_refused(
    index: int, char: str
) -> None:
    params = signed()
    invalid(PATH, {**params, "signature": _change_one(params["signature"], index, char)})


@settings(max_examples=200, deadline=None)
@given(
    path=st.text(alphabet=_path_chars, min_size=1, max_size=80).map(lambda p: "/" + p),
    ttl=st.integers(min_value=0, max_value=10**7),
)
def test_property_round_trip(path: str, ttl: int) -> None:
    url = presigned_url("http://127.0.0.1:8080", path, SECRET, ttl, NOW)
    parts = urlsplit(url)
    verify_path(SECRET, parts.path, params_of(parts.query), NOW + ttl)
    with pytest.raises(LinkExpired):
        verify_path(SECRET, parts.path, params_of(parts.query), NOW + ttl + 1)
