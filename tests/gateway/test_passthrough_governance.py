"""Pass-through calls (``/v1/providers/{name}/…``) are governed like routed ones: limits, budgets, usage records."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from switchyard.services.platform import Platform
from tests.conftest import CallerFactory, ModelFactory
from tests.gateway.test_governance import CACHED, COMPLETION, PROMPT, records, set_role_limits

H = dict[str, str]
CHAT = {"model": "anything", "messages": [{"role": "user", "content": "hi"}]}


async def raw_model(models: ModelFactory, router: str, wire_format: str = "openai", **fields: Any) -> str:
    """A router over one provider; the provider's name, for /v1/providers/{name}."""
    provider = await models.provider(f"{router}-upstream", wire_format=wire_format)
    await models.router(router, [provider], **fields)
    return str(provider["name"])


async def test_the_routers_request_limit_holds_pass_through_calls_and_they_are_recorded(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: H, new_caller: CallerFactory, models: ModelFactory
) -> None:
    platform: Platform = app.state.platform
    provider = await raw_model(models, "raw-limited")
    caller = await new_caller()
    await set_role_limits(
        client, admin_headers, caller["role"]["id"], [{"router": "raw-limited", "type": "rpm", "value": 2}]
    )
    url = f"/v1/providers/{provider}/chat/completions"
    answers = [
        await client.post(url, json=CHAT, headers=caller["headers"] | {"x-request-id": f"raw-lim-{i}"})
        for i in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["x-ratelimit-limit-requests"] == "2"
    assert answers[1].headers["x-ratelimit-remaining-requests"] == "0"
    refused = answers[2]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded" and int(refused.headers["retry-after"]) >= 1
    # The routed door shares the same counter: the router's limit is spent for chat completions too.
    routed = await client.post("/v1/chat/completions", json=CHAT | {"model": "raw-limited"}, headers=caller["headers"])
    assert routed.status_code == 429
    rows = {r.request_id: r for r in await records(platform) if r.request_id.startswith("raw-lim-")}
    assert [rows[f"raw-lim-{i}"].status for i in range(3)] == [200, 200, 429]
    first = rows["raw-lim-0"]
    assert (first.router, first.provider, first.endpoint) == ("raw-limited", provider, "passthrough")
    assert (first.prompt_tokens, first.completion_tokens, first.cached_tokens) == (PROMPT, COMPLETION, CACHED)
    assert first.latency_ms > 0 and first.ttft_ms is None


@pytest.mark.parametrize("stream", [False, True])
async def test_pass_through_usage_settles_token_limits_and_budgets(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: H,
    new_caller: CallerFactory,
    models: ModelFactory,
    stream: bool,
) -> None:
    platform: Platform = app.state.platform
    provider = await raw_model(models, "raw-priced", cost_prompt_tokens=1000.0, cost_completion_tokens=2000.0)
    caller = await new_caller()
    await set_role_limits(client, admin_headers, caller["role"]["id"], [{"type": "tpm", "value": 1000}])
    cost = (PROMPT * 1000 + COMPLETION * 2000) / 1_000_000
    answer = await client.patch(
        f"/api/v1/users/{caller['user']['id']}", json={"budget": 2.5 * cost}, headers=admin_headers
    )
    assert answer.status_code == 200
    body = CHAT | {"max_tokens": 10}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    url = f"/v1/providers/{provider}/chat/completions"
    statuses = []
    for i in range(3):
        sent = await client.post(url, json=body, headers=caller["headers"] | {"x-request-id": f"raw-b-{stream}-{i}"})
        statuses.append(sent.status_code)
        await platform.governor.drain()
    assert statuses == [200, 200, 429]
    rows = [r for r in await records(platform) if r.request_id.startswith(f"raw-b-{stream}-")]
    assert [(r.status, r.prompt_tokens, r.completion_tokens) for r in rows[:2]] == [(200, PROMPT, COMPLETION)] * 2
    assert rows[0].cost == pytest.approx(cost)
    assert (rows[0].ttft_ms is not None) is stream
    spent = await client.get(f"/api/v1/users/{caller['user']['id']}", headers=admin_headers)
    assert spent.json()["spent"] == pytest.approx(2 * cost)
    limits = await client.get("/api/v1/me/limits", headers=caller["headers"])
    (router,) = [r for r in limits.json()["routers"] if r["router"] == "raw-priced"]
    (tpm,) = [limit for limit in router["limits"] if limit["type"] == "tpm"]
    assert tpm["used"] == 2 * (PROMPT + COMPLETION)  # settled at the real usage, not the reserved max_tokens


async def test_anthropic_usage_is_read_from_the_providers_own_stream(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: H, models: ModelFactory
) -> None:
    platform: Platform = app.state.platform
    provider = await raw_model(models, "raw-claude", wire_format="anthropic")
    body = {"model": "raw-claude-upstream", "max_tokens": 64, "stream": True, "messages": CHAT["messages"]}
    answer = await client.post(
        f"/v1/providers/{provider}/messages", json=body, headers=admin_headers | {"x-request-id": "raw-claude-1"}
    )
    assert answer.status_code == 200 and "message_delta" in answer.text
    (row,) = [r for r in await records(platform) if r.request_id == "raw-claude-1"]
    assert row.prompt_tokens == 5 and row.cached_tokens == 3 and row.completion_tokens > 0


async def test_an_answer_without_usage_counts_its_estimate_and_an_upstream_error_counts_nothing(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: H, new_caller: CallerFactory, models: ModelFactory
) -> None:
    platform: Platform = app.state.platform
    provider = await raw_model(models, "raw-plain")
    caller = await new_caller()
    await set_role_limits(client, admin_headers, caller["role"]["id"], [{"type": "tpm", "value": 1000}])
    listed = await client.get(
        f"/v1/providers/{provider}/models", headers=caller["headers"] | {"x-request-id": "raw-plain-list"}
    )
    assert listed.status_code == 200
    # A body the gateway cannot read usage from (a completion the mock answers as JSON without usage would do
    # as well): a POST to a path the upstream does not know → its 404, counted as no tokens.
    missing = await client.post(
        f"/v1/providers/{provider}/no/such/path",
        json={"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 10},
        headers=caller["headers"] | {"x-request-id": "raw-plain-404"},
    )
    assert missing.status_code == 404
    await platform.governor.drain()
    rows = {r.request_id: r for r in await records(platform) if r.request_id.startswith("raw-plain-")}
    assert (rows["raw-plain-list"].status, rows["raw-plain-list"].prompt_tokens) == (200, 0)
    assert (rows["raw-plain-404"].status, rows["raw-plain-404"].prompt_tokens) == (404, 0)
    limits = await client.get("/api/v1/me/limits", headers=caller["headers"])
    (router,) = [r for r in limits.json()["routers"] if r["router"] == "raw-plain"]
    assert [limit["used"] for limit in router["limits"] if limit["type"] == "tpm"] == [0]


async def test_the_body_model_chooses_the_router_a_shared_provider_is_counted_on(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: H, new_caller: CallerFactory, models: ModelFactory
) -> None:
    platform: Platform = app.state.platform
    provider = await models.provider("shared-upstream")
    await models.router("raw-alpha", [provider])
    await models.router("raw-beta", [provider])
    caller = await new_caller()
    await set_role_limits(
        client, admin_headers, caller["role"]["id"], [{"router": "raw-beta", "type": "rpm", "value": 1}]
    )
    url = f"/v1/providers/{provider['name']}/chat/completions"
    by_default = await client.post(url, json=CHAT, headers=caller["headers"] | {"x-request-id": "raw-shared-1"})
    named = [
        (await client.post(url, json=CHAT | {"model": "raw-beta"}, headers=caller["headers"])).status_code
        for _ in range(2)
    ]
    assert by_default.status_code == 200 and named == [200, 429]
    (row,) = [r for r in await records(platform) if r.request_id == "raw-shared-1"]
    assert row.router == "raw-alpha"  # the first by name when the body names none of them
