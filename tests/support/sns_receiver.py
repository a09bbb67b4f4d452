"""A real HTTP(S) notification endpoint for tests, with an SNS verifier written from AWS's docs.

The verifier here deliberately shares no code with the service (nor with
``catalog_ingest.client.sns``): it follows "Verifying the signatures of Amazon SNS messages"
step by step, so a service that signs the wrong string fails the tests.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# From the SNS docs: the names signed for each message type; the string to sign is each
# name, a newline, its value, a newline, with the names in byte order. Subject only when
# the notification has one.
NOTIFICATION_NAMES = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_NAMES = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                      "Type")


def sns_string_to_sign(doc: Mapping[str, Any]) -> bytes:
    names = NOTIFICATION_NAMES if doc["Type"] == "Notification" else CONFIRMATION_NAMES
    out = b""
    for name in sorted(names):
        if name == "Subject" and "Subject" not in doc:
            continue
        out += name.encode() + b"\n" + str(doc[name]).encode("utf-8") + b"\n"
    return out


def sns_signature_valid(doc: Mapping[str, Any], cert_pem: bytes) -> bool:
    """SignatureVersion 2 is SHA256withRSA (PKCS#1 v1.5) over the string to sign."""
    if doc.get("SignatureVersion") != "2":
        return False
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(base64.b64decode(doc["Signature"]), sns_string_to_sign(doc),
                   padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@dataclass
class Received:
    headers: dict[str, str]
    doc: dict[str, Any]
    answered: int


class Receiver:
    """An http.server on 127.0.0.1 that records every POST and answers ``status()``.

    With ``service_url`` set, it checks each document's signature independently (with the
    certificate at its SigningCertURL, which must be the service's) and confirms a
    SubscriptionConfirmation by fetching its SubscribeURL, as a subscriber must.
    """

    def __init__(self, service_url: str | None = None, port: int = 0) -> None:
        self.service_url = service_url
        self.status: Callable[[dict[str, Any]], int] = lambda doc: 200
        self.received: list[Received] = []
        self.bad_signatures: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._certs: dict[str, bytes] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None

    def docs(self, kind: str = "Notification", answered: int | None = 200) -> list[dict[str, Any]]:
        with self.lock:
            return [r.doc for r in self.received
                    if r.doc.get("Type") == kind and (answered is None or r.answered == answered)]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                with self.lock:
                    seen = [(r.doc.get("Type"), r.answered) for r in self.received]
                raise TimeoutError(f"condition not met; received: {seen}")
            time.sleep(0.02)  # polling a condition with a deadline

    def _check(self, doc: dict[str, Any]) -> None:
        if self.service_url is None:
            return
        cert_url = doc["SigningCertURL"]
        if not cert_url.startswith(self.service_url + "/"):
            self.bad_signatures.append(doc)  # a certificate from elsewhere proves nothing
            return
        if cert_url not in self._certs:
            self._certs[cert_url] = httpx.get(cert_url, timeout=10).raise_for_status().content
        if not sns_signature_valid(doc, self._certs[cert_url]):
            self.bad_signatures.append(doc)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                doc = json.loads(body)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._check(doc)
                status = receiver.status(doc)
                if status == 200 and doc["Type"] == "SubscriptionConfirmation" and (
                        receiver.service_url is not None):
                    httpx.get(doc["SubscribeURL"], timeout=10).raise_for_status()
                with receiver.lock:
                    receiver.received.append(Received(headers, doc, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
