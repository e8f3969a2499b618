"""Deleting usage records older than ``SWITCHYARD_USAGE_RETENTION_DAYS``, a bounded batch at a time.

A background task (started and stopped with the platform) purges once shortly after start, then every
``interval`` seconds (an hour). A purge deletes ``batch_size`` of the oldest expired records per statement, each
in its own short transaction, with a pause between, until none are left — so that neither database holds a
long lock and the usage writer keeps writing in between (on SQLite, which has one writer at a time, this
matters). SQLite has no ``DELETE … LIMIT`` by default, so a batch is chosen by a subquery on the
``created_at`` index: ``DELETE … WHERE id IN (SELECT id … ORDER BY created_at LIMIT n)``, the same on both.

Several replicas may purge at the same time: they delete the same expired records, which is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchyard.store.tables import UsageRecordRow

log = logging.getLogger(__name__)

BATCH_SIZE = 5_000
PAUSE_SECONDS = 0.2
INTERVAL_SECONDS = 3_600.0
FIRST_DELAY_SECONDS = 5.0
"""The first purge waits this long after start, so that it does not compete with the start itself."""


class UsageRetention:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        days: int | None,
        *,
        batch_size: int = BATCH_SIZE,
        pause: float = PAUSE_SECONDS,
        interval: float = INTERVAL_SECONDS,
        first_delay: float = FIRST_DELAY_SECONDS,
    ) -> None:
        self._sessions = sessions
        self.days = days
        self._batch_size = batch_size
        self._pause = pause
        self._interval = interval
        self._first_delay = first_delay
        self._task: asyncio.Task[None] | None = None
        self.deleted = 0
        """Records deleted since start."""
        self.batches = 0
        self.slowest_batch_ms = 0.0
        self.last_purge: datetime | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Starts the background purges; does nothing when no retention is set."""
        if self.days is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="switchyard-usage-retention")

    async def _run(self) -> None:
        await asyncio.sleep(self._first_delay)
        while True:
            try:
                deleted = await self.purge()
                if deleted:
                    log.info("deleted %d usage records older than %d days", deleted, self.days)
            except Exception:  # the database may be down for a while: try again at the next interval
                log.warning("could not delete expired usage records", exc_info=True)
            await asyncio.sleep(self._interval)

    async def purge(self, now: datetime | None = None) -> int:
        """Deletes every record created before ``now`` minus the retention, in batches; answers how many."""
        if self.days is None:
            return 0
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.days)
        oldest = (
            select(UsageRecordRow.id)
            .where(UsageRecordRow.created_at < cutoff)
            .order_by(UsageRecordRow.created_at)
            .limit(self._batch_size)
        )
        statement = delete(UsageRecordRow).where(UsageRecordRow.id.in_(oldest.scalar_subquery()))
        total = 0
        while True:
            started = time.perf_counter()
            async with self._sessions.begin() as session:
                result = await session.execute(statement.execution_options(synchronize_session=False))
            self.batches += 1
            self.slowest_batch_ms = max(self.slowest_batch_ms, (time.perf_counter() - started) * 1000)
            count = int(getattr(result, "rowcount", 0) or 0)
            total += count
            self.deleted += count
            if count < self._batch_size:
                break
            await asyncio.sleep(self._pause)
        self.last_purge = datetime.now(UTC)
        return total

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
