"""The usage API over HTTP: `/me/usage`, `/usage` (read_usage), `/usage/search`, the summaries, and bad input."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from switchyard.services.platform import Platform
from switchyard.store.tables import UsageRecordRow
from tests.api.route_table import assert_error_shape
from tests.conftest import CallerFactory, ModelFactory
from tests.services.test_usage_records import MIDNIGHT, record

H = dict[str, str]


async def store(app: FastAPI, *rows: Any) -> None:
    platform: Platform = app.state.platform
    async with platform.sessions.begin() as session:
        await session.execute(insert(UsageRecordRow), [asdict(r) for r in rows])


async def test_requests_through_the_gateway_are_listed_to_their_user_only(
    app: FastAPI,
    client: httpx.AsyncClient,
    models: ModelFactory,
    new_caller: CallerFactory,
    openai_client: openai.AsyncOpenAI,
    admin_headers: H,
) -> None:
    await models.model("chat-a", "upstream-a")
    await models.model("embed-a", "upstream-embed", model_type="text-embeddings-inference")
    alice = await new_caller()
    alice_sdk = openai_client.with_options(api_key=alice["headers"]["Authorization"].split()[1])
    for _ in range(2):
        await alice_sdk.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "hi"}])
    await alice_sdk.embeddings.create(model="embed-a", input="hello")
    await openai_client.chat.completions.create(model="chat-a", messages=[{"role": "user", "content": "admin"}])
    await app.state.platform.governor.writer.flush()

    mine = (await client.get("/api/v1/me/usage", headers=alice["headers"])).json()
    assert mine["object"] == "list" and (mine["total"], mine["limit"], mine["offset"]) == (3, 100, 0)
    assert [r["router"] for r in mine["data"]] == ["embed-a", "chat-a", "chat-a"]  # newest first
    chat = mine["data"][1]
    assert (chat["object"], chat["user_id"], chat["key_id"], chat["endpoint"], chat["status"]) == (
        "usage_record", alice["user"]["id"], alice["key"]["id"], "chat", 200,
    )  # fmt: skip
    assert (chat["prompt_tokens"], chat["completion_tokens"], chat["total_tokens"]) == (11, 6, 17)
    assert chat["provider"].endswith("upstream-a") and chat["latency_ms"] >= 0

    only_chat = (await client.get("/api/v1/me/usage?router=chat-a&limit=1", headers=alice["headers"])).json()
    assert (only_chat["total"], len(only_chat["data"])) == (2, 1)
    embeddings = (await client.get("/api/v1/me/usage?endpoint=embeddings", headers=alice["headers"])).json()
    assert [r["router"] for r in embeddings["data"]] == ["embed-a"]
    admin_own = (await client.get("/api/v1/me/usage", headers=admin_headers)).json()
    assert admin_own["total"] == 1 and admin_own["data"][0]["user_id"] != alice["user"]["id"]

    # Anyone's usage needs read_usage.
    denied = await client.get("/api/v1/usage", headers=alice["headers"])
    assert denied.status_code == 403 and assert_error_shape(denied, "/usage")["code"] == "permission_denied"
    reader = await new_caller("read_usage")
    everyone = (await client.get("/api/v1/usage", headers=reader["headers"])).json()
    assert everyone["total"] == 4
    alices = (await client.get(f"/api/v1/usage?user_id={alice['user']['id']}", headers=reader["headers"])).json()
    assert alices["total"] == 3 and {r["user_id"] for r in alices["data"]} == {alice["user"]["id"]}
    by_key = await client.get(f"/api/v1/usage?key_id={alice['key']['id']}&status=2xx", headers=reader["headers"])
    assert by_key.json()["total"] == 3

    # The own summary counts one's own records only.
    summary = (await client.get("/api/v1/me/usage/summary?group_by=router", headers=alice["headers"])).json()
    assert summary["object"] == "usage.summary" and summary["group_by"] == ["router"]
    assert [(g["group"], g["requests"], g["prompt_tokens"]) for g in summary["data"]] == [
        ({"router": "chat-a"}, 2, 22),
        ({"router": "embed-a"}, 1, summary["data"][1]["prompt_tokens"]),
    ]
    assert summary["totals"]["requests"] == 3 and summary["truncated"] is False


async def test_time_range_paging_and_search(
    app: FastAPI, client: httpx.AsyncClient, new_caller: CallerFactory, admin_headers: H
) -> None:
    user = await new_caller()
    uid = user["user"]["id"]
    await store(
        app,
        *(record(request_id=f"r{i}", user_id=uid, created_at=MIDNIGHT + timedelta(hours=i)) for i in range(5)),
        record(request_id="someone-else", user_id=uid + 100, created_at=MIDNIGHT),
    )
    h = user["headers"]
    start = int((MIDNIGHT + timedelta(hours=1)).timestamp())  # Unix seconds…
    end = (MIDNIGHT + timedelta(hours=4)).isoformat()  # …or ISO 8601; [start, end)
    ranged = (await client.get("/api/v1/me/usage", params={"start": start, "end": end}, headers=h)).json()
    assert [r["request_id"] for r in ranged["data"]] == ["r3", "r2", "r1"] and ranged["total"] == 3
    naive = await client.get("/api/v1/me/usage", params={"start": "2026-03-02T03:00:00"}, headers=h)  # UTC
    assert [r["request_id"] for r in naive.json()["data"]] == ["r4", "r3"]
    page = (await client.get("/api/v1/me/usage?limit=2&offset=2", headers=h)).json()
    assert [r["request_id"] for r in page["data"]] == ["r2", "r1"] and page["total"] == 5
    assert page["total_capped"] is False

    search = await client.post(
        "/api/v1/usage/search",
        json={"filters": [{"field": "request_id", "op": "startsWith", "values": ["r"]},
                          {"field": "prompt_tokens", "op": "gt", "values": [5]}],
              "sort": [{"field": "created_at", "order": "asc"}], "limit": 2},
        headers=admin_headers,
    )  # fmt: skip
    assert search.status_code == 200, search.text
    assert [r["request_id"] for r in search.json()["data"]] == ["r0", "r1"] and search.json()["total"] == 5
    newest = await client.post("/api/v1/usage/search", json={"limit": 1}, headers=admin_headers)
    assert newest.json()["data"][0]["request_id"] == "r4"
    unknown = await client.post(
        "/api/v1/usage/search",
        json={"filters": [{"field": "secret", "op": "eq", "values": [1]}]},
        headers=admin_headers,
    )
    assert unknown.status_code == 400 and assert_error_shape(unknown, "search")["param"] == "secret"
    assert (await client.post("/api/v1/usage/search", json={}, headers=h)).status_code == 403


async def test_summaries_over_http(app: FastAPI, client: httpx.AsyncClient, admin_headers: H) -> None:
    await store(
        app,
        record(created_at=MIDNIGHT - timedelta(seconds=1), router="a", cost=0.5, kwh=0.25, kgco2eq=0.125),
        record(created_at=MIDNIGHT, router="a", cost=0.25),
        record(created_at=MIDNIGHT, router="b", user_id=2, organization_id=3, cost=1.0),
    )
    answer = await client.get(
        "/api/v1/usage/summary", params={"group_by": "day,router", "end": "2026-03-03"}, headers=admin_headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["group_by"] == ["day", "router"] and body["end"].startswith("2026-03-03T00:00:00")
    assert [(g["group"], g["requests"], g["cost"], g["kwh"]) for g in body["data"]] == [
        ({"day": "2026-03-01", "router": "a"}, 1, 0.5, 0.25),
        ({"day": "2026-03-02", "router": "a"}, 1, 0.25, None),
        ({"day": "2026-03-02", "router": "b"}, 1, 1.0, None),
    ]
    assert body["totals"] == {
        "requests": 3, "errors": 0, "prompt_tokens": 30, "completion_tokens": 15, "total_tokens": 45,
        "cost": 1.75, "kwh": 0.25, "kgco2eq": 0.125,
    }  # fmt: skip
    repeated = await client.get(
        "/api/v1/usage/summary?group_by=user&group_by=organization&organization_id=3", headers=admin_headers
    )
    assert [g["group"] for g in repeated.json()["data"]] == [{"user_id": 2, "organization_id": 3}]
    truncated = (await client.get("/api/v1/usage/summary?group_by=router&limit=1", headers=admin_headers)).json()
    assert len(truncated["data"]) == 1 and truncated["truncated"] and truncated["totals"]["requests"] == 3


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/api/v1/me/usage", {"start": "yesterday"}, "start"),
        ("/api/v1/me/usage", {"end": "2026-13-01"}, "end"),
        ("/api/v1/me/usage", {"start": "2026-03-02", "end": "2026-03-01"}, "end"),
        ("/api/v1/me/usage", {"limit": 0}, "limit"),
        ("/api/v1/me/usage", {"offset": -1}, "offset"),
        ("/api/v1/me/usage", {"key_id": "abc"}, "key_id"),
        ("/api/v1/me/usage", {"status": "teapot"}, "status"),
        ("/api/v1/me/usage", {"user_id": 1}, "user_id"),  # one's own usage: no other user
        ("/api/v1/me/usage", {"rotuer": "typo"}, "rotuer"),
        ("/api/v1/usage", {"organization_id": "x"}, "organization_id"),
        ("/api/v1/usage", {"group_by": "day"}, "group_by"),
        ("/api/v1/usage/summary", {"group_by": "week"}, "group_by"),
        ("/api/v1/usage/summary", {"group_by": "day", "limit": 0}, "limit"),
        ("/api/v1/usage/summary", {"start": "2026-03-02", "end": "2026-03-02"}, "end"),
        ("/api/v1/usage/summary", {"offset": 3}, "offset"),
        ("/api/v1/me/usage/summary", {"group_by": "day,month"}, "group_by"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: H, path: str, params: dict[str, Any], param: str
) -> None:
    answer = await client.get(path, params=params, headers=admin_headers)
    assert answer.status_code == 422, answer.text
    found = assert_error_shape(answer, f"{path} {params}")["param"]
    assert found == param or found.startswith(f"{param}."), found  # key_id.0: the first key_id given


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_me_usage_needs_a_key(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/me/usage", "/api/v1/me/usage/summary", "/api/v1/me/limits", "/api/v1/usage"):
        answer = await client.get(path)
        assert answer.status_code == 401 and assert_error_shape(answer, path)["code"] == "missing_api_key"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_session_token_sees_its_users_records(
    app: FastAPI, client: httpx.AsyncClient, new_caller: CallerFactory
) -> None:
    user = await new_caller(password="a-good-password")
    await store(app, record(user_id=user["user"]["id"], key_id=None, created_at=datetime.now(UTC)))
    login = await client.post(
        "/api/v1/auth/login", json={"email": user["user"]["email"], "password": "a-good-password"}
    )
    token = login.json()["token"]
    answer = await client.get("/api/v1/me/usage", headers={"Authorization": f"Bearer {token}"})
    assert answer.json()["total"] == 1 and answer.json()["data"][0]["key_id"] is None
