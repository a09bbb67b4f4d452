"""SigV4 signing of httpx requests with botocore, credentials from the standard chain."""

from __future__ import annotations

from typing import Any

import botocore.session
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError

from catalog_ingest.client._exceptions import CredentialsNotFound

SERVICE = "execute-api"
#: Request headers covered by the signature besides host, x-amz-date and x-amz-security-token.
#: Only headers httpx sends unchanged are signed, so no proxy or transport can break them.
SIGNED_HEADERS = ("content-type", "idempotency-key")
_SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


def resolve_credentials(
    credentials: Any = None,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
    profile: str | None = None,
) -> Any:
    """Explicit credentials, an explicit key pair, or else botocore's default chain.

    The chain is the AWS one: environment variables, shared config and credentials files
    (``AWS_PROFILE`` or ``profile``), assumed roles, SSO, container and instance metadata.
    """
    if credentials is not None:
        return credentials
    if access_key or secret_key:
        if not (access_key and secret_key):
            raise CredentialsNotFound("access_key and secret_key must be given together")
        return Credentials(access_key, secret_key, session_token)
    try:
        found = botocore.session.Session(profile=profile).get_credentials()
    except BotoCoreError as exc:
        raise CredentialsNotFound(f"cannot load AWS credentials: {exc}") from exc
    if found is None:
        raise CredentialsNotFound(
            "no AWS credentials found (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or a role)"
        )
    return found


class SigV4Signer:
    """Adds a SigV4 signature (service ``execute-api``) to an httpx.Request in place."""

    def __init__(self, credentials: Any, region: str, service: str = SERVICE) -> None:
        self.credentials = credentials
        self.region = region
        self.service = service

    def refresh_due(self) -> bool:
        """True when signing would first refresh the credentials (possibly network I/O)."""
        check = getattr(self.credentials, "refresh_needed", None)
        return bool(check()) if callable(check) else False

    def sign(self, request: httpx.Request) -> None:
        """Sign ``request`` over its exact body bytes.

        Credentials are frozen per call, so refreshable ones (assumed roles, SSO, instance
        profiles) are re-read and rotated keys are picked up on the next request.
        """
        frozen = self.credentials.get_frozen_credentials()
        headers = {"host": request.headers["host"]}
        for name in SIGNED_HEADERS:
            if name in request.headers:
                headers[name] = request.headers[name]
        aws = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=headers
        )
        SigV4Auth(frozen, self.service, self.region).add_auth(aws)
        for name in _SIGNATURE_HEADERS:
            request.headers.pop(name, None)
            if name in aws.headers:
                request.headers[name] = aws.headers[name]
