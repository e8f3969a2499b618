"""Rate limits, budgets, rules and usage records on /v1, through the real app (both backends)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest
from ecologits.electricity_mix_repository import electricity_mixes
from ecologits.impacts.llm import compute_llm_impacts
from fastapi import FastAPI
from sqlalchemy import select

from switchyard.services.platform import Platform
from switchyard.store.tables import UsageRecordRow
from tests.conftest import CallerFactory, ModelFactory

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
PROMPT, COMPLETION, CACHED = 11, 6, 3  # what the mock upstream reports


def chat(model: str, **fields: Any) -> dict[str, Any]:
    return {"model": model, **CHAT, **fields}


async def set_role_limits(client: httpx.AsyncClient, admin: dict[str, str], role_id: int, limits: list[Any]) -> None:
    answer = await client.patch(f"/api/v1/roles/{role_id}", json={"limits": limits}, headers=admin)
    assert answer.status_code == 200, answer.text


async def records(platform: Platform) -> list[UsageRecordRow]:
    await platform.governor.writer.flush()
    async with platform.sessions() as session:
        return list((await session.execute(select(UsageRecordRow).order_by(UsageRecordRow.id))).scalars())


async def test_rpm_of_the_role_answers_429_in_openai_shape_with_its_headers(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_caller: CallerFactory, models: ModelFactory
) -> None:
    await models.model("limited")
    caller = await new_caller()
    await set_role_limits(
        client, admin_headers, caller["role"]["id"], [{"router": "limited", "type": "rpm", "value": 2}]
    )
    first = await client.post("/v1/chat/completions", json=chat("limited"), headers=caller["headers"])
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    second = await client.post("/v1/chat/completions", json=chat("limited"), headers=caller["headers"])
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    third = await client.post("/v1/chat/completions", json=chat("limited"), headers=caller["headers"])
    assert third.status_code == 429
    error = third.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert "rpm" in error["message"]
    assert 1 <= int(third.headers["retry-after"]) <= 60
    assert third.headers["x-ratelimit-remaining-requests"] == "0"
    # The admin's role has no limit: unaffected.
    assert (await client.post("/v1/chat/completions", json=chat("limited"), headers=admin_headers)).status_code == 200


async def test_a_star_limit_applies_per_router_and_a_router_entry_replaces_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_caller: CallerFactory, models: ModelFactory
) -> None:
    await models.model("one")
    await models.model("two")
    caller = await new_caller()
    limits = [{"router": "*", "type": "rpm", "value": 1}, {"router": "two", "type": "rpm", "value": 3}]
    await set_role_limits(client, admin_headers, caller["role"]["id"], limits)
    statuses = [
        (await client.post("/v1/chat/completions", json=chat(model), headers=caller["headers"])).status_code
        for model in ("one", "one", "two", "two", "two", "two")
    ]
    assert statuses == [200, 429, 200, 200, 200, 429]


async def test_key_and_user_overrides_apply_on_top_of_the_role(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_caller: CallerFactory, models: ModelFactory
) -> None:
    await models.model("over")
    caller = await new_caller()
    await set_role_limits(client, admin_headers, caller["role"]["id"], [{"type": "rpm", "value": 100}])
    user_id = caller["user"]["id"]
    answer = await client.patch(
        f"/api/v1/users/{user_id}", json={"limits": [{"type": "rpd", "value": 3}]}, headers=admin_headers
    )
    assert answer.status_code == 200 and answer.json()["limits"] == [{"router": "*", "type": "rpd", "value": 3}]
    strict = await client.post(
        "/api/v1/keys",
        json={"name": "strict", "user_id": user_id, "limits": [{"router": "over", "type": "rpm", "value": 1}]},
        headers=admin_headers,
    )
    assert strict.status_code == 201, strict.text
    strict_headers = {"Authorization": f"Bearer {strict.json()['key']}"}
    assert (await client.post("/v1/chat/completions", json=chat("over"), headers=strict_headers)).status_code == 200
    refused = await client.post("/v1/chat/completions", json=chat("over"), headers=strict_headers)
    assert refused.status_code == 429 and "key limit" in refused.json()["error"]["message"]
    # The user's other key is not held by the strict key's limit, but by the user's rpd (2 of 3 used after this).
    assert (await client.post("/v1/chat/completions", json=chat("over"), headers=caller["headers"])).status_code == 200
    assert (await client.post("/v1/chat/completions", json=chat("over"), headers=caller["headers"])).status_code == 200
    last = await client.post("/v1/chat/completions", json=chat("over"), headers=caller["headers"])
    assert last.status_code == 429 and "user limit" in last.json()["error"]["message"]


async def test_token_limits_reserve_max_tokens_and_settle_with_real_usage(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_caller: CallerFactory,
    models: ModelFactory,
) -> None:
    platform: Platform = app.state.platform
    await models.model("tokens")
    caller = await new_caller()
    await set_role_limits(client, admin_headers, caller["role"]["id"], [{"type": "tpm", "value": 40}])
    too_big = await client.post("/v1/chat/completions", json=chat("tokens", max_tokens=100), headers=caller["headers"])
    assert too_big.status_code == 429 and "too large" in too_big.json()["error"]["message"]
    ok = await client.post("/v1/chat/completions", json=chat("tokens", max_tokens=20), headers=caller["headers"])
    assert ok.status_code == 200
    assert ok.headers["x-ratelimit-limit-tokens"] == "40"
    await platform.governor.drain()
    # Settled to the real 17 tokens; each next request reserves its estimate (5) and settles at 17 too:
    # 17 + 5 fits, 34 + 5 fits, 51 + 5 does not.
    statuses = []
    for _ in range(3):
        answer = await client.post("/v1/chat/completions", json=chat("tokens"), headers=caller["headers"])
        statuses.append(answer.status_code)
        await platform.governor.drain()
    assert statuses == [200, 200, 429]


async def test_concurrent_requests_admit_exactly_the_limit(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_caller: CallerFactory, models: ModelFactory
) -> None:
    await models.model("burst")
    caller = await new_caller()
    await set_role_limits(client, admin_headers, caller["role"]["id"], [{"type": "rpd", "value": 25}])
    answers = await asyncio.gather(
        *(client.post("/v1/chat/completions", json=chat("burst"), headers=caller["headers"]) for _ in range(80))
    )
    assert sorted({a.status_code for a in answers}) == [200, 429]
    assert sum(a.status_code == 200 for a in answers) == 25


async def test_budget_is_reserved_settled_and_refused_with_insufficient_quota(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_caller: CallerFactory,
    models: ModelFactory,
) -> None:
    platform: Platform = app.state.platform
    await models.model("priced", cost_prompt_tokens=1000.0, cost_completion_tokens=2000.0)
    caller = await new_caller()
    cost = (PROMPT * 1000 + COMPLETION * 2000) / 1_000_000  # 0.023 a request
    answer = await client.patch(f"/api/v1/users/{caller['user']['id']}", json={"budget": 0.05}, headers=admin_headers)
    assert answer.status_code == 200
    statuses = []
    for _ in range(3):
        statuses.append(
            (await client.post("/v1/chat/completions", json=chat("priced"), headers=caller["headers"])).status_code
        )
        await platform.governor.drain()
    assert statuses == [200, 200, 429]
    refused = await client.post("/v1/chat/completions", json=chat("priced"), headers=caller["headers"])
    error = refused.json()["error"]
    assert refused.status_code == 429
    assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
    rows = [r for r in await records(platform) if r.user_id == caller["user"]["id"]]
    assert [r.status for r in rows] == [200, 200, 429, 429]
    assert [round(r.cost, 6) for r in rows] == [cost, cost, 0, 0]
    me = await client.get("/api/v1/users/" + str(caller["user"]["id"]), headers=admin_headers)
    assert me.json()["spent"] == pytest.approx(2 * cost)
    # A free model is not held by a spent budget.
    await models.model("free")
    assert (await client.post("/v1/chat/completions", json=chat("free"), headers=caller["headers"])).status_code == 200


async def test_an_organization_budget_holds_all_its_members(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_caller: CallerFactory,
    models: ModelFactory,
) -> None:
    platform: Platform = app.state.platform
    await models.model("org-priced", cost_prompt_tokens=1000.0, cost_completion_tokens=2000.0)
    org = await client.post("/api/v1/organizations", json={"name": "lab", "budget": 0.025}, headers=admin_headers)
    assert org.status_code == 201, org.text
    first, second = await new_caller(), await new_caller()
    for member in (first, second):
        answer = await client.patch(
            f"/api/v1/users/{member['user']['id']}", json={"organization_id": org.json()["id"]}, headers=admin_headers
        )
        assert answer.status_code == 200
    ok = await client.post("/v1/chat/completions", json=chat("org-priced"), headers=first["headers"])
    assert ok.status_code == 200
    await platform.governor.drain()
    refused = await client.post("/v1/chat/completions", json=chat("org-priced"), headers=second["headers"])
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "insufficient_quota"
    assert "organization budget" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("user.id +", "not a valid CEL expression"),
        ("tenant == 1", "unknown variable"),
        ("42", "must answer a string"),
        ('{"rpm": "many"}', "'rpm' must be an integer"),
        ('{"burst": 3}', "unknown fields"),
    ],
)
async def test_an_invalid_rule_is_refused_when_saved(
    client: httpx.AsyncClient, admin_headers: dict[str, str], models: ModelFactory, rule: str, fragment: str
) -> None:
    router = await models.model("ruled")
    answer = await client.patch(
        f"/api/v1/routers/{router['id']}", json={"rate_limit_rule": rule}, headers=admin_headers
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == "rate_limit_rule" and fragment in error["message"]
    stored = await client.get(f"/api/v1/routers/{router['id']}", headers=admin_headers)
    assert stored.json()["rate_limit_rule"] is None


async def test_a_rule_can_share_a_bucket_across_an_organization_and_choose_limits(
    client: httpx.AsyncClient, admin_headers: dict[str, str], new_caller: CallerFactory, models: ModelFactory
) -> None:
    rule = 'organization != null ? {"bucket": "org-" + string(organization), "rpm": 2} : "user-" + string(user.id)'
    await models.model("shared", rate_limit_rule=rule)
    org = await client.post("/api/v1/organizations", json={"name": "team"}, headers=admin_headers)
    first, second, loner = await new_caller(), await new_caller(), await new_caller()
    for member in (first, second):
        await client.patch(
            f"/api/v1/users/{member['user']['id']}", json={"organization_id": org.json()["id"]}, headers=admin_headers
        )
    await set_role_limits(client, admin_headers, loner["role"]["id"], [{"type": "rpm", "value": 1}])

    async def status(who: dict[str, Any]) -> int:
        return (await client.post("/v1/chat/completions", json=chat("shared"), headers=who["headers"])).status_code

    assert [await status(first), await status(second), await status(first)] == [200, 200, 429]
    assert [await status(loner), await status(loner)] == [200, 429]  # no org: the role's limit, per user


async def test_usage_records_carry_tokens_cost_latency_and_the_ecologits_footprint(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], models: ModelFactory
) -> None:
    platform: Platform = app.state.platform
    provider = await models.provider("carbon-model", total_params_b=70.0, active_params_b=12.0, hosting_zone="FRA")
    await models.router("carbon", [provider], cost_prompt_tokens=1.0, cost_completion_tokens=3.0)
    answer = await client.post(
        "/v1/chat/completions", json=chat("carbon"), headers=admin_headers | {"x-request-id": "req-carbon-1"}
    )
    assert answer.status_code == 200
    (row,) = [r for r in await records(platform) if r.request_id == "req-carbon-1"]
    assert (row.router, row.provider, row.endpoint, row.status) == ("carbon", provider["name"], "chat", 200)
    assert (row.prompt_tokens, row.completion_tokens, row.cached_tokens) == (PROMPT, COMPLETION, CACHED)
    assert row.cost == pytest.approx((PROMPT * 1.0 + COMPLETION * 3.0) / 1_000_000)
    assert row.latency_ms > 0 and row.ttft_ms is None and row.key_id is not None
    mix = electricity_mixes.find_electricity_mix(zone="FRA")
    assert mix is not None
    direct = compute_llm_impacts(
        model_active_parameter_count=12.0,
        model_total_parameter_count=70.0,
        output_token_count=COMPLETION,
        if_electricity_mix_adpe=mix.adpe,
        if_electricity_mix_pe=mix.pe,
        if_electricity_mix_gwp=mix.gwp,
        if_electricity_mix_wue=mix.wue,
        datacenter_pue=1.2,
        datacenter_wue=0.5,
        request_latency=row.latency_ms / 1000,
    )
    assert row.kwh == pytest.approx(direct.energy.value)
    assert row.kgco2eq == pytest.approx(direct.gwp.value)


async def test_a_provider_without_parameters_has_no_carbon_figure(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], models: ModelFactory
) -> None:
    platform: Platform = app.state.platform
    await models.model("unknown-size")
    headers = admin_headers | {"x-request-id": "req-no-carbon"}
    assert (await client.post("/v1/chat/completions", json=chat("unknown-size"), headers=headers)).status_code == 200
    (row,) = [r for r in await records(platform) if r.request_id == "req-no-carbon"]
    assert row.kwh is None and row.kgco2eq is None


async def test_a_stream_is_recorded_when_it_ends_with_its_time_to_first_token(
    app: FastAPI, openai_client: openai.AsyncOpenAI, models: ModelFactory
) -> None:
    platform: Platform = app.state.platform
    await models.model("streamed")
    stream = await openai_client.chat.completions.create(
        model="streamed",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": "req-stream-1"},
    )
    async for _ in stream:
        pass
    (row,) = [r for r in await records(platform) if r.request_id == "req-stream-1"]
    assert (row.status, row.prompt_tokens, row.completion_tokens) == (200, PROMPT, COMPLETION)
    assert row.ttft_ms is not None and 0 < row.ttft_ms <= row.latency_ms


async def test_usage_extras_add_cost_and_carbon_without_breaking_the_sdk(
    openai_client: openai.AsyncOpenAI, models: ModelFactory
) -> None:
    provider = await models.provider("extras-model", total_params_b=8.0)
    await models.router("extras", [provider], cost_prompt_tokens=2.0, cost_completion_tokens=4.0, usage_extras=True)
    completion = await openai_client.chat.completions.create(
        model="extras", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.usage is not None
    extra = completion.usage.model_extra or {}
    assert extra["cost"] == pytest.approx((PROMPT * 2.0 + COMPLETION * 4.0) / 1_000_000)
    assert extra["carbon"]["kWh"] > 0 and extra["carbon"]["kgCO2eq"] > 0
    stream = await openai_client.chat.completions.create(
        model="extras",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usages = [chunk.usage for chunk in [c async for c in stream] if chunk.usage is not None]
    assert len(usages) == 1 and (usages[0].model_extra or {})["cost"] == pytest.approx(extra["cost"])


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/api/v1/roles/{role}", {"limits": [{"type": "rpm", "value": -1}]}, "value"),
        ("/api/v1/roles/{role}", {"limits": [{"type": "rps", "value": 1}]}, "type"),
        ("/api/v1/users/{user}", {"limits": [{"type": "tpm", "value": "lots"}]}, "value"),
        ("/api/v1/keys/{key}", {"budget": -5}, "budget"),
        ("/api/v1/routers/{router}", {"cost_prompt_tokens": -1}, "cost_prompt_tokens"),
        ("/api/v1/routers/{router}", {"max_queue_wait_seconds": -1}, "max_queue_wait_seconds"),
    ],
)
async def test_invalid_limits_and_prices_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    new_caller: CallerFactory,
    models: ModelFactory,
    path: str,
    body: dict[str, Any],
    param: str,
) -> None:
    caller = await new_caller()
    router = await models.model("validated")
    url = path.format(
        role=caller["role"]["id"], user=caller["user"]["id"], key=caller["key"]["id"], router=router["id"]
    )
    answer = await client.patch(url, json=body, headers=admin_headers)
    assert answer.status_code in (400, 422), answer.text
    assert param in (answer.json()["error"]["param"] or "")
