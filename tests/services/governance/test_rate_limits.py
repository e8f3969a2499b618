"""Rate-limit claims: the plans cached per (principal, router) give exactly the claims planned afresh, follow the
window, and a changed principal or router (a new object) is planned again."""

from __future__ import annotations

from dataclasses import replace

from switchyard.domain.gateway import ModelType, Router, RouterMode, Strategy
from switchyard.domain.governance import LimitScope, LimitType, RateLimit
from switchyard.services.governance.rate_limits import LimitPlans, limit_claims, metered_router, rate_headers
from switchyard.services.principal import Principal

MINUTE_START = 1_800_000_000.0 - 1_800_000_000.0 % 60


def router(name: str = "chat", aliases: tuple[str, ...] = ("chat-alias",)) -> Router:
    return Router(
        id=7,
        name=name,
        aliases=list(aliases),
        description="",
        model_type=ModelType.text_generation,
        mode=RouterMode.loadbalance,
        strategy=Strategy.weighted,
        cost_prompt_tokens=0.0,
        cost_completion_tokens=0.0,
        usage_extras=False,
        enabled=True,
    )


def principal(**fields: object) -> Principal:
    base = Principal(
        user_id=3,
        email="a@example.com",
        role_id=1,
        role_name="r",
        permissions=frozenset(),
        key_id=11,
        limits=(RateLimit("*", LimitType.rpm, 100), RateLimit("chat", LimitType.tpm, 5000)),
        user_limits=(RateLimit("chat-alias", LimitType.rpd, 1000),),
        key_limits=(RateLimit("*", LimitType.tpd, 90_000),),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_cached_plans_give_the_claims_of_a_fresh_plan() -> None:
    plans, who, chat = LimitPlans(), principal(), router()
    for now, tokens in ((MINUTE_START + 1, 40), (MINUTE_START + 2, 7), (MINUTE_START + 61, 12)):
        assert plans.claims(who, chat, tokens, now) == limit_claims(who, metered_router(chat), tokens, None, now)
    claims = plans.claims(who, chat, 40, MINUTE_START + 1)
    assert [(c.scope, c.type, c.value, c.claim.amount) for c in claims] == [
        (LimitScope.role, LimitType.rpm, 100, 1),
        (LimitScope.role, LimitType.tpm, 5000, 40),
        (LimitScope.user, LimitType.rpd, 1000, 1),
        (LimitScope.key, LimitType.tpd, 90_000, 40),
    ]
    minute = int((MINUTE_START + 1) // 60)
    assert claims[0].claim.key == f"rl:role:u3:7:rpm:{minute}" and claims[0].resets_at == MINUTE_START + 60
    later = plans.claims(who, chat, 40, MINUTE_START + 60)
    assert later[0].claim.key == f"rl:role:u3:7:rpm:{minute + 1}" and later[0].resets_at == MINUTE_START + 120


def test_a_new_principal_or_router_is_planned_again() -> None:
    plans, chat = LimitPlans(), router()
    before = plans.claims(principal(), chat, 1, MINUTE_START)
    lowered = principal(limits=(RateLimit("*", LimitType.rpm, 5),))  # the role's limits were edited
    after = plans.claims(lowered, chat, 1, MINUTE_START)
    assert [c.value for c in before] == [100, 5000, 1000, 90_000]
    assert [c.value for c in after] == [5, 1000, 90_000]
    renamed = router(name="other", aliases=())  # a routing reload: no alias matches the user's rpd limit now
    assert [c.type for c in plans.claims(lowered, renamed, 1, MINUTE_START)] == [LimitType.rpm, LimitType.tpd]


def test_plans_start_over_past_their_size() -> None:
    plans, chat = LimitPlans(max_entries=2), router()
    people = [principal(user_id=n) for n in range(5)]
    for person in people:
        assert plans.claims(person, chat, 1, MINUTE_START)[0].claim.key.startswith(f"rl:role:u{person.user_id}:")
    assert len(plans._plans) <= 2


def test_rate_headers_name_the_tightest_request_and_token_limits() -> None:
    claims = LimitPlans().claims(principal(), router(), 40, MINUTE_START + 30)
    headers = rate_headers(claims, [99, 4990, 10, 100], MINUTE_START + 30)
    assert headers == {
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "1",
        "x-ratelimit-reset-requests": "30s",
        "x-ratelimit-limit-tokens": "5000",
        "x-ratelimit-remaining-tokens": "10",
        "x-ratelimit-reset-tokens": "30s",
    }
