"""SigV4 signing of test requests with botocore itself (the reference signer)."""

from __future__ import annotations

from collections.abc import Generator

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign_headers(method: str, url: str, body: bytes, headers: dict[str, str], key: str,
                 secret: str, region: str = "us-east-1") -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(Credentials(key, secret), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


class BotocoreAuth(httpx.Auth):
    """httpx auth that signs each request with botocore's SigV4Auth."""

    requires_request_body = True

    def __init__(self, key: str, secret: str, region: str = "us-east-1") -> None:
        self.key, self.secret, self.region = key, secret, region

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        keep = {k: v for k, v in request.headers.items()
                if k.lower() in ("content-type", "idempotency-key")}
        signed = sign_headers(request.method, str(request.url), request.content, keep,
                              self.key, self.secret, self.region)
        for name, value in signed.items():
            request.headers[name] = value
        yield request
