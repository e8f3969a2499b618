"""The order in which a route's providers are tried (``services/gateway/balancer.py``), with fake targets and
routes and a seeded random generator: no HTTP, no store."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from switchyard.adapters.counters import MemoryCounters
from switchyard.adapters.wire.base import Target
from switchyard.domain.gateway import (
    ModelType,
    Router,
    RouterMode,
    Strategy,
)
from switchyard.services.gateway.balancer import Balancer, LatencyTracker, in_flight_key
from switchyard.services.gateway.routing_table import Route
from tests.targets import make_target

DRAWS = 10_000
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def target(provider_id: int, *, weight: int = 1, priority: int = 0) -> Target:
    return make_target(
        upstream_model=f"m{provider_id}",
        api_key=None,
        weight=weight,
        priority=priority,
        id=provider_id,
        name=f"p{provider_id}",
    )


def route(
    *targets: Target,
    strategy: Strategy = Strategy.weighted,
    mode: RouterMode = RouterMode.loadbalance,
    router_id: int = 1,
) -> Route:
    router = Router(
        id=router_id,
        name=f"router-{router_id}",
        aliases=[],
        description="",
        model_type=ModelType.text_generation,
        mode=mode,
        strategy=strategy,
        cost_prompt_tokens=0.0,
        cost_completion_tokens=0.0,
        usage_extras=False,
        enabled=True,
    )
    return Route(router, targets)


def balancer(counters: MemoryCounters | None = None, latency: LatencyTracker | None = None) -> Balancer:
    return Balancer(counters or MemoryCounters(), latency or LatencyTracker(), random.Random(20260101))


def ids(targets: list[Target]) -> list[int]:
    return [t.provider.id for t in targets]


async def test_lower_priority_tiers_come_first_whatever_the_strategy() -> None:
    backup, main_a, main_b = target(1, priority=5, weight=100), target(2), target(3)
    for strategy in Strategy:
        picker = balancer()
        for _ in range(50):
            order = ids(await picker.order(route(backup, main_a, main_b, strategy=strategy)))
            assert sorted(order[:2]) == [2, 3] and order[2] == 1, strategy


async def test_fallback_keeps_the_router_order_within_a_tier() -> None:
    picker = balancer()
    fallback = route(
        target(1, priority=1), target(2, weight=9), target(3), target(4, priority=1), mode=RouterMode.fallback
    )
    orders = {tuple(ids(await picker.order(fallback))) for _ in range(100)}
    assert orders == {(2, 3, 1, 4)}


async def test_weighted_picks_in_proportion_to_weights() -> None:
    picker = balancer()
    heavy, light = target(1, weight=3), target(2, weight=1)
    firsts = Counter([ids(await picker.order(route(heavy, light)))[0] for _ in range(DRAWS)])
    share = firsts[1] / DRAWS
    assert abs(share - 0.75) <= 0.75 * 0.05, share


async def test_weight_zero_is_only_a_last_resort() -> None:
    picker = balancer()
    spare, a, b = target(1, weight=0), target(2, weight=1), target(3, weight=2)
    orders = [ids(await picker.order(route(spare, a, b))) for _ in range(1000)]
    assert all(order[-1] == 1 for order in orders)
    assert {order[0] for order in orders} == {2, 3}  # the others still share the traffic


async def test_round_robin_rotates_per_router() -> None:
    picker = balancer()
    targets = (target(1), target(2), target(3))
    first = route(*targets, strategy=Strategy.round_robin, router_id=1)
    other = route(*targets, strategy=Strategy.round_robin, router_id=2)
    assert [ids(await picker.order(first)) for _ in range(4)] == [[1, 2, 3], [2, 3, 1], [3, 1, 2], [1, 2, 3]]
    assert ids(await picker.order(other)) == [1, 2, 3]  # its own turn, not the first router's
    assert ids(await picker.order(first)) == [2, 3, 1]


async def test_least_busy_orders_by_requests_in_flight() -> None:
    counters = MemoryCounters()
    picker = balancer(counters)
    busy, idle, half = target(1), target(2), target(3)
    await counters.add(in_flight_key(1), 4)
    await counters.add(in_flight_key(3), 1)
    least_busy = route(busy, idle, half, strategy=Strategy.least_busy)
    assert ids(await picker.order(least_busy)) == [2, 3, 1]

    await counters.add(in_flight_key(2), 1)  # 2 and 3 now tie: either may go first, 1 stays last
    orders = {tuple(ids(await picker.order(least_busy))) for _ in range(400)}
    assert orders == {(2, 3, 1), (3, 2, 1)}


async def test_lowest_latency_prefers_the_lower_ewma_of_two_choices() -> None:
    latency = LatencyTracker()
    for provider_id, seconds in ((1, 0.5), (2, 0.1), (3, 0.3)):
        latency.observe(provider_id, seconds)
    picker = balancer(latency=latency)
    tier = route(target(1), target(2), target(3), strategy=Strategy.lowest_latency)
    orders = [ids(await picker.order(tier)) for _ in range(3000)]
    firsts = Counter(order[0] for order in orders)
    assert firsts[1] == 0  # the slowest never wins a pair
    assert abs(firsts[2] / len(orders) - 2 / 3) < 0.05  # the fastest wins every pair it is drawn into
    assert all(order[1:] == sorted(order[1:], key=latency.get) for order in orders)

    pair = route(target(1), target(3), strategy=Strategy.lowest_latency)
    assert {tuple(ids(await picker.order(pair))) for _ in range(50)} == {(3, 1)}


def test_latency_is_an_exponentially_weighted_moving_average() -> None:
    latency = LatencyTracker(alpha=0.5)
    assert latency.get(7) == 0.0  # never measured: tried first, and so measured
    latency.observe(7, 1.0)
    latency.observe(7, 0.0)
    latency.observe(7, 1.0)
    assert latency.get(7) == 0.75
