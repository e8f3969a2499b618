"""The database engine and session factory, the same for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def thread_engine(engine: AsyncEngine) -> Engine | None:
    """For a SQLite file: a synchronous engine on the same file (the stdlib driver, the same pragmas), for work done
    whole in one worker thread. None for other databases and for an in-memory SQLite, which another connection
    would not see.

    Through aiosqlite every statement is several hops between its thread and the event loop, each one loop pass
    away; under load a loop pass is a few milliseconds, so a batch of usage records took ~330 ms to write and the
    writer fell behind at ~1,500 records/s (bench/RESULTS.md, profiling step 14). In one thread call it is one hop.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    sync = create_sync_engine(url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0)
    event.listen(sync, "connect", _sqlite_pragmas)
    return sync


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
