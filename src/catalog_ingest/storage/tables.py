"""The database schema as SQLAlchemy Core tables; migrations create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

metadata = MetaData()

# Times are seconds since the epoch (double precision): one representation on both databases.

retailers = Table(
    "retailers",
    metadata,
    Column("retailer_id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
)

stores = Table(
    "stores",
    metadata,
    Column("store_id", String(255), primary_key=True),
    Column("retailer_id", String(64), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("merchant_id", BigInteger, nullable=False, unique=True),
    Column("catalog_id", BigInteger, nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(64), primary_key=True),
    Column("retailer_id", String(64), nullable=False, index=True),
    # Encrypted with the server secret: SigV4 needs the secret itself, so it cannot be hashed.
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    # Written at most once a minute per key (engine/key_usage.py), for the portal's health page.
    Column("last_used_at", Float),
)

mmc_tokens = Table(
    "mmc_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("developer_token_hash", String(64), nullable=False),
    Column("retailer_id", String(64), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
)

uploads = Table(
    "uploads",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ingestion_id", String(36), nullable=False, unique=True),
    Column("retailer_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("store_ids", Text, nullable=False),  # JSON array
    Column("payload_key", String(255), nullable=False),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64), nullable=False),
    Column("submitted_at", Float, nullable=False),
    Column("started_at", Float),
    Column("completed_at", Float),
    Column("claimed_by", String(255)),
    Column("lease_expires_at", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("summary", Text),  # JSON
    Column("error", Text),  # JSON
    Column("report_key", String(255)),
    # Where the upload came from: api | push (the toolkit's User-Agent) | portal.
    Column("source", String(8), nullable=False, server_default="api"),
    # The portal submits a file as one batch of uploads of at most 10,000 items.
    Column("batch_id", String(36)),
    UniqueConstraint("retailer_id", "idempotency_key", name="uq_uploads_idempotency"),
    Index("ix_uploads_status_seq", "status", "seq"),
    Index("ix_uploads_retailer_seq", "retailer_id", "seq"),
    Index("ix_uploads_retailer_status_seq", "retailer_id", "status", "seq"),
    Index("ix_uploads_retailer_batch", "retailer_id", "batch_id"),
)

items = Table(
    "items",
    metadata,
    Column("store_id", String(255), primary_key=True),
    Column("item_sku", String(255), primary_key=True),
    Column("external_product_id", String(255), nullable=False),
    Column("external_product_id_type", String(255)),
    Column("item_name", String(255), nullable=False),
    Column("standard_price", String(10)),
    Column("brand_name", String(255)),
    Column("product_tax_code", String(255)),
    Column("product_category", String(50)),
    Column("product_subcategory", String(50)),
    Column("additional_ids", Text),  # JSON array of [id, type] pairs, NULL when none
    Column("active", Boolean, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("ingestion_id", String(36), nullable=False),
    # (store_id, active) serves the published counts; item_sku keeps filtered pages in order.
    Index("ix_items_store_active_sku", "store_id", "active", "item_sku"),
)
# The portal's name search: a prefix range over the ASCII-lower-cased name, per store.
Index("ix_items_store_name", items.c.store_id, func.lower(items.c.item_name))

# Which live SKU holds each barcode of a store: the primary key is the uniqueness rule.
barcodes = Table(
    "barcodes",
    metadata,
    Column("store_id", String(255), primary_key=True),
    Column("barcode", String(255), primary_key=True),
    Column("item_sku", String(255), nullable=False),
)

# The most recent rejected submission of a SKU, kept until a later submission is accepted.
rejections = Table(
    "rejections",
    metadata,
    Column("store_id", String(255), primary_key=True),
    Column("item_sku", String(255), primary_key=True),
    Column("ingestion_id", String(36), nullable=False),
    Column("rejected_at", Float, nullable=False),
    Column("issues", Text, nullable=False),  # JSON array of report issues
    Column("item_name", String(255)),
    Column("product_category", String(255)),
    Column("standard_price", String(255)),
)

workers = Table(
    "workers",
    metadata,
    Column("worker_id", String(255), primary_key=True),
    Column("heartbeat_at", Float, nullable=False),
)

# --- Completion notifications (notify/): subscriptions, the outbox, delivery attempts. ---

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", String(36), primary_key=True),
    Column("retailer_id", String(64), nullable=False, index=True),
    Column("protocol", String(8), nullable=False),  # http | https | sqs
    Column("endpoint", Text, nullable=False),  # the URL, or the SQS queue URL
    Column("sqs_options", Text),  # JSON: endpoint_url, region, access_key_id, secret (sealed)
    Column("status", String(24), nullable=False),  # PENDING_CONFIRMATION | CONFIRMED | DELETED
    Column("confirm_token", String(64), unique=True),
    Column("created_at", Float, nullable=False),
    Column("confirmed_at", Float),
)

# One row per (message, subscription): what to deliver, written in the transaction that ends
# the upload (or creates the subscription). `next_attempt_at` doubles as the claim lease.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),  # the SNS Type
    Column("retailer_id", String(64), nullable=False),
    Column("subscription_id", String(36), nullable=False),
    Column("ingestion_id", String(36)),
    Column("payload", Text, nullable=False),  # JSON: what the document is built from
    Column("status", String(16), nullable=False),  # PENDING | DELIVERED | GAVE_UP | DROPPED
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
    UniqueConstraint("message_id", "subscription_id", name="uq_outbox_message_subscription"),
    Index("ix_outbox_status_next", "status", "next_attempt_at"),
    Index("ix_outbox_retailer_id", "retailer_id", "id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, nullable=False, index=True),
    Column("retailer_id", String(64), nullable=False),
    Column("attempted_at", Float, nullable=False),
    Column("outcome", String(16), nullable=False),  # DELIVERED | FAILED | GAVE_UP | DROPPED
    Column("detail", Text, nullable=False),
    Index("ix_delivery_attempts_retailer_id", "retailer_id", "id"),
)

# The notification signing key, shared by every process of a deployment through the database
# (sealed under the server secret, like API key secrets).
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("key_sealed", LargeBinary, nullable=False),
    Column("certificate", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)


# --- The portal (portal/): its users. ---

portal_users = Table(
    "portal_users",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("retailer_id", String(64), nullable=False, index=True),
    # Stored lower-cased: one e-mail address is one account, of one retailer.
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("role", String(16), nullable=False),  # admin | editor | viewer
    Column("created_at", Float, nullable=False),
    Column("last_login_at", Float),
)

# --- The portal: file uploads submitted as one batch of uploads (engine/batch_submit.py). ---

portal_batches = Table(
    "portal_batches",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("retailer_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("format", String(8), nullable=False),  # csv | json | jsonl | xlsx
    Column("sheet", String(255)),
    Column("mapping", Text),  # the TOML mapping text, NULL when none
    Column("source_key", String(255), nullable=False),  # the file as uploaded, in the blobs
    Column("row_count", Integer, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_portal_batches_retailer_created", "retailer_id", "created_at"),
)

# One row per upload of a batch; `lines_key` names the blob mapping its items to file lines.
portal_batch_uploads = Table(
    "portal_batch_uploads",
    metadata,
    Column("ingestion_id", String(36), primary_key=True),
    Column("batch_id", String(36), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("lines_key", String(255), nullable=False),
)
