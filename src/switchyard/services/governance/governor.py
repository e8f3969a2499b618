"""Admission and accounting of one inference request: rate limits and budgets before, usage after.

``admit`` runs before the call: it estimates the request's tokens and cost, asks the router's rule (if any) for
the bucket, and claims every limit and budget that applies in one atomic counter operation — one round trip on
Redis, none when nothing applies. A refused claim is a 429: ``rate_limit_exceeded`` with OpenAI's
``x-ratelimit-*`` headers and ``Retry-After``, or ``insufficient_quota`` for a spent budget.

``finish`` runs once the answer is known (for a stream: when it ended, also when the client went away): it
settles the reservations with the real usage (batched, off the answer's path), queues the usage record and
feeds the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from switchyard.adapters.counters import Change, Claim, Counters
from switchyard.domain.gateway import Operation, Provider
from switchyard.domain.governance import UsageRecord
from switchyard.errors import InsufficientQuota, RateLimited
from switchyard.services.gateway.dispatch import CallRecord
from switchyard.services.gateway.routing_table import Route
from switchyard.services.governance.budgets import (
    BudgetClaim,
    budget_claims,
    cost,
    cost_micros,
    reservation_micros,
)
from switchyard.services.governance.carbon import footprint
from switchyard.services.governance.rate_limits import (
    LimitClaim,
    LimitPlans,
    Metered,
    limit_claims,
    metered_router,
    rate_header_pairs,
    rate_headers,
)
from switchyard.services.governance.rules import Rule, RuleChoice
from switchyard.services.governance.token_estimate import (
    completion_allowance,
    estimate_any_prompt,
    estimate_prompt_tokens,
)
from switchyard.services.governance.usage_writer import PendingUsage, UsageWriter
from switchyard.services.principal import Principal

log = logging.getLogger(__name__)

SETTLE_DELAY_SECONDS = 0.01
"""Settlements finishing within this delay go to the counters together."""

UsageObserver = Callable[[UsageRecord, float], None]
"""Called with each finished request's record and the gateway's own overhead in ms (the metrics)."""


@dataclass(slots=True)
class Ticket:
    """What ``admit`` reserved for a request, for ``finish`` to settle."""

    principal: Principal
    route: Route
    endpoint: str
    """``chat``, ``embeddings``… (an ``Operation``), or ``passthrough``."""
    request_id: str
    created_at: datetime
    reserved_tokens: int = 0
    reserved_prompt: int = 0
    """The prompt's share of ``reserved_tokens`` (the rest is the completion the client allowed)."""
    reserved_micros: int = 0
    token_claims: Sequence[Claim] = ()
    budget_claims: Sequence[Claim] = ()
    headers: Sequence[tuple[bytes, bytes]] = ()
    """``x-ratelimit-*`` headers for the answer, as ASGI header pairs."""
    finished: bool = False


def _activation(principal: Principal, route: Route, endpoint: str, tokens: int) -> dict[str, Any]:
    return {
        "user": {
            "id": principal.user_id,
            "email": principal.email,
            "role": principal.role_name,
            "priority": principal.priority,
        },
        "key": {"id": principal.key_id} if principal.key_id is not None else None,
        "organization": principal.organization_id,
        "model": route.router.name,
        "endpoint": endpoint,
        "estimated_tokens": tokens,
    }


