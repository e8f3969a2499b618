"""Migrations go up, all the way down and up again on both stores, and match the table definitions."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store import migrate
from switchyard.store.tables import Base


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _diff(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_upgrade_downgrade_upgrade(settings: Settings) -> None:
    platform = Platform.build(settings)
    try:
        await migrate.upgrade(platform.engine)
        assert await migrate.current(platform.engine) == migrate.head()
        async with platform.engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
            assert await conn.run_sync(_diff) == []
        await migrate.downgrade(platform.engine, "base")
        assert await migrate.current(platform.engine) is None
        async with platform.engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await migrate.upgrade(platform.engine)
        assert await migrate.current(platform.engine) == migrate.head()
        async with platform.engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
    finally:
        await platform.engine.dispose()
