"""Bearer token → principal, cached in memory so that a hit never touches the database.

A hit costs one SHA-256 of the token and one dict lookup. Entries live at most ``ttl`` seconds; every change to
keys, users, roles or organizations clears the whole cache in every process (``invalidation.py`` carries the
signal), so a revoked key stops working everywhere within the broadcast's delay. Unknown tokens are cached too,
briefly, so that a flood of bad keys cannot turn into a flood of queries; concurrent misses for the same token
share one load.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

from switchyard.services.principal import Principal

Loader = Callable[[str], Awaitable[Principal | None]]
"""Loads the principal for a token hash from the store; None when the token is unknown or not usable."""


class PrincipalCache:
    def __init__(
        self, loader: Loader, *, ttl: float = 300.0, negative_ttl: float = 5.0, max_entries: int = 100_000
    ) -> None:
        self._loader = loader
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._max_entries = max_entries
        self._entries: dict[str, tuple[Principal | None, float]] = {}
        self._loading: dict[str, asyncio.Task[Principal | None]] = {}
        self._generation = 0
        self.hits = 0
        self.misses = 0

    async def resolve(self, token: str) -> Principal | None:
        token_hash = hashlib.sha256(token.encode()).hexdigest()
        entry = self._entries.get(token_hash)
        now = time.monotonic()
        if entry is not None and entry[1] > now:
            principal = entry[0]
            if principal is not None and principal.expires_at is not None and principal.expires_at <= time.time():
                return None
            self.hits += 1
            return principal
        self.misses += 1
        task = self._loading.get(token_hash) or self._start_load(token_hash, now)
        principal = await asyncio.shield(task)  # a caller that goes away does not cancel the others' load
        if principal is not None and principal.expires_at is not None and principal.expires_at <= time.time():
            return None
        return principal

    def _start_load(self, token_hash: str, now: float) -> asyncio.Task[Principal | None]:
        generation = self._generation

        async def load() -> Principal | None:
            principal = await self._loader(token_hash)
            if generation == self._generation:  # an invalidation during the load makes the result stale
                if len(self._entries) >= self._max_entries:
                    self._entries.clear()
                ttl = self._ttl if principal is not None else self._negative_ttl
                self._entries[token_hash] = (principal, now + ttl)
            return principal

        task = asyncio.get_running_loop().create_task(load(), name="switchyard-principal-load")
        self._loading[token_hash] = task

        def done(finished: asyncio.Task[Principal | None]) -> None:
            if self._loading.get(token_hash) is finished:  # clear() may have let a newer load take the slot
                del self._loading[token_hash]
            if not finished.cancelled():
                finished.exception()  # retrieved here: callers that went away must not leave it unreported

        task.add_done_callback(done)
        return task

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._loading.clear()  # loads in flight may have read the old state: later callers start their own

    def __len__(self) -> int:
        return len(self._entries)