class Governor:
    def __init__(self, counters: Counters, writer: UsageWriter, observer: UsageObserver | None = None) -> None:
        self._counters = counters
        self.writer = writer
        self.observer = observer
        self._rules: dict[str, Rule | None] = {}
        self._plans = LimitPlans()
        self._pending: list[Change] = []
        self._settling: asyncio.Task[None] | None = None

    def _rule(self, source: str) -> Rule | None:
        if source not in self._rules:
            try:
                self._rules[source] = Rule(source)
            except ValueError:  # saved before validation existed, or by hand: no rule rather than no service
                log.warning("ignoring the invalid rate-limit rule %r", source)
                self._rules[source] = None
        return self._rules[source]

    def _choose(self, principal: Principal, route: Route, endpoint: str, tokens: int) -> RuleChoice | None:
        source = route.router.rate_limit_rule
        if not source:
            return None
        rule = self._rule(source)
        return rule.choose(_activation(principal, route, endpoint, tokens)) if rule is not None else None

    async def admit(
        self, principal: Principal, route: Route, operation: Operation, body: dict[str, Any], request_id: str
    ) -> Ticket:
        """Admits a request to a front door: its prompt is estimated from the body as ``operation`` reads it."""
        return await self.admit_call(principal, route, str(operation), body, request_id, operation)

    async def admit_call(
        self,
        principal: Principal,
        route: Route,
        endpoint: str,
        body: dict[str, Any],
        request_id: str,
        operation: Operation | None = None,
    ) -> Ticket:
        """Claims every limit and budget on ``route`` for one call; ``operation`` None estimates the prompt of a
        body in any provider's dialect (pass-through)."""
        ticket = Ticket(principal, route, endpoint, request_id, datetime.now(UTC))
        router = route.router
        plan = self._plans.plan(principal, router)  # worked out once per (principal, router)
        if not plan.governed:
            return ticket
        prompt = estimate_prompt_tokens(operation, body) if operation is not None else estimate_any_prompt(body)
        allowance = completion_allowance(body)
        reserved = ticket.reserved_tokens = prompt + allowance
        ticket.reserved_prompt = prompt
        now = time.time()
        if router.rate_limit_rule:  # the rule chooses limits and bucket per request
            choice = self._choose(principal, route, endpoint, prompt)
            limits = limit_claims(principal, metered_router(router), reserved, choice, now)
        else:
            limits = [limit.claim(reserved, now) for limit in plan.limits]
        budgets: list[BudgetClaim] = []
        if plan.priced:
            ticket.reserved_micros = reservation_micros(router, prompt, allowance)
            budgets = budget_claims(principal.budgets, ticket.reserved_micros)
        if not limits and not budgets:
            return ticket
        claims = [c.claim for c in limits]
        if budgets:
            claims += [b.claim for b in budgets]
        verdict = await self._counters.claim(claims)
        values = verdict.values
        if not verdict.admitted:
            assert verdict.refused is not None
            if verdict.refused >= len(limits):
                raise self._spent(budgets[verdict.refused - len(limits)], values[verdict.refused])
            raise self._limited(limits, values, verdict.refused, now)
        ticket.headers = rate_header_pairs(limits, values, now)
        ticket.token_claims = [c.claim for c in limits if c.counts_tokens]
        if budgets:
            ticket.budget_claims = [b.claim for b in budgets]
        return ticket

    async def admit_requests(self, principal: Principal, metered: Metered) -> dict[str, str]:
        """Counts one call against the request limits (rpm, rpd) on ``metered``, for calls that have no tokens
        and no price (V2 inferences on a deployment). Returns the ``x-ratelimit-*`` headers; refusal is a 429."""
        if not (principal.limits or principal.user_limits or principal.key_limits):
            return {}
        now = time.time()
        limits = [c for c in limit_claims(principal, metered, 0, None, now) if not c.counts_tokens]
        if not limits:
            return {}
        verdict = await self._counters.claim([c.claim for c in limits])
        if not verdict.admitted:
            assert verdict.refused is not None
            raise self._limited(limits, verdict.values, verdict.refused, now)
        return rate_headers(limits, verdict.values, now)

    @staticmethod
    def _limited(limits: list[LimitClaim], values: list[int], refused: int, now: float) -> RateLimited:
        limit = limits[refused]
        used = values[refused]
        wait = max(1, math.ceil(limit.resets_at - now))
        unit = "tokens" if limit.type.counts_tokens else "requests"
        if limit.claim.amount > limit.value:
            message = (
                f"Request too large for {limit.type.value} on this model: it needs {limit.claim.amount} {unit} "
                f"and the limit is {limit.value}."
            )
        else:
            message = (
                f"Rate limit reached for {unit} ({limit.type.value}, {limit.scope.value} limit): limit "
                f"{limit.value}, used {used}, requested {limit.claim.amount}. Please try again in {wait}s."
            )
        headers = rate_headers(limits, values[: len(limits)], now)
        headers["Retry-After"] = str(wait)
        return RateLimited(message, headers=headers)

    @staticmethod
    def _spent(claim: BudgetClaim, value: int) -> InsufficientQuota:
        budget = claim.budget
        return InsufficientQuota(
            f"You exceeded your current quota: the {budget.scope.value} budget of {budget.amount:g} is spent "
            f"({value / 1_000_000:g} used or reserved). Ask an administrator to raise it.",
        )

    def usage_extras(self, ticket: Ticket, record: CallRecord, prompt: int, completion: int) -> dict[str, Any]:
        """``cost`` and ``carbon`` for a router that adds them to the answer's ``usage`` object."""
        extras: dict[str, Any] = {"cost": cost(ticket.route.router, prompt, completion)}
        impact = footprint(record.target.provider, completion, record.latency_seconds) if record.target else None
        extras["carbon"] = {"kWh": impact.kwh, "kgCO2eq": impact.kgco2eq} if impact else None
        return extras

    def finish(self, ticket: Ticket, record: CallRecord, overhead_ms: float) -> None:
        if ticket.finished:
            return
        ticket.finished = True
        router = ticket.route.router
        usage = record.usage
        prompt, completion, cached = (
            (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) if usage else (0, 0, 0)
        )
        changes: list[Change] = []
        used_tokens = prompt + completion
        if used_tokens != ticket.reserved_tokens:
            changes += [Change(c.key, used_tokens - ticket.reserved_tokens, c.ttl) for c in ticket.token_claims]
        if ticket.budget_claims:
            spent = cost_micros(router, prompt, completion)
            if spent != ticket.reserved_micros:
                changes += [Change(c.key, spent - ticket.reserved_micros, c.ttl) for c in ticket.budget_claims]
        if changes:
            self._settle(changes)
        provider = record.target.provider if record.target is not None else None
        ttft = (record.first_token_at - record.started) * 1000 if record.first_token_at is not None else None
        entry = UsageRecord(
            request_id=ticket.request_id,
            created_at=ticket.created_at,
            user_id=ticket.principal.user_id,
            key_id=ticket.principal.key_id,
            organization_id=ticket.principal.organization_id,
            router=router.name,
            provider=provider.name if provider else None,
            endpoint=ticket.endpoint,
            status=record.status,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=cached,
            cost=cost(router, prompt, completion),
            latency_ms=record.latency_seconds * 1000,
            ttft_ms=ttft,
            kwh=None,
            kgco2eq=None,
        )
        self.record(entry, provider, overhead_ms)

    def record(self, entry: UsageRecord, provider: Provider | None, overhead_ms: float) -> None:
        """Queues a finished call's usage record (the writer adds its footprint from ``provider``) and counts it
        in the metrics. ``finish`` ends here; so do V2 inferences, which have no ticket."""
        self.writer.submit(PendingUsage(entry, provider))
        if self.observer is not None:
            self.observer(entry, overhead_ms)

    def refused(self, principal: Principal, route: Route, endpoint: str, request_id: str, status: int) -> None:
        """Records a request that was refused before any call (a limit or a spent budget); ``endpoint`` is an
        ``Operation`` or ``passthrough``."""
        record = CallRecord(Operation.chat, route)  # finish reads the ticket's endpoint, not the record's operation
        record.status = status
        record.finished_at = record.started
        self.finish(Ticket(principal, route, str(endpoint), request_id, datetime.now(UTC)), record, 0.0)

    def _settle(self, changes: list[Change]) -> None:
        self._pending += changes
        if self._settling is None or self._settling.done():
            self._settling = asyncio.create_task(self._flush_settlements(), name="switchyard-settle")

    async def _flush_settlements(self) -> None:
        await asyncio.sleep(SETTLE_DELAY_SECONDS)
        while self._pending:
            pending, self._pending = self._pending, []
            try:
                await self._counters.settle(pending)
            except Exception:  # the reservations stay as they were: limits err on the safe side
                log.warning("could not settle %d counter changes", len(pending), exc_info=True)

    async def drain(self) -> None:
        """Waits until every settlement so far reached the counters."""
        while self._settling is not None and not self._settling.done():
            await asyncio.gather(self._settling, return_exceptions=True)

    async def close(self) -> None:
        if self._settling is not None:
            await asyncio.gather(self._settling, return_exceptions=True)
        if self._pending:
            await self._flush_settlements()
