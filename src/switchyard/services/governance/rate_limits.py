"""Which rate limits apply to a request, and the counter claims that count it.

Limits come from the caller's role (per router, ``*`` for every router without one of its own), from overrides on
the user and on the API key, and from the router's rule. Each is counted in its own fixed window (the minute or
the UTC day) and bucket: role limits per user (or per the bucket the router's rule chooses), user overrides per
user, key overrides per key. Every one must hold — the most restrictive wins.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from switchyard.adapters.counters import Claim
from switchyard.domain.gateway import Router
from switchyard.domain.governance import ANY_ROUTER, LimitScope, LimitType, RateLimit
from switchyard.services.governance.budgets import is_priced
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


@dataclass(slots=True)  # made per request: not frozen, whose init costs ~3× more
class LimitClaim:
    scope: LimitScope
    type: LimitType
    value: int
    claim: Claim
    resets_at: float
    """Unix time at which the window ends."""
    counts_tokens: bool
    """``type.counts_tokens``, given by whoever makes the claim (an enum property read per request costs more)."""


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


def counter_prefix(scope: LimitScope, bucket: str, counter: str, kind: LimitType) -> str:
    """A limit's counter key without the window's number."""
    return f"rl:{scope.value}:{bucket}:{counter}:{kind.value}:"


def counter_key(scope: LimitScope, bucket: str, counter: str, kind: LimitType, index: int) -> str:
    return f"{counter_prefix(scope, bucket, counter, kind)}{index}"


@dataclass(slots=True)
class PlannedLimit:
    """One limit that applies to a caller on a router or deployment: its claim but for the window, which is
    filled in per request (and kept while it lasts: the counter key is built once per window)."""

    scope: LimitScope
    type: LimitType
    value: int
    prefix: str
    """The counter key without the window's number."""
    ttl: int
    _seconds: int = field(init=False)
    _counts_tokens: bool = field(init=False)
    _index: int = -1
    _key: str = ""
    _ends: float = 0.0
    _one: LimitClaim | None = None
    """The claim of a request limit in the current window (its amount is always 1)."""

    def __post_init__(self) -> None:
        self._seconds = self.type.window_seconds
        self._counts_tokens = self.type.counts_tokens

    def claim(self, tokens: int, now: float) -> LimitClaim:
        """The claim counting one request of ``tokens`` tokens at ``now``."""
        seconds = self._seconds
        index = int(now // seconds)
        if index != self._index:
            self._index, self._key, self._ends = index, f"{self.prefix}{index}", float((index + 1) * seconds)
            self._one = None
        if self._counts_tokens:
            claim = Claim(self._key, tokens, self.value, self.ttl)
            return LimitClaim(self.scope, self.type, self.value, claim, self._ends, counts_tokens=True)
        if self._one is None:
            claim = Claim(self._key, 1, self.value, self.ttl)
            self._one = LimitClaim(self.scope, self.type, self.value, claim, self._ends, counts_tokens=False)
        return self._one


def _planned(scope: LimitScope, bucket: str, limits: dict[LimitType, int], counter: str) -> list[PlannedLimit]:
    ttl = WINDOW_GRACE_SECONDS
    return [
        PlannedLimit(scope, kind, value, counter_prefix(scope, bucket, counter, kind), kind.window_seconds + ttl)
        for kind, value in limits.items()
    ]


def default_buckets(principal: Principal) -> dict[LimitScope, str]:
    buckets = {LimitScope.role: f"u{principal.user_id}", LimitScope.user: f"u{principal.user_id}"}
    if principal.key_id is not None:
        buckets[LimitScope.key] = f"k{principal.key_id}"
    return buckets


def planned_limits(principal: Principal, metered: Metered, choice: RuleChoice | None) -> list[PlannedLimit]:
    """Every limit that applies to ``principal``'s requests on ``metered`` (the router's rule chose ``choice``)."""
    buckets = default_buckets(principal)
    planned: list[PlannedLimit] = []
    if choice is not None and choice.limits is not None:
        bucket = f"b:{choice.bucket}" if choice.bucket else buckets[LimitScope.role]
        planned += _planned(LimitScope.rule, bucket, choice.limits, metered.counter)
    elif principal.limits:
        bucket = f"b:{choice.bucket}" if choice is not None and choice.bucket else buckets[LimitScope.role]
        own = effective_limits(principal.limits, metered.names)
        planned += _planned(LimitScope.role, bucket, own, metered.counter)
    if principal.user_limits:
        own = effective_limits(principal.user_limits, metered.names)
        planned += _planned(LimitScope.user, buckets[LimitScope.user], own, metered.counter)
    if principal.key_limits and LimitScope.key in buckets:
        own = effective_limits(principal.key_limits, metered.names)
        planned += _planned(LimitScope.key, buckets[LimitScope.key], own, metered.counter)
    return planned


def limit_claims(
    principal: Principal, metered: Metered, tokens: int, choice: RuleChoice | None, now: float
) -> list[LimitClaim]:
    """The claims counting one request of ``tokens`` (reserved) tokens against every limit that applies."""
    return [limit.claim(tokens, now) for limit in planned_limits(principal, metered, choice)]


@dataclass(slots=True)
class AdmissionPlan:
    """What admitting ``principal``'s requests on ``router`` takes, worked out once for the pair: the limits
    (when the router has no rule: a rule chooses per request), whether budgets apply, whether anything does."""

    limits: list[PlannedLimit]
    priced: bool
    """The router has a price and the caller has budgets."""
    governed: bool
    """Any limit, rule or budget applies (else admission claims nothing)."""


class LimitPlans:
    """``AdmissionPlan`` per (principal, router) pair, made once rather than once per request (~10 µs of a
    governed request's CPU, bench/RESULTS.md). Principals and routers are immutable — an identity edit or a
    routing reload makes new ones — so a pair seen again has the same plan. Entries hold their pair, so neither
    object's id can be reused while its entry lives; past ``max_entries`` pairs the cache starts over."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._plans: dict[tuple[int, int], tuple[Principal, Router, AdmissionPlan]] = {}
        self._max = max_entries

    def plan(self, principal: Principal, router: Router) -> AdmissionPlan:
        key = (id(principal), id(router))
        entry = self._plans.get(key)
        if entry is None or entry[0] is not principal or entry[1] is not router:
            if len(self._plans) >= self._max:
                self._plans.clear()
            entry = self._plans[key] = (principal, router, _admission_plan(principal, router))
        return entry[2]

    def claims(self, principal: Principal, router: Router, tokens: int, now: float) -> list[LimitClaim]:
        """The claims of one request on a router without a rule."""
        return [limit.claim(tokens, now) for limit in self.plan(principal, router).limits]


def _admission_plan(principal: Principal, router: Router) -> AdmissionPlan:
    priced = bool(principal.budgets) and is_priced(router)
    limited = bool(principal.limits or principal.user_limits or principal.key_limits)
    limits = planned_limits(principal, metered_router(router), None) if limited and not router.rate_limit_rule else []
    return AdmissionPlan(limits, priced, limited or priced or bool(router.rate_limit_rule))


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


HeaderPairs = list[tuple[bytes, bytes]]

_REQUEST_HEADERS = (b"x-ratelimit-limit-requests", b"x-ratelimit-remaining-requests", b"x-ratelimit-reset-requests")
_TOKEN_HEADERS = (b"x-ratelimit-limit-tokens", b"x-ratelimit-remaining-tokens", b"x-ratelimit-reset-tokens")


@functools.lru_cache(maxsize=4096)
def _reset(seconds: int) -> bytes:
    return duration(seconds).encode()


def rate_header_pairs(claims: list[LimitClaim], values: list[int], now: float) -> HeaderPairs:
    """OpenAI's ``x-ratelimit-*`` headers from the tightest request limit and the tightest token limit, as the
    answer's header pairs."""
    requests: LimitClaim | None = None
    tokens: LimitClaim | None = None
    left_requests = left_tokens = 0
    for claim, used in zip(claims, values, strict=False):
        remaining = claim.value - used
        if claim.counts_tokens:
            if tokens is None or remaining < left_tokens:
                tokens, left_tokens = claim, remaining
        elif requests is None or remaining < left_requests:
            requests, left_requests = claim, remaining
    headers: HeaderPairs = []
    tightest_pairs = ((_REQUEST_HEADERS, requests, left_requests), (_TOKEN_HEADERS, tokens, left_tokens))
    for (limit, left, reset), tightest, remaining in tightest_pairs:
        if tightest is not None:
            headers += (
                (limit, b"%d" % tightest.value),
                (left, b"%d" % max(0, remaining)),
                (reset, _reset(math.ceil(tightest.resets_at - now))),
            )
    return headers


def rate_headers(claims: list[LimitClaim], values: list[int], now: float) -> dict[str, str]:
    """``rate_header_pairs`` as a dict of strings (for errors and for answers not sent as raw ASGI)."""
    return {name.decode(): value.decode() for name, value in rate_header_pairs(claims, values, now)}
