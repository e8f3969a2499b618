"""Which rate limits apply to a request, and the counter claims that count it.

Limits come from the caller's role (per router, ``*`` for every router without one of its own), from overrides on
the user and on the API key, and from the router's rule. Each is counted in its own fixed window (the minute or
the UTC day) and bucket: role limits per user (or per the bucket the router's rule chooses), user overrides per
user, key overrides per key. Every one must hold — the most restrictive wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from switchyard.adapters.counters import Claim
from switchyard.domain.gateway import Router
from switchyard.domain.governance import ANY_ROUTER, LimitScope, LimitType, RateLimit
from switchyard.services.governance.rules import RuleChoice
from switchyard.services.principal import Principal

WINDOW_GRACE_SECONDS = 5
"""A window's counter outlives the window a little, so that late settlements still find it."""


@dataclass(frozen=True, slots=True)
class Metered:
    """What a request is counted against: a router, or a deployment (deployments share the routers' names for
    access, so a role's limit on a name applies to whichever serves it)."""

    counter: str
    """The counter keys' part for it: the router's id, or ``d{id}`` for a deployment — stable across renames."""
    names: frozenset[str]
    """The names a limit may be set on: the router's name and aliases, or the deployment's name."""


def metered_router(router: Router) -> Metered:
    return Metered(str(router.id), frozenset((router.name, *router.aliases)))


def metered_deployment(deployment_id: int, name: str) -> Metered:
    return Metered(f"d{deployment_id}", frozenset((name,)))


@dataclass(frozen=True, slots=True)
class LimitClaim:
    scope: LimitScope
    type: LimitType
    value: int
    claim: Claim
    resets_at: float
    """Unix time at which the window ends."""


def effective_limits(limits: Iterable[RateLimit], names: frozenset[str]) -> dict[LimitType, int]:
    """Limits on a router (or deployment) known by ``names``: its own entries (by name or alias) replace the ``*``
    ones, type by type."""
    default: dict[LimitType, int] = {}
    specific: dict[LimitType, int] = {}
    for limit in limits:
        if limit.router in names:
            specific[limit.type] = min(specific.get(limit.type, limit.value), limit.value)
        elif limit.router == ANY_ROUTER:
            default[limit.type] = min(default.get(limit.type, limit.value), limit.value)
    return {**default, **specific}


def window(kind: LimitType, now: float) -> tuple[int, float]:
    """The window's number and the Unix time it ends."""
    seconds = kind.window_seconds
    index = int(now // seconds)
    return index, float((index + 1) * seconds)


def counter_key(scope: LimitScope, bucket: str, counter: str, kind: LimitType, index: int) -> str:
    return f"rl:{scope.value}:{bucket}:{counter}:{kind.value}:{index}"


def _claims(
    scope: LimitScope, bucket: str, limits: dict[LimitType, int], counter: str, tokens: int, now: float
) -> list[LimitClaim]:
    out = []
    for kind, value in limits.items():
        index, ends = window(kind, now)
        amount = tokens if kind.counts_tokens else 1
        key = counter_key(scope, bucket, counter, kind, index)
        claim = Claim(key, amount, value, kind.window_seconds + WINDOW_GRACE_SECONDS)
        out.append(LimitClaim(scope, kind, value, claim, ends))
    return out


def default_buckets(principal: Principal) -> dict[LimitScope, str]:
    buckets = {LimitScope.role: f"u{principal.user_id}", LimitScope.user: f"u{principal.user_id}"}
    if principal.key_id is not None:
        buckets[LimitScope.key] = f"k{principal.key_id}"
    return buckets


def limit_claims(
    principal: Principal, metered: Metered, tokens: int, choice: RuleChoice | None, now: float
) -> list[LimitClaim]:
    """The claims counting one request of ``tokens`` (reserved) tokens against every limit that applies."""
    buckets = default_buckets(principal)
    claims: list[LimitClaim] = []
    if choice is not None and choice.limits is not None:
        bucket = f"b:{choice.bucket}" if choice.bucket else buckets[LimitScope.role]
        claims += _claims(LimitScope.rule, bucket, choice.limits, metered.counter, tokens, now)
    elif principal.limits:
        bucket = f"b:{choice.bucket}" if choice is not None and choice.bucket else buckets[LimitScope.role]
        own = effective_limits(principal.limits, metered.names)
        claims += _claims(LimitScope.role, bucket, own, metered.counter, tokens, now)
    if principal.user_limits:
        own = effective_limits(principal.user_limits, metered.names)
        claims += _claims(LimitScope.user, buckets[LimitScope.user], own, metered.counter, tokens, now)
    if principal.key_limits and LimitScope.key in buckets:
        own = effective_limits(principal.key_limits, metered.names)
        claims += _claims(LimitScope.key, buckets[LimitScope.key], own, metered.counter, tokens, now)
    return claims


def duration(seconds: float) -> str:
    """OpenAI's reset format: ``1s``, ``6m0s``, ``2h3m4s``."""
    total = max(1, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def rate_headers(claims: list[LimitClaim], values: list[int], now: float) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*`` headers from the tightest request limit and the tightest token limit."""
    headers: dict[str, str] = {}
    for suffix, tokens in (("requests", False), ("tokens", True)):
        tightest: tuple[int, LimitClaim] | None = None
        for claim, used in zip(claims, values, strict=False):
            if claim.type.counts_tokens != tokens:
                continue
            remaining = max(0, claim.value - used)
            if tightest is None or remaining < tightest[0]:
                tightest = (remaining, claim)
        if tightest is not None:
            remaining, claim = tightest
            headers[f"x-ratelimit-limit-{suffix}"] = str(claim.value)
            headers[f"x-ratelimit-remaining-{suffix}"] = str(remaining)
            headers[f"x-ratelimit-reset-{suffix}"] = duration(claim.resets_at - now)
    return headers
