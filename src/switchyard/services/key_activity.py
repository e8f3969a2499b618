"""``last_used_at`` of API keys, kept off the hot path: noted in memory, written in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from switchyard.store.tables import ApiKeyRow

log = logging.getLogger(__name__)


class KeyActivity:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval: float = 5.0) -> None:
        self._sessions = sessions
        self._interval = interval
        self._pending: dict[int, float] = {}
        """Key id → when it was last used (Unix time: ``time.time()`` is cheaper than a datetime per request)."""
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def touch(self, key_id: int) -> None:
        self._pending[key_id] = time.time()

    async def flush(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            pending, self._pending = self._pending, {}
            try:
                async with self._sessions.begin() as session:
                    for key_id, moment in pending.items():
                        used = datetime.fromtimestamp(moment, UTC)
                        await session.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=used))
            except Exception:  # not worth failing anything over; the next use notes it again
                log.warning("could not record key activity", exc_info=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="switchyard-key-activity")

    async def close(self) -> None:
        if self._task is not None:
            async with self._lock:  # never cancel a flush halfway: its transaction would hold SQLite's write lock
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
