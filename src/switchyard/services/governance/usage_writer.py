"""Usage records, written off the hot path: queued in memory, inserted in batches by one background task.

A batch is written at least every ``interval`` seconds, or as soon as ``batch_size`` records wait. The queue is
bounded: when the database cannot keep up (or is down) the records that do not fit are dropped and counted
(``dropped``), and requests go on being served. A failed batch is kept and tried again with the next one. The
same transaction adds each batch's cost to what the keys, users and organizations have spent (the figure budget
counters start from). ``close`` writes what is left, so a server stopped with SIGTERM loses nothing.

Rows are plain tuples inserted with the Core ``INSERT`` of the table, compiled once per database dialect, with
the columns' own bind processors applied (no ORM unit of work, and none of SQLAlchemy's per-row parameter
handling: ~29 µs of CPU per row on SQLite and ~15 on PostgreSQL with a Core executemany of dicts, ~20 and ~10
with this; bench/RESULTS.md, profiling step 10), made ``ROWS_PER_PASS`` between two passes of the loop, so that
a batch does not stall it (an ORM insert of 500 rows held it ~20 ms: profiling step 3).

- **PostgreSQL:** asyncpg's ``executemany``, ``STATEMENT_ROWS`` at a time, or ``POSTGRES_STATEMENT_ROWS`` while
  the writer is behind. Each statement is a round trip, and under load each round trip waits a loop pass (a few
  ms at c=64): with 50 rows a statement a batch took 73–110 ms there and the writer fell behind at ~9,000
  requests/s; with 250, ~50 ms (profiling step 14).
- **A SQLite file:** the batch's transaction — its rows inserted ``STATEMENT_ROWS`` to an
  ``INSERT … VALUES (…), (…)``, spent added, committed — in one call to the writer's own thread, on a
  synchronous engine for the same file (``store.engine.thread_engine``), the thread yielding the core after each
  statement. Through aiosqlite every statement is several hops between its thread and the loop: a batch took
  ~330 ms under load, 21–55 ms so.
- **An in-memory SQLite** (which a second engine would not see) goes through aiosqlite, multi-row statements too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import os
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from sqlalchemy import Dialect, Engine, Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchyard.domain.gateway import Provider
from switchyard.domain.governance import UsageRecord
from switchyard.services.governance.carbon import footprint
from switchyard.store.tables import ApiKeyRow, OrganizationRow, UsageRecordRow, UserRow

log = logging.getLogger(__name__)

USAGE_RECORDS: Table = UsageRecordRow.__table__  # type: ignore[assignment]
INSERT_USAGE = insert(USAGE_RECORDS)

SPENT_TABLES: dict[str, Table] = {
    "key": ApiKeyRow.__table__,  # type: ignore[dict-item]
    "user": UserRow.__table__,  # type: ignore[dict-item]
    "organization": OrganizationRow.__table__,  # type: ignore[dict-item]
}
ADD_SPENT = {
    name: update(table).where(table.c.id == bindparam("owner")).values(spent=table.c.spent + bindparam("amount"))
    for name, table in SPENT_TABLES.items()
}
"""Per owner table: adds ``amount`` to the ``spent`` of row ``owner`` (executed with one parameter set per row)."""

STATEMENT_ROWS = 50
"""Rows per ``INSERT`` on SQLite (the GIL is let go while SQLite runs each one)."""

POSTGRES_STATEMENT_ROWS = 250
"""Rows per ``executemany`` on PostgreSQL while the writer is behind (another batch waits): each statement is one
round trip, a loop pass away under load. While it keeps up, ``STATEMENT_ROWS``: the database's work comes in
short bursts (with 250 at one request at a time, p99 grew from ~1.4 to ~2.8 ms where PostgreSQL shares the
gateway's core: bench/RESULTS.md, profiling step 14)."""

ROWS_PER_PASS = 100
"""Records made into rows between two passes of the event loop (~5 µs each): a request that arrives meanwhile
waits at most that long. Made in the writer's thread instead, the rows held the GIL against the loop in longer
stretches: at one request at a time, p99 grew from ~0.9 to ~2.8 ms (bench/RESULTS.md, profiling step 14)."""


RECORD_FIELDS = tuple(f.name for f in fields(UsageRecord))
"""A record's columns: read shallowly (``dataclasses.asdict`` deep-copies every value of every row)."""

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class CompiledInsert:
    """``INSERT_USAGE`` for one dialect: its SQL, the record fields in parameter order, and the bind processors
    of the columns that have one (by position)."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[tuple[int, Processor], ...]
    statement_rows: int = STATEMENT_ROWS
    multi_row: bool = False
    """Rows go in one ``INSERT … VALUES (…), (…)`` run once, not the driver's ``executemany``: SQLite, whose
    driver runs in its own thread and takes the GIL back for every row of an ``executemany`` (see the module's
    notes)."""
    values: Callable[[UsageRecord], tuple[Any, ...]] = field(init=False, repr=False, compare=False)
    """The record's values in parameter order, read in one C call (``operator.attrgetter``)."""
    _statements: dict[int, str] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", operator.attrgetter(*self.names))

    def statement(self, rows: list[tuple[Any, ...]]) -> tuple[str, Any]:
        """SQL and parameters inserting ``rows``: one multi-row statement, or the rows for the driver's
        ``executemany``."""
        if self.multi_row:
            return self.for_rows(len(rows)), tuple(chain.from_iterable(rows))
        return self.sql, rows

    def for_rows(self, count: int) -> str:
        """The statement inserting ``count`` rows at once (``multi_row``), its parameters the rows' in turn."""
        statement = self._statements.get(count)
        if statement is None:
            head, values = self.sql.split(" VALUES ")
            statement = self._statements[count] = f"{head} VALUES {', '.join([values] * count)}"
        return statement

    def row(self, record: UsageRecord) -> tuple[Any, ...]:
        if not self.processors:
            return self.values(record)
        values = list(self.values(record))
        for index, process in self.processors:
            values[index] = process(values[index])
        return tuple(values)


def sqlite_utc_text(value: datetime | None) -> str | None:
    """What ``UTCDateTime`` and then SQLite's ``DATETIME`` make of a timestamp (naive UTC, as text), in one C call
    rather than two layers of Python: ~3 µs less per row (tests/services/governance/test_usage_writer.py checks
    that both give the same text)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


FAST_PROCESSORS: dict[tuple[str, str], Processor] = {("sqlite", "created_at"): sqlite_utc_text}
"""(dialect, column) → a bind processor used instead of the column type's own."""

_COMPILED: dict[str, CompiledInsert] = {}


def compiled_insert(dialect: Dialect) -> CompiledInsert:
    key = f"{dialect.name}+{dialect.driver}"
    compiled = _COMPILED.get(key)
    if compiled is None:
        statement = INSERT_USAGE.compile(dialect=dialect, column_keys=list(RECORD_FIELDS))
        names = tuple(statement.positiontup or ())
        if sorted(names) != sorted(RECORD_FIELDS):  # a dialect with named parameters: not expected here
            raise RuntimeError(f"cannot prepare the usage insert for {key}")
        processors = []
        for index, name in enumerate(names):
            process = FAST_PROCESSORS.get((dialect.name, name)) or USAGE_RECORDS.c[name].type.dialect_impl(
                dialect
            ).bind_processor(dialect)
            if process is not None:
                processors.append((index, process))
        compiled = _COMPILED[key] = CompiledInsert(
            statement.string,
            names,
            tuple(processors),
            statement_rows=POSTGRES_STATEMENT_ROWS if dialect.name == "postgresql" else STATEMENT_ROWS,
            multi_row=dialect.name == "sqlite",
        )
    return compiled


@dataclass(slots=True)  # made per request: not frozen, whose init costs ~3× more
class PendingUsage:
    record: UsageRecord
    provider: Provider | None = None
    """When set and the record has no carbon figures yet, they are computed at write time."""


class UsageWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval: float = 1.0,
        batch_size: int = 500,
        max_queue: int = 100_000,
        thread_engine: Engine | None = None,
    ) -> None:
        self._sessions = sessions
        self._thread_engine = thread_engine
        """When set (a SQLite file), each batch is written in one call to the writer's own thread, on this engine."""
        self._thread: ThreadPoolExecutor | None = None
        self._interval = interval
        self._batch_size = batch_size
        self._max_queue = max_queue
        self._queue: list[PendingUsage] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.written = 0
        self.dropped = 0
        self.failed_flushes = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def submit(self, pending: PendingUsage) -> None:
        if len(self._queue) >= self._max_queue:
            self.dropped += 1
            return
        self._queue.append(pending)
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="switchyard-usage-writer")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            full = self._wake.is_set()
            self._wake.clear()
            # Woken by a full batch: whole batches only. On the interval: what waits now, not what arrives while
            # it is written — a steady trickle must not become a transaction every few records (on PostgreSQL at
            # one request at a time that cost ~150 µs per request: bench/RESULTS.md, profiling step 12).
            await (self._flush(self._batch_size, None) if full else self._flush(1, len(self._queue)))

    async def flush(self) -> None:
        """Writes every queued record, those that arrive meanwhile included."""
        await self._flush(1, None)

    async def _flush(self, least: int, most: int | None) -> None:
        """Writes batches while at least ``least`` records wait, and at most ``most`` records (None: no bound)."""
        async with self._lock:
            while len(self._queue) >= least and (most is None or most > 0):
                size = self._batch_size if most is None else min(self._batch_size, most)
                batch, self._queue = self._queue[:size], self._queue[size:]
                if most is not None:
                    most -= len(batch)
                try:
                    await self._write(batch)
                except Exception:
                    self.failed_flushes += 1
                    log.warning("could not write %d usage records; kept for the next try", len(batch), exc_info=True)
                    self._requeue(batch)
                    return
                except _WrittenThenCancelled:
                    self.written += len(batch)
                    raise
                except asyncio.CancelledError:  # its transaction is not committed: the batch waits for the next one
                    self._requeue(batch)
                    raise
                self.written += len(batch)

    def _requeue(self, batch: list[PendingUsage]) -> None:
        keep = max(0, self._max_queue - len(self._queue))
        self.dropped += max(0, len(batch) - keep)
        self._queue[:0] = batch[:keep]

    async def _write(self, batch: list[PendingUsage]) -> None:
        spent: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        if self._thread_engine is not None:
            insert_usage = compiled_insert(self._thread_engine.dialect)
            rows = await _rows(insert_usage, batch, spent)
            await self._write_in_thread(self._thread_engine, insert_usage, rows, spent)
            return
        async with self._sessions.begin() as session:
            connection = await session.connection()
            insert_usage = compiled_insert(connection.dialect)
            rows = await _rows(insert_usage, batch, spent)
            # Behind (another batch waits): fewer, longer statements; keeping up: short bursts of the database's work
            step = insert_usage.statement_rows if len(self._queue) >= self._batch_size else STATEMENT_ROWS
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                await connection.exec_driver_sql(*insert_usage.statement(chunk))
            for table, amounts in spent.items():
                await connection.execute(ADD_SPENT[table], [{"owner": o, "amount": a} for o, a in amounts.items()])

    async def _write_in_thread(
        self,
        engine: Engine,
        insert_usage: CompiledInsert,
        rows: list[tuple[Any, ...]],
        spent: dict[str, dict[int, float]],
    ) -> None:
        """The batch's transaction in one call to the writer's thread. Cancelled meanwhile, it waits for that
        transaction's end: a batch that was committed must not be queued again."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="switchyard-usage")
        done = asyncio.get_running_loop().run_in_executor(
            self._thread, _insert_batch, engine, insert_usage, rows, spent
        )
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            await asyncio.wait([done])
            if done.exception() is None:
                raise _WrittenThenCancelled from None
            raise

    async def close(self) -> None:
        if self._task is not None:
            # Never interrupt a batch halfway: its connection would keep the database's write lock for a while,
            # and the last flush below would wait for it and fail (SQLite: "database is locked" after its
            # busy timeout, every record still queued lost).
            async with self._lock:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._queue:
            self.dropped += len(self._queue)
            log.error("%d usage records could not be written before shutdown", len(self._queue))
            self._queue.clear()
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None
        if self._thread_engine is not None:
            self._thread_engine.dispose()


class _WrittenThenCancelled(asyncio.CancelledError):
    """The writer was cancelled while its thread committed the batch: it is written, not to be queued again."""


async def _rows(
    insert_usage: CompiledInsert, batch: list[PendingUsage], spent: dict[str, dict[int, float]]
) -> list[tuple[Any, ...]]:
    """The batch's rows, made ``ROWS_PER_PASS`` at a time with a pass of the loop between (see ``ROWS_PER_PASS``);
    adds each record's cost to ``spent``."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(batch), ROWS_PER_PASS):
        if start:
            await asyncio.sleep(0)
        rows += [insert_usage.row(_record(pending, spent)) for pending in batch[start : start + ROWS_PER_PASS]]
    return rows


