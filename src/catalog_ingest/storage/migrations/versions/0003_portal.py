"""The portal: its users, where each upload came from (and its portal batch), key last use.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_users",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("retailer_id", sa.String(64), nullable=False, index=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_login_at", sa.Float),
    )
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("source", sa.String(8), nullable=False, server_default="api"))
        batch.add_column(sa.Column("batch_id", sa.String(36)))
    op.create_index("ix_uploads_retailer_batch", "uploads", ["retailer_id", "batch_id"])
    with op.batch_alter_table("access_keys") as batch:
        batch.add_column(sa.Column("last_used_at", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("access_keys") as batch:
        batch.drop_column("last_used_at")
    op.drop_index("ix_uploads_retailer_batch", "uploads")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("batch_id")
        batch.drop_column("source")
    op.drop_table("portal_users")
