"""Counters shared by the gateway's replicas: in process by default, Redis when several replicas run.

One small protocol, two implementations:

- ``add`` / ``get_many``: plain counters (requests in flight per provider). Keys expire ``ttl`` seconds after
  their last change so that a replica that died with requests in flight cannot leave a count stuck forever.
- ``claim``: the admission of one request against several limits at once (rate-limit windows, budgets, in-flight
  caps). Every claim is checked against its limit and, only if all fit, all are added — atomically, in one
  round trip (one Lua script on Redis). A key that does not exist starts at the claim's ``seed``.
- ``settle``: corrections once the real figures are known (tokens used, money spent), applied only to keys
  that still exist, so a window that ended or a budget counter that expired is not recreated from a delta.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis


@dataclass(slots=True)  # made per request: not frozen, whose init costs ~3× more
class Claim:
    key: str
    amount: int
    """Added to the key when every claim of the admission fits."""
    limit: int | None
    """The claim fits when ``current + amount <= limit``; None: no limit (the key is only counted)."""
    ttl: int
    """Seconds the key lives after this change."""
    seed: int = 0
    """The value of the key when it does not exist yet (a budget starts from what the database says was spent)."""


@dataclass(slots=True)  # made per request: not frozen, whose init costs ~3× more
class Verdict:
    admitted: bool
    values: list[int]
    """Each key's value: after the addition when admitted, as it stands when refused."""
    refused: int | None = None
    """Index of the first claim that did not fit."""


@dataclass(slots=True)  # made per request: not frozen, whose init costs ~3× more
class Change:
    key: str
    amount: int
    ttl: int


class Counters(Protocol):
    async def add(self, key: str, amount: int) -> int:
        """Adds ``amount`` (may be negative) and answers the new value."""

    async def get_many(self, keys: Sequence[str]) -> list[int]: ...

    async def claim(self, claims: Sequence[Claim]) -> Verdict:
        """All claims or none, atomically; see the module docstring."""

    async def settle(self, changes: Sequence[Change]) -> None:
        """Adds each change to its key if the key still exists."""

    async def close(self) -> None: ...


def _verdict(claims: Sequence[Claim], current: list[int]) -> Verdict:
    for index, (claim, value) in enumerate(zip(claims, current, strict=True)):
        if claim.limit is not None and value + claim.amount > claim.limit:
            return Verdict(False, current, index)
    return Verdict(True, [value + claim.amount for claim, value in zip(claims, current, strict=True)])


class MemoryCounters:
    """One process's counters. Expired keys are dropped when read and swept now and then."""

    SWEEP_EVERY = 10_000

    def __init__(self, *, ttl: int = 900) -> None:
        self._values: dict[str, int] = {}
        self._expiry: dict[str, float] = {}
        self._ttl = ttl
        self._writes = 0

    def _get(self, key: str, now: float) -> int | None:
        expiry = self._expiry.get(key)
        if expiry is not None and expiry <= now:
            self._values.pop(key, None)
            self._expiry.pop(key, None)
            return None
        return self._values.get(key)

    def _set(self, key: str, value: int, ttl: int, now: float) -> None:
        self._values[key] = value
        self._expiry[key] = now + ttl
        self._writes += 1
        if self._writes >= self.SWEEP_EVERY:
            self._writes = 0
            for stale in [k for k, at in self._expiry.items() if at <= now]:
                self._values.pop(stale, None)
                self._expiry.pop(stale, None)

    async def add(self, key: str, amount: int) -> int:
        now = time.monotonic()
        value = (self._get(key, now) or 0) + amount
        self._set(key, value, self._ttl, now)
        return value

    async def get_many(self, keys: Sequence[str]) -> list[int]:
        now = time.monotonic()
        return [self._get(key, now) or 0 for key in keys]

    async def claim(self, claims: Sequence[Claim]) -> Verdict:
        now = time.monotonic()
        current = []
        for claim in claims:
            value = self._get(claim.key, now)
            current.append(claim.seed if value is None else value)
        verdict = _verdict(claims, current)
        if verdict.admitted:
            for claim, value in zip(claims, verdict.values, strict=True):
                self._set(claim.key, value, claim.ttl, now)
        return verdict

    async def settle(self, changes: Sequence[Change]) -> None:
        now = time.monotonic()
        for change in changes:
            value = self._get(change.key, now)
            if value is not None:
                self._set(change.key, value + change.amount, change.ttl, now)

    async def close(self) -> None:
        return None


_ADD = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return value
"""

_CLAIM = """
local n = #KEYS
local values = {}
for i = 1, n do
  local v = redis.call('GET', KEYS[i])
  if v then values[i] = tonumber(v) else values[i] = tonumber(ARGV[(i - 1) * 4 + 4]) end
end
for i = 1, n do
  local base = (i - 1) * 4
  local limit = tonumber(ARGV[base + 2])
  if limit >= 0 and values[i] + tonumber(ARGV[base + 1]) > limit then
    return {0, i, unpack(values)}
  end
end
for i = 1, n do
  local base = (i - 1) * 4
  values[i] = values[i] + tonumber(ARGV[base + 1])
  redis.call('SET', KEYS[i], values[i], 'EX', ARGV[base + 3])
end
return {1, 0, unpack(values)}
"""

_SETTLE = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('INCRBY', KEYS[i], ARGV[(i - 1) * 2 + 1])
    redis.call('EXPIRE', KEYS[i], ARGV[(i - 1) * 2 + 2])
  end
end
return 0
"""


class RedisCounters:
    def __init__(
        self, url: str, *, prefix: str = "switchyard:counter:", ttl: int = 900, max_connections: int = 64
    ) -> None:
        # A blocking pool: under a burst, requests wait a moment for a connection instead of failing.
        self._pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=5)
        self._client: aioredis.Redis = aioredis.Redis(connection_pool=self._pool)
        self._prefix = prefix
        self._ttl = ttl
        self._add = self._client.register_script(_ADD)
        self._claim = self._client.register_script(_CLAIM)
        self._settle = self._client.register_script(_SETTLE)

    async def add(self, key: str, amount: int) -> int:
        return int(await self._add(keys=[self._prefix + key], args=[amount, self._ttl]))

    async def get_many(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        values = await self._client.mget([self._prefix + key for key in keys])
        return [int(v) if v is not None else 0 for v in values]

    async def claim(self, claims: Sequence[Claim]) -> Verdict:
        if not claims:
            return Verdict(True, [])
        args: list[int] = []
        for claim in claims:
            args += [claim.amount, -1 if claim.limit is None else claim.limit, max(1, claim.ttl), claim.seed]
        answer = await self._claim(keys=[self._prefix + c.key for c in claims], args=args)
        values = [int(v) for v in answer[2:]]
        if int(answer[0]) == 1:
            return Verdict(True, values)
        return Verdict(False, values, int(answer[1]) - 1)

    async def settle(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        args: list[int] = []
        for change in changes:
            args += [change.amount, max(1, change.ttl)]
        await self._settle(keys=[self._prefix + c.key for c in changes], args=args)

    async def close(self) -> None:
        await self._client.aclose()
        await self._pool.aclose()