def _insert_batch(
    engine: Engine, insert_usage: CompiledInsert, rows: list[tuple[Any, ...]], spent: dict[str, dict[int, float]]
) -> None:
    """One batch's transaction, run in the writer's thread: its rows ``STATEMENT_ROWS`` to a statement (the GIL is
    let go while SQLite works on each), then what the keys, users and organizations spent."""
    with engine.begin() as connection:
        for start in range(0, len(rows), insert_usage.statement_rows):
            chunk = rows[start : start + insert_usage.statement_rows]
            connection.exec_driver_sql(*insert_usage.statement(chunk))
            os.sched_yield()  # the loop's thread first, if it has work: SQLite's in short bursts on a shared core
        for table, amounts in spent.items():
            connection.execute(ADD_SPENT[table], [{"owner": o, "amount": a} for o, a in amounts.items()])


def _record(pending: PendingUsage, spent: dict[str, dict[int, float]]) -> UsageRecord:
    """The record, with its carbon figures computed when it has none yet; adds its cost to ``spent``."""
    record = pending.record
    if pending.provider is not None and record.kwh is None:
        impact = footprint(pending.provider, record.completion_tokens, record.latency_ms / 1000)
        if impact is not None:
            record = replace(record, kwh=impact.kwh, kgco2eq=impact.kgco2eq)
    if record.cost:
        for table, owner in (
            ("key", record.key_id),
            ("user", record.user_id),
            ("organization", record.organization_id),
        ):
            if owner is not None:
                spent[table][owner] += record.cost
    return record
