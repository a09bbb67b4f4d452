"""Seal and open small secrets (API key secrets) with AES-GCM under the server secret."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _key(server_secret: bytes) -> bytes:
    return hashlib.sha256(b"catalog-ingest/seal/v1\x00" + server_secret).digest()


def seal(server_secret: bytes, plaintext: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_key(server_secret)).encrypt(nonce, plaintext.encode(), None)


def unseal(server_secret: bytes, sealed: bytes) -> str:
    return AESGCM(_key(server_secret)).decrypt(sealed[:12], sealed[12:], None).decode()
