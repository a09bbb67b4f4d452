"""Portal: file batches and their uploads; catalog indexes for browsing and name search.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_batches",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("retailer_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("sheet", sa.String(255)),
        sa.Column("mapping", sa.Text),
        sa.Column("source_key", sa.String(255), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_portal_batches_retailer_created", "portal_batches",
                    ["retailer_id", "created_at"])
    op.create_table(
        "portal_batch_uploads",
        sa.Column("ingestion_id", sa.String(36), primary_key=True),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("lines_key", sa.String(255), nullable=False),
    )
    op.create_index("ix_portal_batch_uploads_batch_id", "portal_batch_uploads", ["batch_id"])
    op.create_index("ix_items_store_active_sku", "items", ["store_id", "active", "item_sku"])
    op.drop_index("ix_items_store_active", "items")
    op.create_index("ix_items_store_name", "items", ["store_id", sa.text("lower(item_name)")])


def downgrade() -> None:
    op.drop_index("ix_items_store_name", "items")
    op.create_index("ix_items_store_active", "items", ["store_id", "active"])
    op.drop_index("ix_items_store_active_sku", "items")
    op.drop_index("ix_portal_batch_uploads_batch_id", "portal_batch_uploads")
    op.drop_table("portal_batch_uploads")
    op.drop_index("ix_portal_batches_retailer_created", "portal_batches")
    op.drop_table("portal_batches")
