"""The one home of the service's symmetric cryptography: MACs, signed links, sealing, secret files.

Every use of the server secret goes through here, each under its own **namespace**, so a
value made for one purpose is never valid for another:

* **MACs** (HMAC-SHA256 keyed with the server secret) over
  ``b"catalog-ingest/" + namespace + b"\\n" + b"\\n".join(parts)``. The namespaces in use:
  ``link/v1`` (pre-signed report and rejection-report links: path and expiry) and
  ``unsubscribe/v1`` (the MAC in a notification's UnsubscribeURL).
* **Signed links**: ``<base><path>?expires=<unix seconds>&signature=<64 hex>``, the
  ``link/v1`` MAC over the exact path and expiry strings, so a link can be neither moved to
  another resource nor extended. ``verify_path`` checks the signature before the expiry: an
  altered expiry is ``LinkInvalid``, never ``LinkExpired``.
* **Sealing** (AES-256-GCM, a 12-byte random nonce in front): the key is derived from the server
  secret with HKDF-SHA256, ``info`` = ``b"catalog-ingest/" + purpose``: one derivation for every
  purpose (``seal/v1`` for stored secrets such as API key secrets and the notification signing
  key, ``page-token/v1`` for page tokens). Associated data binds a sealed value to its context.
* **Secret files**: a secret created once, atomically, next to the data (``0600``), safe when
  several processes start at once.

The secret must be at least 16 bytes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from catalog_ingest.errors import AuthenticationFailed, ConfigurationError

MIN_SECRET_BYTES: Final = 16
LINK: Final = "link/v1"
UNSUBSCRIBE: Final = "unsubscribe/v1"
SEAL: Final = "seal/v1"
PAGE_TOKEN: Final = "page-token/v1"

EXPIRED_MESSAGE: Final = "Request has expired"
INVALID_MESSAGE: Final = (
    "The request signature we calculated does not match the signature you provided")

_NONCE: Final = 12
_EXPIRES = re.compile(r"0|[1-9][0-9]{0,15}")
_HEX_MAC = re.compile(r"[0-9a-f]{64}")


class LinkExpired(AuthenticationFailed):
    """A genuine link whose expiry time has passed."""

    def __init__(self) -> None:
        super().__init__(EXPIRED_MESSAGE)


class LinkInvalid(AuthenticationFailed):
    """A link whose signature, path or expiry is missing, garbled or altered."""

    def __init__(self) -> None:
        super().__init__(INVALID_MESSAGE)


class Unsealable(ConfigurationError):
    """A sealed value that does not open under this secret and context (altered or foreign;
    for a stored secret: the server secret is not the one it was sealed with)."""


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"the server secret must be at least {MIN_SECRET_BYTES} bytes")


# --- MACs -----------------------------------------------------------------------------------

def mac(secret: bytes, namespace: str, *parts: str) -> str:
    """Hex HMAC-SHA256 of ``parts`` under ``namespace``."""
    _check_secret(secret)
    message = b"catalog-ingest/" + namespace.encode("ascii") + b"\n"
    message += b"\n".join(part.encode("utf-8") for part in parts)
    return hmac.digest(secret, message, "sha256").hex()  # one-shot: no HMAC object


def mac_ok(secret: bytes, namespace: str, signature: str, *parts: str) -> bool:
    """Whether ``signature`` is the MAC of ``parts`` under ``namespace`` (constant time)."""
    expected = mac(secret, namespace, *parts)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


# --- signed links ---------------------------------------------------------------------------

def sign_path(secret: bytes, path: str, expires_at: int) -> str:
    """The query string that makes ``path`` readable until ``expires_at`` (unix seconds)."""
    if expires_at < 0:
        raise ValueError("expires_at must not be negative")
    expires = str(expires_at)
    # Digits and hex need no percent-encoding: the same string urlencode would make.
    return f"expires={expires}&signature={mac(secret, LINK, path, expires)}"


def verify_path(secret: bytes, path: str, params: Mapping[str, str], now: float) -> None:
    """Accept a genuine, unexpired link; else raise ``LinkInvalid`` or ``LinkExpired``."""
    expires = params.get("expires")
    signature = params.get("signature")
    if expires is None or signature is None:
        raise LinkInvalid()
    if not _EXPIRES.fullmatch(expires) or not _HEX_MAC.fullmatch(signature):
        raise LinkInvalid()
    if not mac_ok(secret, LINK, signature, path, expires):
        raise LinkInvalid()
    if now > int(expires):
        raise LinkExpired()


def presigned_url(base_url: str, path: str, secret: bytes, ttl_seconds: int, now: float) -> str:
    """``base_url`` + ``path`` + a signature valid for ``ttl_seconds`` from ``now``."""
    if "?" in path or "#" in path or not path.startswith("/"):
        raise ValueError(f"not a bare absolute path: {path!r}")
    expires_at = int(now) + ttl_seconds
    return f"{base_url.rstrip('/')}{path}?{sign_path(secret, path, expires_at)}"


# --- sealing --------------------------------------------------------------------------------

@lru_cache(maxsize=32)
def _aead(secret: bytes, purpose: str) -> AESGCM:
    _check_secret(secret)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"catalog-ingest/" + purpose.encode("ascii"))
    return AESGCM(hkdf.derive(secret))


def seal(secret: bytes, purpose: str, plaintext: bytes, context: bytes | None = None) -> bytes:
    """``plaintext`` encrypted and authenticated under the key for ``purpose``."""
    nonce = os.urandom(_NONCE)
    return nonce + _aead(secret, purpose).encrypt(nonce, plaintext, context)


def unseal(secret: bytes, purpose: str, sealed: bytes, context: bytes | None = None) -> bytes:
    """The plaintext of a value ``seal`` made; ``Unsealable`` if altered or not ours."""
    try:
        return _aead(secret, purpose).decrypt(sealed[:_NONCE], sealed[_NONCE:], context)
    except (InvalidTag, ValueError):
        raise Unsealable("the sealed value does not open under this secret") from None


def seal_text(secret: bytes, text: str) -> bytes:
    """A stored secret (API key secret, signing key) sealed under the server secret."""
    return seal(secret, SEAL, text.encode("utf-8"))


def unseal_text(secret: bytes, sealed: bytes) -> str:
    """The text ``seal_text`` sealed."""
    return unseal(secret, SEAL, sealed).decode("utf-8")


def seal_token(secret: bytes, purpose: str, plaintext: bytes, context: bytes) -> str:
    """A sealed value as unpadded URL-safe base64, for tokens handed to clients."""
    return _b64(seal(secret, purpose, plaintext, context))


def unseal_token(secret: bytes, purpose: str, token: str, context: bytes) -> bytes:
    """The plaintext of a ``seal_token`` token; ``Unsealable`` for anything else (one spelling
    per token: stray or re-encoded characters do not open)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise Unsealable("not a token") from None
    if _b64(raw) != token:
        raise Unsealable("not a token")
    return unseal(secret, purpose, raw, context)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# --- secret files ---------------------------------------------------------------------------

def secret_file(path: Path, make: Callable[[], bytes] = lambda: secrets.token_bytes(32)) -> bytes:
    """The secret kept in ``path`` (hex), created once with ``make`` on first use.

    The file is written in full under a unique temporary name and published with ``os.link``,
    which fails if the name exists: a reader never sees half a file and exactly one of several
    processes starting together wins; the others read the winner's secret.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(make().hex())
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    try:
        return bytes.fromhex(path.read_text().strip())
    except ValueError as exc:
        raise ConfigurationError(f"{path} does not hold a hexadecimal secret") from exc
