"""The notification signing key: RSA 2048 and a self-signed certificate, kept in the data dir.

(The service itself keeps its key in the database instead, sealed under the server secret, so
that every process of a scaled-out deployment signs with one key: see
:func:`catalog_ingest.notify.documents.signing_key`. The files below serve standalone use.)

Files (in the directory given, e.g. ``<data_dir>/secrets``):

* ``sns-signing-key.pem``: the PKCS#8 PEM private key, mode ``0600``;
* ``sns-signing-cert.pem``: the self-signed X.509 certificate of that key, PEM; this is what
  the service serves at ``SigningCertURL``.

Both are created on first use and reused afterwards. Creation is safe against several
processes starting at once: each file is written in full to a unique temporary name and
then published with ``os.link`` (which fails if the name exists), so a reader never sees a
half-written file and exactly one key wins; a process that loses the race loads the winner's
files. The key file is published first; a certificate that is missing (a crash between the
two steps) or does not match the key is (re)made from the key on the next start.

Rotation: stop the service, delete both files, start again. Subscribers fetch the
certificate again when ``SigningCertURL`` changes; since it does not change here, a
subscriber that caches certificates by URL (as :class:`catalog_ingest.client.sns.SnsVerifier`
does) must be restarted too, so rotating is an operator's decision, never automatic.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from catalog_ingest.errors import ConfigurationError

KEY_FILE = "sns-signing-key.pem"
CERT_FILE = "sns-signing-cert.pem"
KEY_BITS = 2048
CERT_COMMON_NAME = "catalog-ingest notification signing"
CERT_VALIDITY = dt.timedelta(days=3650)


class SigningKey:
    """An RSA private key and its certificate; signs SNS strings-to-sign (SignatureVersion 2)."""

    __slots__ = ("_key", "certificate_pem")

    def __init__(self, private_key: rsa.RSAPrivateKey, certificate_pem: bytes) -> None:
        self._key = private_key
        self.certificate_pem = certificate_pem

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes) -> SigningKey:
        """Load a PEM private key and PEM certificate; they must be RSA and belong together."""
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
            cert = x509.load_pem_x509_certificate(cert_pem)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"unreadable notification signing key: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigurationError("the notification signing key must be an RSA key")
        if not _matches(key, cert):
            raise ConfigurationError("the notification signing certificate is not of its key")
        return cls(key, cert_pem)

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key and self-signed certificate, in memory only (tests, ephemeral setups)."""
        key = _new_private_key()
        return cls(key, _self_signed_certificate(key))

    def sign(self, string_to_sign: str) -> str:
        """Base64 of the RSA PKCS#1 v1.5 SHA-256 signature of the UTF-8 bytes of the string."""
        raw = self._key.sign(string_to_sign.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode("ascii")

    def private_key_pem(self) -> bytes:
        """The private key, PKCS#8 PEM, unencrypted."""
        return _pem_of(self._key)


def load_or_create_signing_key(directory: Path) -> SigningKey:
    """The signing key kept in ``directory``, created there (atomically) on first use."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
    if not key_path.exists():
        _publish(key_path, _pem_of(_new_private_key()), mode=0o600)
    key = _load_private_key(key_path)
    cert_pem = _read_or_none(cert_path)
    if cert_pem is None or not _pem_matches(key, cert_pem):
        cert_pem = _ensure_certificate(cert_path, key, stale=cert_pem is not None)
    return SigningKey(key, cert_pem)


def _ensure_certificate(cert_path: Path, key: rsa.RSAPrivateKey, *, stale: bool) -> bytes:
    """Publish a certificate of ``key``; if another process published one first, use it."""
    mine = _self_signed_certificate(key)
    if stale:  # unreadable, or of an earlier key: replace it (rename is atomic)
        os.replace(_write_temp(cert_path, mine, mode=0o644), cert_path)
    else:
        _publish(cert_path, mine, mode=0o644)
    theirs = _read_or_none(cert_path)
    return theirs if theirs is not None and _pem_matches(key, theirs) else mine


def _publish(path: Path, content: bytes, *, mode: int) -> None:
    """Create ``path`` with ``content`` unless it exists; never leave a partial file there."""
    tmp = _write_temp(path, content, mode=mode)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process won the race; the caller reads the file it published
    finally:
        tmp.unlink(missing_ok=True)


def _write_temp(path: Path, content: bytes, *, mode: int) -> Path:
    """Write ``content`` to a fresh, fsynced temporary file next to ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _load_private_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"unreadable notification signing key {path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(f"the notification signing key {path} is not an RSA key")
    return key


def _new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _pem_of(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _self_signed_certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_COMMON_NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _matches(key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bool:
    public = cert.public_key()
    return (
        isinstance(public, rsa.RSAPublicKey)
        and public.public_numbers() == key.public_key().public_numbers()
    )


def _pem_matches(key: rsa.RSAPrivateKey, cert_pem: bytes) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return False
    return _matches(key, cert)
