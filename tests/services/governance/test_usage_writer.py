"""The usage writer on SQLite and PostgreSQL: Core inserts in short statements, one transaction per batch with
the owners' ``spent``, written on the interval or the batch size, a bounded queue, nothing lost at shutdown. On a
SQLite file each batch is written in one call to the writer's own thread (as the platform builds it); through
aiosqlite otherwise."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from switchyard.domain.governance import UsageRecord
from switchyard.services.governance.usage_writer import (
    POSTGRES_STATEMENT_ROWS,
    STATEMENT_ROWS,
    PendingUsage,
    UsageWriter,
    compiled_insert,
    sqlite_utc_text,
)
from switchyard.services.platform import Platform
from switchyard.store.engine import thread_engine
from switchyard.store.tables import ApiKeyRow, UsageRecordRow, UserRow
from tests.services.test_usage_records import record


async def admin_ids(platform: Platform) -> tuple[int, int]:
    async with platform.sessions() as session:
        key = (await session.execute(select(ApiKeyRow.id, ApiKeyRow.user_id))).one()
    return key.user_id, key.id


async def spent(platform: Platform, user_id: int, key_id: int) -> tuple[float, float]:
    async with platform.sessions() as session:
        user = await session.scalar(select(UserRow.spent).where(UserRow.id == user_id))
        key = await session.scalar(select(ApiKeyRow.spent).where(ApiKeyRow.id == key_id))
    return float(user or 0), float(key or 0)


async def stored(platform: Platform) -> list[UsageRecord]:
    async with platform.sessions() as session:
        rows = (await session.scalars(select(UsageRecordRow).order_by(UsageRecordRow.id))).all()
    fields = UsageRecord.__dataclass_fields__
    return [UsageRecord(**{name: getattr(row, name) for name in fields}) for row in rows]


def new_writer(platform: Platform, **options: Any) -> UsageWriter:
    """A writer as the platform makes one: on a SQLite file, with its own thread's engine."""
    return UsageWriter(platform.sessions, thread_engine=thread_engine(platform.engine), **options)


class Statements:
    """The SQL the engine sends, and whether any ORM statement was executed through a session."""

    def __init__(self) -> None:
        self.inserts: list[int] = []
        """Rows per ``INSERT INTO usage_records`` sent to the driver."""
        self.orm_executions = 0


