"""Alembic environment: runs on the connection ``store.migrate`` hands over (async engines, both backends)."""

from __future__ import annotations

from alembic import context

from switchyard.store.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `switchyard db` and the server drive migrations
    raise RuntimeError("Run migrations through `switchyard db upgrade`, not the alembic command.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
