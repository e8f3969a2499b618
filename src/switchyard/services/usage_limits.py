"""What a caller may still spend: each rate limit on each router and each deployment they may use, and each
budget, with what is used and what is left — read from the live counters in one round trip.

The figures are those of the default buckets (role and user limits per user, key limits per key). A router with
a rate-limit rule may count a request in another bucket, or with other limits, than the ones shown here; the
report flags such routers (``has_rule``). Token counters include the tokens reserved by requests in flight, and
budget counters the money they reserved, until those requests are settled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from switchyard.domain.governance import Budget, BudgetScope, LimitScope, LimitType, RateLimit
from switchyard.services.governance.budgets import MICROS, budget_key
from switchyard.services.governance.rate_limits import (
    counter_key,
    default_buckets,
    effective_limits,
    metered_deployment,
    metered_router,
    window,
)
from switchyard.services.platform import Platform
from switchyard.services.principal import Principal

_TYPE_ORDER = {kind: index for index, kind in enumerate(LimitType)}


@dataclass(frozen=True, slots=True)
class LimitStatus:
    scope: LimitScope
    type: LimitType
    value: int
    used: int
    """Requests or tokens counted in the current window."""
    remaining: int
    resets_at: datetime
    """When the current window ends."""


@dataclass(frozen=True, slots=True)
class RouterLimits:
    router: str
    aliases: tuple[str, ...]
    has_rule: bool
    """The router has a rate-limit rule: requests may be counted elsewhere than shown."""
    limits: list[LimitStatus]


@dataclass(frozen=True, slots=True)
class DeploymentLimits:
    deployment_id: int
    deployment: str
    limits: list[LimitStatus]
    """Request limits only: a V2 inference has no tokens."""


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    scope: BudgetScope
    owner_id: int
    amount: float
    spent: float
    """Spent, plus what requests in flight reserved."""
    left: float


@dataclass(frozen=True, slots=True)
class LimitsReport:
    routers: list[RouterLimits]
    budgets: list[BudgetStatus]
    deployments: list[DeploymentLimits]


@dataclass(frozen=True, slots=True)
class _Pending:
    subject: int
    """The index of the router or deployment, routers first."""
    scope: LimitScope
    type: LimitType
    value: int
    key: str
    resets_at: float


def _scoped(principal: Principal) -> list[tuple[LimitScope, tuple[RateLimit, ...]]]:
    return [
        (LimitScope.role, principal.limits),
        (LimitScope.user, principal.user_limits),
        (LimitScope.key, principal.key_limits),
    ]


def _budget(budget: Budget, counted: int) -> BudgetStatus:
    # A budget's counter starts at what the database says was spent; without one, that figure is the answer.
    spent = counted / MICROS if counted > 0 else budget.spent
    return BudgetStatus(budget.scope, budget.owner_id, budget.amount, spent, max(0.0, budget.amount - spent))


async def limits_report(
    platform: Platform, principal: Principal, deployments: Iterable[tuple[int, str]] = (), now: float | None = None
) -> LimitsReport:
    """Every router the principal may use (by name), its limits by scope and type; the same for each of
    ``deployments`` (id, name) the principal may use, request limits only; and the budgets."""
    moment = datetime.now(UTC).timestamp() if now is None else now
    buckets = default_buckets(principal)
    routes = sorted(
        (r for r in platform.routing.routes if principal.may_use_router(r.router.name)), key=lambda r: r.router.name
    )
    hosted = sorted((d for d in deployments if principal.may_use_router(d[1])), key=lambda d: (d[1], d[0]))
    subjects = [metered_router(r.router) for r in routes] + [metered_deployment(i, name) for i, name in hosted]
    pending: list[_Pending] = []
    for index, metered in enumerate(subjects):
        requests_only = index >= len(routes)
        for scope, limits in _scoped(principal):
            if not limits or scope not in buckets:
                continue
            applying = effective_limits(limits, metered.names)
            for kind in sorted(applying, key=_TYPE_ORDER.__getitem__):
                if requests_only and kind.counts_tokens:
                    continue
                number, ends = window(kind, moment)
                key = counter_key(scope, buckets[scope], metered.counter, kind, number)
                pending.append(_Pending(index, scope, kind, applying[kind], key, ends))
    keys = [p.key for p in pending] + [budget_key(b) for b in principal.budgets]
    values = await platform.counters.get_many(keys) if keys else []
    found: list[list[LimitStatus]] = [[] for _ in subjects]
    for item, used in zip(pending, values, strict=False):
        resets = datetime.fromtimestamp(item.resets_at, UTC)
        found[item.subject].append(
            LimitStatus(item.scope, item.type, item.value, used, max(0, item.value - used), resets)
        )
    report = [
        RouterLimits(r.router.name, tuple(r.router.aliases), bool(r.router.rate_limit_rule), found[i])
        for i, r in enumerate(routes)
    ]
    on_deployments = [
        DeploymentLimits(deployment_id, name, found[len(routes) + i]) for i, (deployment_id, name) in enumerate(hosted)
    ]
    budgets = [_budget(b, v) for b, v in zip(principal.budgets, values[len(pending) :], strict=True)]
    return LimitsReport(report, budgets, on_deployments)
