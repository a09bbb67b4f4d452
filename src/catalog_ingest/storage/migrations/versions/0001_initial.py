"""Initial schema: retailers, stores, keys, tokens, uploads, items, barcodes, rejections, workers.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retailers",
        sa.Column("retailer_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "stores",
        sa.Column("store_id", sa.String(255), primary_key=True),
        sa.Column("retailer_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("merchant_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("catalog_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(64), primary_key=True),
        sa.Column("retailer_id", sa.String(64), nullable=False, index=True),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "mmc_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("developer_token_hash", sa.String(64), nullable=False),
        sa.Column("retailer_id", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "uploads",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ingestion_id", sa.String(36), nullable=False, unique=True),
        sa.Column("retailer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("store_ids", sa.Text, nullable=False),
        sa.Column("payload_key", sa.String(255), nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("completed_at", sa.Float),
        sa.Column("claimed_by", sa.String(255)),
        sa.Column("lease_expires_at", sa.Float),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("report_key", sa.String(255)),
        sa.UniqueConstraint("retailer_id", "idempotency_key", name="uq_uploads_idempotency"),
    )
    op.create_index("ix_uploads_status_seq", "uploads", ["status", "seq"])
    op.create_index("ix_uploads_retailer_seq", "uploads", ["retailer_id", "seq"])
    # claim_next asks "does this retailer have an earlier unfinished upload?" on every claim.
    op.create_index("ix_uploads_retailer_status_seq", "uploads", ["retailer_id", "status", "seq"])
    op.create_table(
        "items",
        sa.Column("store_id", sa.String(255), primary_key=True),
        sa.Column("item_sku", sa.String(255), primary_key=True),
        sa.Column("external_product_id", sa.String(255), nullable=False),
        sa.Column("external_product_id_type", sa.String(255)),
        sa.Column("item_name", sa.String(255), nullable=False),
        sa.Column("standard_price", sa.String(10)),
        sa.Column("brand_name", sa.String(255)),
        sa.Column("product_tax_code", sa.String(255)),
        sa.Column("product_category", sa.String(50)),
        sa.Column("product_subcategory", sa.String(50)),
        sa.Column("additional_ids", sa.Text),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("ingestion_id", sa.String(36), nullable=False),
    )
    # publishedCount of the Merchant-Center status: COUNT over a store's live items.
    op.create_index("ix_items_store_active", "items", ["store_id", "active"])
    op.create_table(
        "barcodes",
        sa.Column("store_id", sa.String(255), primary_key=True),
        sa.Column("barcode", sa.String(255), primary_key=True),
        sa.Column("item_sku", sa.String(255), nullable=False),
    )
    op.create_table(
        "rejections",
        sa.Column("store_id", sa.String(255), primary_key=True),
        sa.Column("item_sku", sa.String(255), primary_key=True),
        sa.Column("ingestion_id", sa.String(36), nullable=False),
        sa.Column("rejected_at", sa.Float, nullable=False),
        sa.Column("issues", sa.Text, nullable=False),
        sa.Column("item_name", sa.String(255)),
        sa.Column("product_category", sa.String(255)),
        sa.Column("standard_price", sa.String(255)),
    )
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(255), primary_key=True),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for name in ("workers", "rejections", "barcodes", "items", "uploads", "mmc_tokens",
                 "access_keys", "stores", "retailers"):
        op.drop_table(name)
