"""The order in which a request tries a route's providers.

Providers are grouped by priority (lower first): a request only reaches a higher tier when every provider of
the tiers before it failed or is unavailable. Within a tier, ``fallback`` keeps the router's order and
``loadbalance`` orders by the router's strategy:

- ``weighted`` — a weighted random permutation (weight 0 is only ever a last resort);
- ``round_robin`` — rotate, per router;
- ``least_busy`` — fewest requests in flight (counted through the shared counters, so replicas agree);
- ``lowest_latency`` — power of two choices over an EWMA of recent latency, the rest by that EWMA.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from switchyard.adapters.counters import Counters
from switchyard.adapters.wire.base import Target
from switchyard.domain.gateway import RouterMode, Strategy
from switchyard.services.gateway.routing_table import Route


def in_flight_key(provider_id: int) -> str:
    return f"inflight:{provider_id}"


class LatencyTracker:
    """An exponentially weighted moving average of each provider's latency, in seconds."""

    def __init__(self, alpha: float = 0.3) -> None:
        self._alpha = alpha
        self._values: dict[int, float] = {}

    def observe(self, provider_id: int, seconds: float) -> None:
        previous = self._values.get(provider_id)
        self._values[provider_id] = seconds if previous is None else previous + self._alpha * (seconds - previous)

    def get(self, provider_id: int) -> float:
        return self._values.get(provider_id, 0.0)  # unmeasured providers get tried, and so measured


class Balancer:
    def __init__(self, counters: Counters, latency: LatencyTracker, rng: random.Random | None = None) -> None:
        self._counters = counters
        self._latency = latency
        self._rng = rng or random.Random()
        self._turns: dict[int, itertools.count[int]] = {}

    async def order(self, route: Route) -> list[Target]:
        tiers: dict[int, list[Target]] = {}
        for target in route.targets:
            tiers.setdefault(target.priority, []).append(target)
        ordered: list[Target] = []
        for priority in sorted(tiers):
            tier = tiers[priority]
            if route.router.mode == RouterMode.fallback or len(tier) == 1:
                ordered.extend(tier)
            else:
                ordered.extend(await self._by_strategy(route, tier))
        return ordered

    async def _by_strategy(self, route: Route, tier: list[Target]) -> list[Target]:
        strategy = route.router.strategy
        if strategy == Strategy.round_robin:
            turn = next(self._turns.setdefault(route.router.id, itertools.count()))
            start = turn % len(tier)
            return tier[start:] + tier[:start]
        if strategy == Strategy.least_busy:
            counts = await self._counters.get_many([in_flight_key(t.provider.id) for t in tier])
            noise = [self._rng.random() for _ in tier]
            return [t for _, _, t in sorted(zip(counts, noise, tier, strict=True), key=lambda x: (x[0], x[1]))]
        if strategy == Strategy.lowest_latency:
            return self._two_choices(tier)
        return self._weighted(tier)

    def _weighted(self, tier: Sequence[Target]) -> list[Target]:
        # Efraimidis–Spirakis: sort by u ** (1 / w); a weight of 0 sorts after every positive weight.
        def key(target: Target) -> float:
            if target.weight <= 0:
                return -1.0 - self._rng.random()
            return float(self._rng.random() ** (1.0 / target.weight))

        return sorted(tier, key=key, reverse=True)

    def _two_choices(self, tier: Sequence[Target]) -> list[Target]:
        first, second = self._rng.sample(list(tier), 2)
        best = min((first, second), key=lambda t: self._latency.get(t.provider.id))
        rest = sorted((t for t in tier if t is not best), key=lambda t: self._latency.get(t.provider.id))
        return [best, *rest]
