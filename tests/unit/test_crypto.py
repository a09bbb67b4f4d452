"""The one crypto module: namespaced MACs, HKDF-keyed sealing, page tokens, secret files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_ingest import crypto
from catalog_ingest.errors import ConfigurationError

SECRET = bytes(range(32))


def test_a_mac_of_one_namespace_is_not_valid_in_another() -> None:
    link = crypto.mac(SECRET, crypto.LINK, "sub-1")
    assert crypto.mac_ok(SECRET, crypto.LINK, link, "sub-1")
    assert not crypto.mac_ok(SECRET, crypto.UNSUBSCRIBE, link, "sub-1")


def test_parts_are_separated() -> None:
    assert crypto.mac(SECRET, crypto.LINK, "a", "bc") != crypto.mac(SECRET, crypto.LINK, "ab", "c")


@given(st.binary(max_size=200), st.binary(max_size=40))
def test_seal_round_trips_and_binds_purpose_and_context(plain: bytes, context: bytes) -> None:
    sealed = crypto.seal(SECRET, crypto.SEAL, plain, context)
    assert crypto.unseal(SECRET, crypto.SEAL, sealed, context) == plain
    with pytest.raises(crypto.Unsealable):
        crypto.unseal(SECRET, crypto.PAGE_TOKEN, sealed, context)
    with pytest.raises(crypto.Unsealable):
        crypto.unseal(SECRET, crypto.SEAL, sealed, context + b"x")
    with pytest.raises(crypto.Unsealable):
        crypto.unseal(bytes(32), crypto.SEAL, sealed, context)


def test_sealing_uses_hkdf_not_the_secret_itself() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = crypto.seal(SECRET, crypto.SEAL, b"x")
    with pytest.raises(Exception):  # noqa: B017 - any failure: the raw secret is not the key
        AESGCM(SECRET).decrypt(sealed[:12], sealed[12:], None)


def test_tokens_have_one_spelling() -> None:
    token = crypto.seal_token(SECRET, crypto.PAGE_TOKEN, b"pos", b"ctx")
    assert crypto.unseal_token(SECRET, crypto.PAGE_TOKEN, token, b"ctx") == b"pos"
    for bad in (token + "=", token + "A", " " + token, "!" + token[1:]):
        with pytest.raises(crypto.Unsealable):
            crypto.unseal_token(SECRET, crypto.PAGE_TOKEN, bad, b"ctx")


def test_short_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        crypto.mac(b"short", crypto.LINK, "x")


def test_secret_file_is_created_once_even_by_racing_threads(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "server.key"
    seen: list[bytes] = []
    barrier = threading.Barrier(8)

    def make() -> None:
        barrier.wait()
        seen.append(crypto.secret_file(path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1 and len(seen[0]) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["server.key"]