@pytest.fixture
def statements(platform: Platform) -> Iterator[Statements]:
    seen = Statements()

    def cursor(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO USAGE_RECORDS"):
            rows = len(parameters) if many else 1
            if not many and "), (" in statement:  # several rows in one INSERT … VALUES (…), (…)
                rows = statement.count("), (") + 1
            seen.inserts.append(rows)

    def orm(_state: Any) -> None:
        seen.orm_executions += 1

    event.listen(Engine, "before_cursor_execute", cursor)  # every engine: the writer's thread has its own
    event.listen(Session, "do_orm_execute", orm)
    yield seen
    event.remove(Engine, "before_cursor_execute", cursor)
    event.remove(Session, "do_orm_execute", orm)


async def test_a_batch_is_inserted_with_core_in_short_statements_and_adds_to_spent(
    platform: Platform, statements: Statements
) -> None:
    user_id, key_id = await admin_ids(platform)
    before = await spent(platform, user_id, key_id)
    records = [record(request_id=f"r{i}", user_id=user_id, key_id=key_id, cost=0.5, provider=None) for i in range(120)]
    writer = new_writer(platform, interval=60, batch_size=500)
    for entry in records:
        writer.submit(PendingUsage(entry))
    assert writer.queued == 120
    statements.orm_executions = 0

    await writer.flush()

    assert (writer.written, writer.queued, writer.dropped, writer.failed_flushes) == (120, 0, 0, 0)
    assert statements.orm_executions == 0  # no ORM unit of work: a Core INSERT on the session's connection
    assert sum(statements.inserts) == 120, statements.inserts
    assert max(statements.inserts) <= STATEMENT_ROWS < 120
    assert await stored(platform) == records
    user_spent, key_spent = await spent(platform, user_id, key_id)
    assert (user_spent - before[0], key_spent - before[1]) == pytest.approx((60.0, 60.0))


async def test_records_are_written_when_the_batch_is_full_or_the_interval_passed(platform: Platform) -> None:
    by_size = new_writer(platform, interval=60, batch_size=3)
    by_size.start()
    try:
        for i in range(3):
            by_size.submit(PendingUsage(record(request_id=f"size-{i}")))
        for _ in range(100):
            if by_size.written == 3:
                break
            await asyncio.sleep(0.02)
        assert by_size.written == 3  # long before the 60 s interval
    finally:
        await by_size.close()

    by_time = new_writer(platform, interval=0.1, batch_size=500)
    by_time.start()
    try:
        by_time.submit(PendingUsage(record(request_id="time-0")))
        for _ in range(100):
            if by_time.written == 1:
                break
            await asyncio.sleep(0.02)
        assert by_time.written == 1
    finally:
        await by_time.close()
    assert [r.request_id for r in await stored(platform)] == ["size-0", "size-1", "size-2", "time-0"]


async def test_records_that_arrive_during_a_write_wait_for_a_full_batch_or_the_interval(platform: Platform) -> None:
    writer = new_writer(platform, interval=60, batch_size=10)
    sizes: list[int] = []
    write = writer._write

    async def writing(batch: list[PendingUsage]) -> None:
        sizes.append(len(batch))
        if len(sizes) == 1:  # three requests finish while the first batch is written
            for i in range(3):
                writer.submit(PendingUsage(record(request_id=f"late-{i}")))
        await write(batch)

    writer._write = writing  # type: ignore[method-assign]
    writer.start()
    try:
        for i in range(10):
            writer.submit(PendingUsage(record(request_id=f"r{i}")))
        for _ in range(100):
            if writer.written == 10:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert (sizes, writer.written, writer.queued) == ([10], 10, 3)  # not a second transaction for three rows
    finally:
        await writer.close()
    assert (sizes, writer.written, writer.queued) == ([10, 3], 13, 0)


async def test_a_full_queue_drops_and_counts_and_close_writes_the_rest(platform: Platform) -> None:
    writer = new_writer(platform, interval=60, batch_size=500, max_queue=100)
    writer.start()
    for i in range(105):
        writer.submit(PendingUsage(record(request_id=f"q{i}")))
    assert (writer.queued, writer.dropped) == (100, 5)

    await writer.close()

    assert (writer.written, writer.queued, writer.dropped) == (100, 0, 5)
    assert [r.request_id for r in await stored(platform)] == [f"q{i}" for i in range(100)]


async def test_a_failed_batch_is_kept_for_the_next_try(platform: Platform) -> None:
    writer = new_writer(platform, interval=60, batch_size=500)
    writer.submit(PendingUsage(record(request_id="ok")))
    writer.submit(PendingUsage(record(request_id="broken", status=None)))  # NOT NULL: the batch's insert fails

    await writer.flush()

    assert (writer.written, writer.queued, writer.failed_flushes) == (0, 2, 1)
    assert await stored(platform) == []


async def test_closing_while_a_batch_is_written_loses_nothing(platform: Platform, statements: Statements) -> None:
    writer = new_writer(platform, interval=60, batch_size=500)
    writer.start()
    for i in range(1500):
        writer.submit(PendingUsage(record(request_id=f"c{i}")))  # a full batch: the writer wakes up
    for _ in range(500):
        if statements.inserts:  # it is inside a batch's transaction now
            break
        await asyncio.sleep(0.001)
    assert statements.inserts

    began = time.monotonic()
    await writer.close()

    assert time.monotonic() - began < 5  # not stuck behind a lock the interrupted batch kept
    assert (writer.written, writer.dropped, writer.queued) == (1500, 0, 0)
    assert len(await stored(platform)) == 1500


async def test_a_writer_that_is_behind_writes_longer_statements_on_postgresql(
    platform: Platform, statements: Statements
) -> None:
    writer = new_writer(platform, interval=60, batch_size=300)
    for i in range(700):
        writer.submit(PendingUsage(record(request_id=f"b{i}")))
    await writer.flush()
    assert writer.written == 700
    if platform.settings.is_sqlite:  # each batch in its own thread: always short statements
        assert statements.inserts == [STATEMENT_ROWS] * 14
    else:  # the first batch with 400 records still waiting, the second with 100, the last with none
        assert statements.inserts == [POSTGRES_STATEMENT_ROWS, 50, 50, 50, 50, 50, 50, 50, 50, 50]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_on_a_sqlite_file_a_batch_is_one_transaction_in_the_writer_s_own_thread(platform: Platform) -> None:
    threads: list[tuple[str, str]] = []

    def cursor(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        threads.append((threading.current_thread().name.split("_")[0], statement.split()[0]))

    writer = new_writer(platform, interval=60, batch_size=500)
    for i in range(120):
        writer.submit(PendingUsage(record(request_id=f"t{i}", cost=0.5, key_id=(await admin_ids(platform))[1])))
    event.listen(Engine, "before_cursor_execute", cursor)
    try:
        await writer.flush()
    finally:
        event.remove(Engine, "before_cursor_execute", cursor)
        await writer.close()
    # three multi-row inserts, then what the owners spent, all in the one thread; nothing through aiosqlite's
    assert threads[:3] == [("switchyard-usage", "INSERT")] * 3
    assert {name for name, _ in threads} == {"switchyard-usage"} and len(threads) > 3, threads
    assert len(await stored(platform)) == 120


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_without_its_own_thread_a_sqlite_batch_goes_through_aiosqlite(
    platform: Platform, statements: Statements
) -> None:
    writer = UsageWriter(platform.sessions, interval=60, batch_size=500)  # e.g. an in-memory database
    records = [record(request_id=f"a{i}") for i in range(120)]
    for entry in records:
        writer.submit(PendingUsage(entry))
    await writer.flush()
    assert statements.inserts == [STATEMENT_ROWS, STATEMENT_ROWS, 120 - 2 * STATEMENT_ROWS]
    assert await stored(platform) == records


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_batch_its_thread_commits_while_the_writer_is_cancelled_is_not_written_twice(
    platform: Platform,
) -> None:
    entered = threading.Event()

    def slow(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO usage_records") and not entered.is_set():
            entered.set()
            time.sleep(0.3)  # the thread is inside the transaction when the task is cancelled

    writer = new_writer(platform, interval=60, batch_size=100)
    event.listen(Engine, "before_cursor_execute", slow)
    try:
        writer.start()
        for i in range(150):
            writer.submit(PendingUsage(record(request_id=f"x{i}")))
        while not entered.is_set():
            await asyncio.sleep(0.01)
        assert writer._task is not None
        writer._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer._task
        writer._task = None
        assert (writer.written, writer.queued) == (100, 50)  # committed: counted, not queued again
    finally:
        event.remove(Engine, "before_cursor_execute", slow)
    await writer.close()
    assert [r.request_id for r in await stored(platform)] == [f"x{i}" for i in range(150)]


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 21, 8, 30, 52, 123456, tzinfo=UTC),
        datetime(2026, 11, 21, 9, 30, 52, tzinfo=timezone(timedelta(hours=1))),  # no microseconds, not UTC
        datetime(999, 1, 2, 3, 4, 5, 6),  # naive: taken as UTC; a year below 1000
        None,
    ],
)
def test_the_fast_sqlite_timestamp_is_the_text_sqlalchemy_writes(value: datetime | None) -> None:
    dialect = sqlite.dialect()
    column = UsageRecordRow.__table__.c.created_at  # type: ignore[attr-defined]
    assert sqlite_utc_text(value) == column.type.dialect_impl(dialect).bind_processor(dialect)(value)


def test_a_row_holds_the_record_values_in_the_statement_order() -> None:
    compiled = compiled_insert(sqlite.dialect())
    entry = record(request_id="r1", cost=0.25, ttft_ms=None)
    row = compiled.row(entry)
    values = dict(zip(compiled.names, row, strict=True))
    assert values["request_id"] == "r1" and values["cost"] == 0.25 and values["ttft_ms"] is None
    assert values["created_at"] == sqlite_utc_text(entry.created_at)
