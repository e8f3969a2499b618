"""Cost of resolving a bearer token that the principal cache already holds.

Run: ``.venv/bin/python bench/principal_cache.py [--calls N] [--rounds R]``. Prints a Markdown table of the
median µs per call over R rounds of N calls, timed with ``time.perf_counter_ns`` inside a running event loop
(uvloop, as the server runs). No database is involved: the loader fails if a token is ever loaded twice.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import uvloop
from starlette.requests import Request

from switchyard.api.auth import Authenticated
from switchyard.services.key_activity import KeyActivity
from switchyard.services.permissions import Permission
from switchyard.services.principal import Principal
from switchyard.services.principal_cache import PrincipalCache
from switchyard.services.tokens import new_api_key

TARGET_US = 20.0


class OneShotLoader:
    """Answers each token hash once, for its first miss; a second load means a hit was not a hit."""

    def __init__(self, principal: Principal, unknown_hash: str) -> None:
        self._principal = principal
        self._unknown_hash = unknown_hash
        self._seen: set[str] = set()

    async def __call__(self, token_hash: str) -> Principal | None:
        if token_hash in self._seen:
            raise AssertionError("a cache hit went to the loader")
        self._seen.add(token_hash)
        return None if token_hash == self._unknown_hash else self._principal


def _principal() -> Principal:
    return Principal(
        user_id=1,
        email="admin@localhost",
        role_id=1,
        role_name="admin",
        permissions=frozenset({Permission.admin}),
        key_id=1,
        expires_at=time.time() + 3600,  # so that the expiry check runs on every hit
    )


def _request(app: SimpleNamespace, token: str) -> Request:
    """What a dependency receives: a fresh Request over the connection's scope, one per HTTP request."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/organizations",
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"user-agent", b"bench"),
            (b"accept", b"*/*"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "app": app,
    }
    return Request(scope)


async def _per_call_us(call: Callable[[], Awaitable[object]], calls: int, rounds: int) -> float:
    for _ in range(min(calls, 10_000)):  # warm up
        await call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(calls):
            await call()
        samples.append((time.perf_counter_ns() - start) / calls / 1000)
    return statistics.median(samples)


async def run(calls: int, rounds: int) -> list[tuple[str, float]]:
    known, unknown = new_api_key(), new_api_key()
    # TTLs longer than the run: an entry expiring midway would turn hits into misses
    cache = PrincipalCache(OneShotLoader(_principal(), unknown.hash), ttl=3600, negative_ttl=3600)
    key_activity = KeyActivity(sessions=None)  # type: ignore[arg-type]  # only touch() runs, no store
    platform = SimpleNamespace(principals=cache, key_activity=key_activity)
    app = SimpleNamespace(state=SimpleNamespace(platform=platform))
    dependency = Authenticated(Permission.manage_keys)
    assert await cache.resolve(known.value) is not None
    assert await cache.resolve(unknown.value) is None

    async def hit() -> object:
        return await cache.resolve(known.value)

    async def negative_hit() -> object:
        return await cache.resolve(unknown.value)

    async def dependency_path() -> object:
        return await dependency(_request(app, known.value))

    measured = [
        ("`PrincipalCache.resolve`, hit", hit),
        ("`PrincipalCache.resolve`, unknown token (negative hit)", negative_hit),
        ("`Authenticated(permission)`: Request → token → principal → `Caller`", dependency_path),
    ]
    results = [(name, await _per_call_us(call, calls, rounds)) for name, call in measured]
    assert cache.misses == 2, "every measured call must have been a hit"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="Cost of resolving a cached bearer token.")
    parser.add_argument("--calls", type=int, default=200_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the median is reported")
    args = parser.parse_args()
    results = uvloop.run(run(args.calls, args.rounds))
    print(f"median of {args.rounds} rounds × {args.calls:,} calls; target for a hit ≤ {TARGET_US:g} µs\n")
    print("| path | µs per call |")
    print("| --- | ---: |")
    for name, micros in results:
        print(f"| {name} | {micros:.2f} |")


if __name__ == "__main__":
    main()
