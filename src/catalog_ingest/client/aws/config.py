"""The Lambda handlers' configuration (environment variables) and the AWS parts it opens.

Read once per invocation (``Config.from_env``), never at import: a function whose settings
changed picks them up on its next invocation, and tests set them per test.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from catalog_ingest.client import AsyncCatalogClient, CatalogClient
from catalog_ingest.client._client import default_region
from catalog_ingest.client.aws.dynamodb import DynamoTracking
from catalog_ingest.domain.items import MAX_ITEMS_PER_UPLOAD
from catalog_ingest.errors import ConfigurationError

ENV = "CATALOG_INGEST_"
_REQUIRED = ("ENDPOINT", "TRACKING_TABLE", "RESULTS_BUCKET")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(ENV + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{ENV}{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{ENV}{name} must be positive, not {raw!r}")
    return value


@dataclass(frozen=True)
class Config:
    """What the handlers need; ``docs/aws-lambda.md`` says what each setting means."""

    endpoint: str
    tracking_table: str
    results_bucket: str
    results_prefix: str = ""
    mapping: str | None = None
    role_arn: str | None = None
    region: str = "us-east-1"
    #: The SigV4 region of the API calls (the endpoint's, which need not be the function's).
    api_region: str = "us-east-1"
    store: str | None = None
    rate: float = 10.0
    chunk_size: int = MAX_ITEMS_PER_UPLOAD
    max_attempts: int = 8
    poll_after: float = 900.0
    lease_seconds: float = 900.0
    sns_topic_arn: str | None = None
    cert_url_prefixes: tuple[str, ...] = ()
    work_dir: Path = field(default_factory=lambda: Path("/tmp/catalog-ingest"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        missing = [ENV + n for n in _REQUIRED if not env.get(ENV + n)]
        if missing:
            raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
        prefix = env.get(ENV + "RESULTS_PREFIX", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        region = default_region(None)
        endpoint = env[ENV + "ENDPOINT"].rstrip("/")
        prefixes = tuple(p.strip() for p in env.get(ENV + "SNS_CERT_URL_PREFIXES", "").split(",")
                         if p.strip()) or (endpoint + "/sns/",
                                           f"https://sns.{region}.amazonaws.com/")
        chunk_size = int(_number(env, "CHUNK_SIZE", MAX_ITEMS_PER_UPLOAD))
        if chunk_size > MAX_ITEMS_PER_UPLOAD:
            raise ConfigurationError(f"{ENV}CHUNK_SIZE must be at most {MAX_ITEMS_PER_UPLOAD}")
        return cls(
            endpoint=endpoint,
            tracking_table=env[ENV + "TRACKING_TABLE"],
            results_bucket=env[ENV + "RESULTS_BUCKET"],
            results_prefix=prefix,
            mapping=env.get(ENV + "MAPPING") or None,
            role_arn=env.get("CATALOG_API_ROLE_ARN") or None,
            region=region,
            api_region=env.get(ENV + "API_REGION") or endpoint_region(endpoint) or region,
            store=env.get(ENV + "STORE") or None,
            rate=_number(env, "REQUESTS_PER_SECOND", 10.0),
            chunk_size=chunk_size,
            max_attempts=int(_number(env, "REQUEST_ATTEMPTS", 8)),
            poll_after=_number(env, "POLL_AFTER", 900.0),
            lease_seconds=_number(env, "PUSH_LEASE_SECONDS", 900.0),
            sns_topic_arn=env.get(ENV + "SNS_TOPIC_ARN") or None,
            cert_url_prefixes=prefixes,
            work_dir=Path(env.get(ENV + "WORK_DIR") or "/tmp/catalog-ingest"),
        )


def endpoint_region(endpoint: str) -> str | None:
    """The region of an API Gateway endpoint (``<id>.execute-api.<region>.amazonaws.com``)."""
    host = urlsplit(endpoint).hostname or ""
    parts = host.split(".")
    if len(parts) >= 5 and parts[1] == "execute-api" and parts[3] == "amazonaws":
        return parts[2]
    return None


class Aws:
    """The AWS clients of one invocation (boto3 from the Lambda runtime; endpoints from the
    standard ``AWS_ENDPOINT_URL*`` variables) and the Catalog API credentials."""

    def __init__(self, config: Config) -> None:
        import boto3

        self.config = config
        self.session = boto3.session.Session(region_name=config.region)
        self.s3 = self.session.client("s3")
        self.tracking = DynamoTracking(config.tracking_table, self.session.client("dynamodb"))
        self._credentials: Any = None

    def api_credentials(self) -> Any:
        """The credentials the Catalog API calls are signed with: the assumed
        ``CATALOG_API_ROLE_ARN`` (refreshed before it expires), else the function's own."""
        if self._credentials is None:
            if self.config.role_arn:
                self._credentials = assumed_role(self.session, self.config.role_arn)
            else:
                self._credentials = self.session.get_credentials()
            if self._credentials is None:
                raise ConfigurationError("no AWS credentials for the Catalog API")
        return self._credentials

    def async_api(self) -> AsyncCatalogClient:
        # The push's calls retry by its own policy (the same attempts), recording every
        # attempt through the SDK retry's hook, as `push` does.
        return AsyncCatalogClient(self.config.endpoint, region=self.config.api_region,
                                  credentials=self.api_credentials(),
                                  rate_limit=self.config.rate,
                                  max_attempts=self.config.max_attempts)

    def api(self) -> CatalogClient:
        return CatalogClient(self.config.endpoint, region=self.config.api_region,
                             credentials=self.api_credentials(), rate_limit=self.config.rate,
                             max_attempts=self.config.max_attempts)


def assumed_role(session: Any, role_arn: str) -> Any:
    """Refreshable credentials of ``role_arn`` through STS AssumeRole (the seed's step 2)."""
    from botocore.credentials import RefreshableCredentials

    sts = session.client("sts")
    name = f"catalog-ingest-{uuid.uuid4().hex[:12]}"

    def fetch() -> dict[str, str]:
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=name, DurationSeconds=3600)
        creds = answer["Credentials"]
        expiry = creds["Expiration"]
        return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": expiry.isoformat() if isinstance(expiry, datetime)
                else str(expiry)}

    return RefreshableCredentials.create_from_metadata(metadata=fetch(), refresh_using=fetch,
                                                       method="sts-assume-role")


def lease_until(context: Any, config: Config) -> float:
    """Until when this invocation may hold a push: its own deadline (Lambda kills it then),
    with a margin; ``CATALOG_INGEST_PUSH_LEASE_SECONDS`` outside Lambda."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        return time.time() + float(remaining()) / 1000.0 + 5.0
    return time.time() + config.lease_seconds


def invocation_id(context: Any) -> str:
    return str(getattr(context, "aws_request_id", "") or uuid.uuid4())
