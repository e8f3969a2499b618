"""``switchyard usage list|summary|limits`` and ``switchyard limits`` against a real server, with usage records
written straight into its database."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert

from switchyard.store.engine import create_engine
from switchyard.store.tables import UsageRecordRow
from tests.cli.conftest import Invoke, LiveServer
from tests.conftest import ADMIN_KEY
from tests.services.test_usage_records import record

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def store(server: LiveServer, *records: Any) -> None:
    async def run() -> None:
        engine = create_engine(server.settings.resolved_database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(insert(UsageRecordRow), [asdict(r) for r in records])
        finally:
            await engine.dispose()

    asyncio.run(run())


def api(server: LiveServer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    answer = httpx.request(method, server.url + path, json=body, headers=ADMIN)
    assert answer.status_code < 300, answer.text
    return answer.json()


def as_json(invoke: Invoke, *args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_usage_list_and_summary(invoke: Invoke, logged_in: LiveServer) -> None:
    admin_id = api(logged_in, "GET", "/api/v1/me")["id"]
    other = api(logged_in, "POST", "/api/v1/users", {"email": "other@example.com"})
    now = datetime.now(UTC).replace(microsecond=0)
    store(
        logged_in,
        record(request_id="a-old", user_id=admin_id, router="chat", created_at=now - timedelta(days=3), cost=0.5),
        record(request_id="a-new", user_id=admin_id, router="embed", endpoint="embeddings", created_at=now,
               cost=0.25, kwh=0.001),
        record(request_id="b", user_id=other["id"], router="chat", created_at=now, status=429),
    )  # fmt: skip

    mine = as_json(invoke, "usage", "list")
    assert [r["request_id"] for r in mine["data"]] == ["a-new", "a-old"] and mine["total"] == 2
    assert [r["request_id"] for r in as_json(invoke, "usage", "list", "--since", "1d")["data"]] == ["a-new"]
    ranged = as_json(invoke, "usage", "list", "--start", (now - timedelta(days=4)).isoformat(),
                     "--end", str(int(now.timestamp())))  # fmt: skip
    assert [r["request_id"] for r in ranged["data"]] == ["a-old"]
    assert [r["request_id"] for r in as_json(invoke, "usage", "list", "--router", "chat")["data"]] == ["a-old"]
    assert as_json(invoke, "usage", "list", "--all")["total"] == 3
    theirs = as_json(invoke, "usage", "list", "--user", "other@example.com", "--status", "4xx")
    assert [r["request_id"] for r in theirs["data"]] == ["b"]

    table = invoke("usage", "list", "--limit", "1")
    assert table.exit_code == 0, table.output
    assert "embed" in table.stdout and "embeddings" in table.stdout and "0.2500" in table.stdout
    assert "Records 1-1 of 2, newest first" in table.stdout and "a-old" not in table.stdout

    summary = as_json(invoke, "usage", "summary", "--group-by", "day,router", "--all")
    assert summary["group_by"] == ["day", "router"] and summary["totals"]["requests"] == 3
    day = now.date().isoformat()
    assert [(g["group"], g["requests"]) for g in summary["data"]][-2:] == [
        ({"day": day, "router": "chat"}, 1),
        ({"day": day, "router": "embed"}, 1),
    ]
    own = invoke("usage", "summary", "-g", "router")
    assert own.exit_code == 0, own.output
    lines = [line for line in own.stdout.splitlines() if "chat" in line or "embed" in line or "total" in line]
    assert len(lines) == 3 and "0.7500" in lines[-1] and "0.001" in lines[1]  # the total row, embed's kWh


def test_usage_bad_input_and_permissions(invoke: Invoke, logged_in: LiveServer) -> None:
    bad_since = invoke("usage", "list", "--since", "3 fortnights")
    assert bad_since.exit_code == 2 and "not a duration" in bad_since.output
    both = invoke("usage", "list", "--since", "1d", "--start", "2026-01-01")
    assert both.exit_code == 2 and "not both" in both.output
    bad_start = invoke("usage", "list", "--start", "yesterday")
    assert bad_start.exit_code == 2 and "ISO 8601" in bad_start.output
    unknown = invoke("usage", "summary", "--group-by", "week")
    assert unknown.exit_code == 1 and unknown.stderr.startswith("Error (422): Cannot group by 'week'")

    role = api(logged_in, "POST", "/api/v1/roles", {"name": "plain"})
    user = api(logged_in, "POST", "/api/v1/users", {"email": "plain@example.com", "role_id": role["id"]})
    key = api(logged_in, "POST", "/api/v1/keys", {"name": "k", "user_id": user["id"]})
    assert invoke("login", logged_in.url, "--api-key", key["key"], "--context", "plain").exit_code == 0
    assert as_json(invoke, "usage", "list")["total"] == 0
    denied = invoke("usage", "list", "--all")
    assert denied.exit_code == 1 and denied.stderr.startswith("Error (403): ")


def test_limits(invoke: Invoke, logged_in: LiveServer) -> None:
    provider = api(logged_in, "POST", "/api/v1/providers", {
        "name": "p", "wire_format": "openai", "base_url": "http://127.0.0.1:9/v1", "upstream_model": "m",
    })  # fmt: skip
    api(logged_in, "POST", "/api/v1/routers", {
        "name": "chat", "model_type": "text-generation", "providers": [{"provider_id": provider["id"]}],
    })  # fmt: skip
    role = api(logged_in, "POST", "/api/v1/roles", {
        "name": "limited", "limits": [{"router": "*", "type": "rpm", "value": 60}],
    })  # fmt: skip
    user = api(logged_in, "POST", "/api/v1/users", {"email": "lim@example.com", "role_id": role["id"], "budget": 12})
    key = api(logged_in, "POST", "/api/v1/keys", {"name": "k", "user_id": user["id"]})
    assert invoke("login", logged_in.url, "--api-key", key["key"], "--context", "limited").exit_code == 0

    report = as_json(invoke, "limits")
    assert report == as_json(invoke, "usage", "limits")
    by_router = {r["router"]: [(x["scope"], x["type"], x["value"], x["remaining"]) for x in r["limits"]]
                 for r in report["routers"]}  # fmt: skip
    assert by_router == {"all-minilm-l6-v2": [("role", "rpm", 60, 60)], "chat": [("role", "rpm", 60, 60)]}
    assert [(b["scope"], b["amount"], b["spent"], b["left"]) for b in report["budgets"]] == [("user", 12, 0, 12)]

    table = invoke("limits")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if "chat" in line)
    assert "role" in row and "rpm" in row and "60" in row and " in " in row  # resets in …
    assert "Budgets" in table.stdout and "12.0000" in table.stdout
