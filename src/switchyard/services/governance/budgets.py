"""What a request costs, and the counter claims that keep the key's, user's and organization's budgets.

Money is counted in millionths (micro-units of the price's currency) so that counters stay integers. A budget's
counter holds what was spent plus what requests in flight reserved; it starts from the amount spent that the
database knows (kept up to date by the usage writer) and lives a day after its last change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from switchyard.adapters.counters import Claim
from switchyard.domain.gateway import Router
from switchyard.domain.governance import Budget

MICROS = 1_000_000
BUDGET_COUNTER_TTL = 86_400


def cost(router: Router, prompt_tokens: int, completion_tokens: int) -> float:
    """Prices are per million tokens."""
    return (prompt_tokens * router.cost_prompt_tokens + completion_tokens * router.cost_completion_tokens) / MICROS


def cost_micros(router: Router, prompt_tokens: int, completion_tokens: int) -> int:
    return math.ceil(prompt_tokens * router.cost_prompt_tokens + completion_tokens * router.cost_completion_tokens)


def is_priced(router: Router) -> bool:
    return router.cost_prompt_tokens > 0 or router.cost_completion_tokens > 0


def budget_key(budget: Budget) -> str:
    return f"budget:{budget.scope.value}:{budget.owner_id}"


@dataclass(frozen=True, slots=True)
class BudgetClaim:
    budget: Budget
    claim: Claim


def reservation_micros(router: Router, prompt_tokens: int, completion_allowance: int) -> int:
    """What a request reserves: its estimated cost, at least one micro-unit, so that a spent budget refuses even a
    request estimated at 0."""
    return max(1, cost_micros(router, prompt_tokens, completion_allowance))


def budget_claims(budgets: tuple[Budget, ...], amount: int) -> list[BudgetClaim]:
    return [
        BudgetClaim(
            b,
            Claim(
                budget_key(b),
                amount,
                round(b.amount * MICROS),
                BUDGET_COUNTER_TTL,
                seed=round(b.spent * MICROS),
            ),
        )
        for b in budgets
    ]
