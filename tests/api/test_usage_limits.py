"""`GET /api/v1/me/limits`: every limit and budget with what is used and left, after real requests through the
gateway, with in-process and with Redis counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI

from switchyard.settings import Settings
from tests.conftest import CallerFactory, ModelFactory

H = dict[str, str]


@pytest.fixture(params=["memory", "redis"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Both counter backends: limits are read from where the gateway counts them."""
    if request.param == "memory":
        return settings
    return settings.model_copy(update={"redis_url": request.getfixturevalue("redis_url")})


def limits_of(body: dict[str, Any], router: str) -> list[tuple[str, str, int, int, int]]:
    entry = next(r for r in body["routers"] if r["router"] == router)
    return [(lim["scope"], lim["type"], lim["value"], lim["used"], lim["remaining"]) for lim in entry["limits"]]


async def test_limits_show_what_is_used_and_left(
    app: FastAPI,
    client: httpx.AsyncClient,
    models: ModelFactory,
    new_caller: CallerFactory,
    openai_client: openai.AsyncOpenAI,
    admin_headers: H,
) -> None:
    # 11 prompt and 6 completion tokens per answer: 11 * 0.1 + 6 * 0.2 = 2.3 per request.
    await models.model("chat-a", "upstream-a", cost_prompt_tokens=100_000, cost_completion_tokens=200_000)
    await models.model("chat-b", "upstream-b", rate_limit_rule='"shared"')
    await models.model("chat-c", "upstream-c")
    caller = await new_caller()
    role_id, user_id = caller["role"]["id"], caller["user"]["id"]
    role = await client.patch(
        f"/api/v1/roles/{role_id}",
        json={"limits": [{"router": "*", "type": "rpm", "value": 5}, {"router": "*", "type": "tpd", "value": 1000},
                         {"router": "chat-b", "type": "rpm", "value": 2}]},
        headers=admin_headers,
    )  # fmt: skip
    assert role.status_code == 200, role.text
    user = await client.patch(
        f"/api/v1/users/{user_id}",
        json={"budget": 10, "limits": [{"router": "chat-a", "type": "rpd", "value": 100}]},
        headers=admin_headers,
    )
    assert user.status_code == 200, user.text
    key = await client.post(
        "/api/v1/keys",
        json={"name": "scoped", "user_id": user_id, "allowed_routers": ["chat-a", "chat-b"], "budget": 5,
              "limits": [{"router": "*", "type": "rpm", "value": 3}]},
        headers=admin_headers,
    )  # fmt: skip
    assert key.status_code == 201, key.text
    headers = {"Authorization": f"Bearer {key.json()['key']}"}

    before = (await client.get("/api/v1/me/limits", headers=headers)).json()
    assert before["object"] == "limits" and [r["router"] for r in before["routers"]] == ["chat-a", "chat-b"]
    assert limits_of(before, "chat-a") == [
        ("role", "rpm", 5, 0, 5), ("role", "tpd", 1000, 0, 1000), ("user", "rpd", 100, 0, 100), ("key", "rpm", 3, 0, 3),
    ]  # fmt: skip

    sdk = openai_client.with_options(api_key=key.json()["key"])
    for _ in range(2):
        await sdk.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "hi"}])
    await app.state.platform.governor.close()  # waits for the settlement of reserved tokens and money
    now = datetime.now(UTC)

    after = (await client.get("/api/v1/me/limits", headers=headers)).json()
    assert limits_of(after, "chat-a") == [
        ("role", "rpm", 5, 2, 3), ("role", "tpd", 1000, 34, 966), ("user", "rpd", 100, 2, 98), ("key", "rpm", 3, 2, 1),
    ]  # fmt: skip
    chat_b = next(r for r in after["routers"] if r["router"] == "chat-b")
    assert chat_b["has_rule"] is True and after["routers"][0]["has_rule"] is False
    assert limits_of(after, "chat-b") == [
        ("role", "rpm", 2, 0, 2), ("role", "tpd", 1000, 0, 1000), ("key", "rpm", 3, 0, 3),
    ]  # fmt: skip
    resets = {lim["type"]: datetime.fromisoformat(lim["resets_at"]) for lim in after["routers"][0]["limits"]}
    assert now < resets["rpm"] <= now + timedelta(seconds=60) and resets["rpm"].second == 0
    assert resets["tpd"] == datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    assert [(b["scope"], b["owner_id"], b["amount"]) for b in after["budgets"]] == [
        ("key", key.json()["id"], 5), ("user", user_id, 10),
    ]  # fmt: skip
    assert [b["spent"] for b in after["budgets"]] == [pytest.approx(4.6), pytest.approx(4.6)]
    assert [b["left"] for b in after["budgets"]] == [pytest.approx(0.4), pytest.approx(5.4)]

    # The user's other key: every router the user may use, the user's and role's counts, not the other key's.
    other = (await client.get("/api/v1/me/limits", headers=caller["headers"])).json()
    assert [r["router"] for r in other["routers"]] == ["chat-a", "chat-b", "chat-c"]
    assert limits_of(other, "chat-a") == [("role", "rpm", 5, 2, 3), ("role", "tpd", 1000, 34, 966),
                                          ("user", "rpd", 100, 2, 98)]  # fmt: skip
    assert [b["scope"] for b in other["budgets"]] == ["user"]


async def test_limits_without_any_limit_or_budget(
    client: httpx.AsyncClient, models: ModelFactory, admin_headers: H
) -> None:
    await models.model("chat-free", "upstream-free")
    body = (await client.get("/api/v1/me/limits", headers=admin_headers)).json()
    assert body == {
        "object": "limits",
        "routers": [{"router": "chat-free", "aliases": [], "has_rule": False, "limits": []}],
        "budgets": [],
        "deployments": [],
    }
