"""The notification signing key: RSA 2048 and a self-signed certificate (SNS SignatureVersion 2).

The service keeps its key in the database, sealed under the server secret, so that every
process of a scaled-out deployment signs with one key whose certificate ``serve`` publishes
(:func:`catalog_ingest.notify.documents.signing_key`). Rotation: delete the ``signing_keys``
row and restart every process; subscribers that cache certificates by URL (as
:class:`catalog_ingest.client.sns.SnsVerifier` does) must be restarted too.
"""

from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from catalog_ingest.errors import ConfigurationError

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
