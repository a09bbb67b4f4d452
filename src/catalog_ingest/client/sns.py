"""Reading and verifying completion notifications on the retailer's side (SNS formats).

For a retailer's Lambda (SQS trigger) or web handler (HTTP subscription)::

    verifier = SnsVerifier(allowed_cert_url_prefixes=["https://ingest.example.com/sns/"])

    def handler(event, context):                      # SQS-triggered Lambda
        for record in event["Records"]:
            message = parse_message(record)           # the SQS body is the SNS document
            verifier.verify(message)                  # SnsSignatureError: drop it
            done = completion(message)
            fetch_report(done.report_download_link)   # valid for 60 minutes

An HTTP handler does the same with the request body, and answers a
``SubscriptionConfirmation`` with :meth:`SnsVerifier.confirm_subscription`.

This module stands alone: it implements the SNS signature rules itself and does not import
the service's code, so it is an independent check of what the service signs.

Errors: :class:`SnsMessageError` (not a readable SNS document: reject),
:class:`SnsSignatureError` (does not verify: reject, never act on it),
:class:`SnsFetchError` (the certificate could not be fetched: transient, let the message be
retried). Replays of a validly signed message are not detected here: SNS
delivery is at least once anyway, so act idempotently (e.g. on ``message_id`` or
``ingestion_id``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any, Final, TypeAlias
from urllib.parse import unquote, urlsplit

import msgspec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from catalog_ingest.errors import CatalogIngestError, InvalidInput, TransientError

NOTIFICATION: Final = "Notification"
SUBSCRIPTION_CONFIRMATION: Final = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION: Final = "UnsubscribeConfirmation"
_CONFIRMATIONS: Final = (SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION)
FETCH_TIMEOUT_SECONDS: Final = 10.0


class SnsMessageError(InvalidInput):
    """The input is not an SNS document this module can read (bad JSON, missing fields)."""


class SnsSignatureError(CatalogIngestError):
    """The document's signature does not hold, or cannot be checked safely: reject it."""


class SnsFetchError(TransientError):
    """A certificate or ``SubscribeURL`` could not be fetched; retrying later may succeed."""


_FIELD_NAMES: Final = {
    "type": "Type",
    "message_id": "MessageId",
    "topic_arn": "TopicArn",
    "message": "Message",
    "timestamp": "Timestamp",
    "signature_version": "SignatureVersion",
    "signature": "Signature",
    "signing_cert_url": "SigningCertURL",
    "subject": "Subject",
    "unsubscribe_url": "UnsubscribeURL",
    "token": "Token",
    "subscribe_url": "SubscribeURL",
}


