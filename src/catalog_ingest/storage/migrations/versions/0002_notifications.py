"""Completion notifications: subscriptions, outbox, delivery attempts, the signing key.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.String(36), primary_key=True),
        sa.Column("retailer_id", sa.String(64), nullable=False, index=True),
        sa.Column("protocol", sa.String(8), nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("sqs_options", sa.Text),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("confirm_token", sa.String(64), unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("confirmed_at", sa.Float),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("retailer_id", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("ingestion_id", sa.String(36)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
        sa.UniqueConstraint("message_id", "subscription_id",
                            name="uq_outbox_message_subscription"),
    )
    # The deliverers' claim query: due PENDING rows, oldest first.
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_retailer_id", "outbox", ["retailer_id", "id"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.Integer, nullable=False, index=True),
        sa.Column("retailer_id", sa.String(64), nullable=False),
        sa.Column("attempted_at", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_delivery_attempts_retailer_id", "delivery_attempts", ["retailer_id", "id"])
    op.create_table(
        "signing_keys",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("key_sealed", sa.LargeBinary, nullable=False),
        sa.Column("certificate", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for name in ("signing_keys", "delivery_attempts", "outbox", "subscriptions"):
        op.drop_table(name)
