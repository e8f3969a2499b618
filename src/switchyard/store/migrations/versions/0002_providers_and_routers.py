"""providers and routers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO cache_epochs (name, value) VALUES ('routing', 0)")
    op.create_table(
        "routers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("model_type", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("cost_prompt_tokens", sa.Float(), nullable=False),
        sa.Column("cost_completion_tokens", sa.Float(), nullable=False),
        sa.Column("usage_extras", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("retry_on", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("wire_format", sa.String(length=32), nullable=False),
        sa.Column("base_url", sa.String(length=2000), nullable=False),
        sa.Column("paths", sa.JSON(), nullable=False),
        sa.Column("upstream_model", sa.String(length=500), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.Column("sealed_api_key", sa.Text(), nullable=True),
        sa.Column("auth", sa.JSON(), nullable=False),
        sa.Column("timeouts", sa.JSON(), nullable=False),
        sa.Column("extra_headers", sa.JSON(), nullable=False),
        sa.Column("default_options", sa.JSON(), nullable=False),
        sa.Column("api_version", sa.String(length=64), nullable=True),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("max_in_flight", sa.Integer(), nullable=True),
        sa.Column("context_length", sa.Integer(), nullable=True),
        sa.Column("vector_size", sa.Integer(), nullable=True),
        sa.Column("total_params_b", sa.Float(), nullable=True),
        sa.Column("active_params_b", sa.Float(), nullable=True),
        sa.Column("hosting_zone", sa.String(length=3), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["credentials.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_providers_credential_id"), ["credential_id"], unique=False)

    op.create_table(
        "router_providers",
        sa.Column("router_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("router_id", "provider_id"),
    )
    with op.batch_alter_table("router_providers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_router_providers_provider_id"), ["provider_id"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM cache_epochs WHERE name = 'routing'")
    with op.batch_alter_table("router_providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_router_providers_provider_id"))

    op.drop_table("router_providers")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_providers_credential_id"))

    op.drop_table("providers")
    op.drop_table("routers")