class SnsMessage(msgspec.Struct, frozen=True, rename=_FIELD_NAMES):
    """An SNS envelope, fields as received (unknown fields are ignored)."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    signature_version: str = ""
    signature: str = ""
    signing_cert_url: str = ""
    subject: str | None = None
    unsubscribe_url: str | None = None
    token: str | None = None
    subscribe_url: str | None = None


class Completion(msgspec.Struct, frozen=True, rename="camel"):
    """The ``Message`` of a completion notification (unknown keys are ignored)."""

    ingestion_id: str
    processing_status: str
    report_download_link: str
    summary: dict[str, Any] = msgspec.field(default_factory=dict)


MessageInput: TypeAlias = SnsMessage | Mapping[str, Any] | str | bytes


def parse_message(body: MessageInput) -> SnsMessage:
    """The SNS envelope in ``body``: the JSON text (an HTTP body, an SQS message body), the
    decoded mapping, or an SQS record holding it as ``body`` (Lambda) or ``Body`` (boto3)."""
    if isinstance(body, SnsMessage):
        return body
    if isinstance(body, Mapping) and "Type" not in body:
        inner = body.get("body", body.get("Body"))
        if isinstance(inner, str | bytes):
            body = inner
    try:
        if isinstance(body, Mapping):
            message = msgspec.convert(dict(body), SnsMessage)
        else:
            message = msgspec.json.decode(body, type=SnsMessage)
    except (msgspec.ValidationError, msgspec.DecodeError, TypeError) as exc:
        raise SnsMessageError(f"not an SNS message document: {exc}") from exc
    if message.type in _CONFIRMATIONS and (message.token is None or message.subscribe_url is None):
        raise SnsMessageError(f"an SNS {message.type} needs Token and SubscribeURL")
    return message


def completion(doc: MessageInput) -> Completion:
    """The completion carried by a ``Notification`` (its ``Message`` JSON). Verify first."""
    message = parse_message(doc)
    if message.type != NOTIFICATION:
        raise SnsMessageError(f"an SNS {message.type} carries no completion")
    try:
        return msgspec.json.decode(message.message, type=Completion)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise SnsMessageError(f"the Message is not a completion: {exc}") from exc


def string_to_sign(message: SnsMessage) -> str:
    """SNS's canonical string for ``message``: ``"Key\\nValue\\n"`` per signed key, in the
    order SNS documents; ``Subject`` only when the notification has one."""
    if message.type == NOTIFICATION:
        pairs = [("Message", message.message), ("MessageId", message.message_id)]
        if message.subject is not None:
            pairs.append(("Subject", message.subject))
        pairs += [("Timestamp", message.timestamp), ("TopicArn", message.topic_arn)]
    elif message.type in _CONFIRMATIONS:
        pairs = [
            ("Message", message.message),
            ("MessageId", message.message_id),
            ("SubscribeURL", message.subscribe_url or ""),
            ("Timestamp", message.timestamp),
            ("Token", message.token or ""),
            ("TopicArn", message.topic_arn),
        ]
    else:
        raise SnsSignatureError(f"unknown SNS message Type {message.type!r}")
    pairs.append(("Type", message.type))
    return "".join(f"{key}\n{value}\n" for key, value in pairs)


def default_fetch(url: str) -> bytes:
    """GET ``url`` with httpx; redirects are not followed (they could leave the allowed
    prefixes)."""
    import httpx

    try:
        response = httpx.get(url, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise SnsFetchError(f"could not fetch {url}: {exc}") from exc
    return response.content


class SnsVerifier:
    """Checks SNS signatures (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) against the
    certificate at ``SigningCertURL``, fetched only from an allowed prefix and cached by URL.

    ``allowed_cert_url_prefixes`` are URL prefixes such as
    ``"https://ingest.example.com/sns/"``; a prefix without a path gets ``/`` appended, so
    ``https://host`` never admits ``https://host.evil.example``. ``fetch(url) -> bytes``
    defaults to an httpx GET; ``cache`` (URL → certificate PEM) may be shared, e.g. a module
    level dict that survives warm Lambda invocations. Certificate expiry is not checked (as
    the AWS SDK validators do not): trust comes from where the certificate is fetched.
    """

    def __init__(
        self,
        *,
        allowed_cert_url_prefixes: Sequence[str],
        fetch: Callable[[str], bytes] | None = None,
        cache: MutableMapping[str, bytes] | None = None,
    ) -> None:
        if isinstance(allowed_cert_url_prefixes, str):
            raise TypeError("allowed_cert_url_prefixes is a sequence of prefixes, not one str")
        self._prefixes = tuple(_normalized_prefix(p) for p in allowed_cert_url_prefixes)
        if not self._prefixes:
            raise ValueError("at least one allowed certificate URL prefix is needed")
        self._fetch = fetch if fetch is not None else default_fetch
        self._cache: MutableMapping[str, bytes] = {} if cache is None else cache

    def verify(self, doc: MessageInput) -> SnsMessage:
        """Raise :class:`SnsSignatureError` unless ``doc`` is signed by the certificate at
        its allowed ``SigningCertURL``; return the parsed message."""
        message = parse_message(doc)
        algorithm: hashes.HashAlgorithm
        if message.signature_version == "1":
            algorithm = hashes.SHA1()
        elif message.signature_version == "2":
            algorithm = hashes.SHA256()
        else:
            raise SnsSignatureError(f"unsupported SignatureVersion {message.signature_version!r}")
        if not self.cert_url_allowed(message.signing_cert_url):
            raise SnsSignatureError(f"SigningCertURL not allowed: {message.signing_cert_url!r}")
        signed = string_to_sign(message).encode("utf-8")
        signature = _decoded_signature(message.signature)
        public_key = self._public_key(message.signing_cert_url)
        try:
            public_key.verify(signature, signed, padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise SnsSignatureError("the SNS signature does not match the message") from None
        return message

    def confirm_subscription(self, doc: MessageInput) -> SnsMessage:
        """Verify a ``SubscriptionConfirmation`` (or ``UnsubscribeConfirmation``) and GET its
        ``SubscribeURL`` with ``fetch``, which makes the subscription live."""
        message = self.verify(doc)
        if message.type not in _CONFIRMATIONS or message.subscribe_url is None:
            raise SnsMessageError(f"an SNS {message.type} cannot be confirmed")
        self._fetch(message.subscribe_url)
        return message

    def cert_url_allowed(self, url: str) -> bool:
        """Whether ``url`` is a plain http(s) URL under one of the allowed prefixes."""
        if not url or any(ch in url for ch in "\\@#") or any(ch <= " " for ch in url):
            return False
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
            return False
        return any(url.startswith(prefix) for prefix in self._prefixes)

    def _public_key(self, url: str) -> rsa.RSAPublicKey:
        pem = self._cache.get(url)
        if pem is None:
            try:
                pem = self._fetch(url)
            except SnsFetchError:
                raise
            except Exception as exc:  # a custom fetch's failure: retrying may help
                raise SnsFetchError(f"could not fetch {url}: {exc}") from exc
            key = _rsa_public_key(pem, url)  # raises before a bad certificate is cached
            self._cache[url] = pem
            return key
        return _rsa_public_key(pem, url)


def _rsa_public_key(pem: bytes, url: str) -> rsa.RSAPublicKey:
    try:
        public_key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError as exc:
        raise SnsSignatureError(f"no PEM X.509 certificate at {url}") from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SnsSignatureError(f"the certificate at {url} does not hold an RSA key")
    return public_key


def _decoded_signature(signature: str) -> bytes:
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnsSignatureError("the Signature is not base64") from exc


def _normalized_prefix(prefix: str) -> str:
    parts = urlsplit(prefix)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a certificate URL prefix must be an http(s) URL: {prefix!r}")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"a certificate URL prefix has no query, fragment or user: {prefix!r}")
    return prefix if parts.path else prefix + "/"
