"""Usage records, written off the hot path: queued in memory, inserted in batches by one background task.

A batch is written at least every ``interval`` seconds, or as soon as ``batch_size`` records wait. The queue is
bounded: when the database cannot keep up (or is down) the records that do not fit are dropped and counted
(``dropped``), and requests go on being served. A failed batch is kept and tried again with the next one. The
same transaction adds each batch's cost to what the keys, users and organizations have spent (the figure budget
counters start from). ``close`` writes what is left, so a server stopped with SIGTERM loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, fields, replace

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchyard.domain.gateway import Provider
from switchyard.domain.governance import UsageRecord
from switchyard.services.governance.carbon import footprint
from switchyard.store.tables import ApiKeyRow, OrganizationRow, UsageRecordRow, UserRow

log = logging.getLogger(__name__)

SPENT_TABLES: dict[str, Table] = {
    "key": ApiKeyRow.__table__,  # type: ignore[dict-item]
    "user": UserRow.__table__,  # type: ignore[dict-item]
    "organization": OrganizationRow.__table__,  # type: ignore[dict-item]
}


RECORD_FIELDS = tuple(f.name for f in fields(UsageRecord))
"""A record's columns: read shallowly (``dataclasses.asdict`` deep-copies every value of every row)."""


@dataclass(frozen=True, slots=True)
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
    ) -> None:
        self._sessions = sessions
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
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while self._queue:
                batch, self._queue = self._queue[: self._batch_size], self._queue[self._batch_size :]
                try:
                    await self._write(batch)
                except Exception:
                    self.failed_flushes += 1
                    log.warning("could not write %d usage records; kept for the next try", len(batch), exc_info=True)
                    keep = max(0, self._max_queue - len(self._queue))
                    self.dropped += max(0, len(batch) - keep)
                    self._queue[:0] = batch[:keep]
                    return
                self.written += len(batch)

    async def _write(self, batch: list[PendingUsage]) -> None:
        rows = []
        spent: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for pending in batch:
            record = pending.record
            if pending.provider is not None and record.kwh is None:
                impact = footprint(pending.provider, record.completion_tokens, record.latency_ms / 1000)
                if impact is not None:
                    record = replace(record, kwh=impact.kwh, kgco2eq=impact.kgco2eq)
            rows.append({name: getattr(record, name) for name in RECORD_FIELDS})
            if record.cost:
                for table, owner in (
                    ("key", record.key_id),
                    ("user", record.user_id),
                    ("organization", record.organization_id),
                ):
                    if owner is not None:
                        spent[table][owner] += record.cost
        async with self._sessions.begin() as session:
            await session.execute(insert(UsageRecordRow), rows)
            connection = await session.connection()
            for table, amounts in spent.items():
                columns = SPENT_TABLES[table].c
                statement = (
                    update(SPENT_TABLES[table])
                    .where(columns.id == bindparam("owner"))
                    .values(spent=columns.spent + bindparam("amount"))
                )
                await connection.execute(statement, [{"owner": o, "amount": a} for o, a in amounts.items()])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._queue:
            self.dropped += len(self._queue)
            log.error("%d usage records could not be written before shutdown", len(self._queue))
            self._queue.clear()
