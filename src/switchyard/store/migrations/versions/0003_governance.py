"""governance: limits and budgets on users and keys, router rules, usage records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("spent", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("spent", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("budget", sa.Float(), nullable=True))
        batch.add_column(sa.Column("spent", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("providers") as batch:
        batch.add_column(sa.Column("datacenter_pue", sa.Float(), nullable=False, server_default="1.2"))
        batch.add_column(sa.Column("datacenter_wue", sa.Float(), nullable=False, server_default="0.5"))
    with op.batch_alter_table("routers") as batch:
        batch.add_column(sa.Column("rate_limit_rule", sa.Text(), nullable=True))
        batch.add_column(sa.Column("max_queue_wait_seconds", sa.Float(), nullable=False, server_default="10"))
    op.create_table(
        "usage_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("router", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=True),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("kwh", sa.Float(), nullable=True),
        sa.Column("kgco2eq", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_usage_records_created_at", "usage_records", ["created_at"])
    op.create_index("ix_usage_records_user_created", "usage_records", ["user_id", "created_at"])
    op.create_index("ix_usage_records_key_created", "usage_records", ["key_id", "created_at"])
    op.create_index("ix_usage_records_organization_created", "usage_records", ["organization_id", "created_at"])
    op.create_index("ix_usage_records_router_created", "usage_records", ["router", "created_at"])


def downgrade() -> None:
    op.drop_table("usage_records")
    with op.batch_alter_table("routers") as batch:
        batch.drop_column("max_queue_wait_seconds")
        batch.drop_column("rate_limit_rule")
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("datacenter_wue")
        batch.drop_column("datacenter_pue")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("spent")
        batch.drop_column("budget")
        batch.drop_column("limits")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("spent")
        batch.drop_column("limits")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("spent")
