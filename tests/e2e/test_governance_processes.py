"""Governance across real server processes: two replicas sharing PostgreSQL and Redis admit exactly a limit's
worth of a burst; a server stopped with SIGTERM under load has written a usage record for every answer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store.tables import UsageRecordRow
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY
from tests.e2e.conftest import Gateway, ServerProcess, StartServer, server_environment, unique
from tests.mock_upstream.server import MockUpstream

H = dict[str, str]
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
LIMIT, BURST = 100, 500


@pytest.fixture
def backend() -> str:
    return "postgres"  # replicas share PostgreSQL


def _limited_user(server: ServerProcess, limits: list[dict[str, Any]], **user_fields: Any) -> tuple[H, int]:
    """A user in a role with ``limits`` (and ``user_fields``: a budget…), its key's headers and its id."""
    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=10) as http:
        role = http.post("/api/v1/roles", json={"name": unique("limited"), "limits": limits})
        assert role.status_code == 201, role.text
        body = {"email": f"{unique('b')}@example.com", "role_id": role.json()["id"], **user_fields}
        user = http.post("/api/v1/users", json=body)
        assert user.status_code == 201, user.text
        key = http.post("/api/v1/keys", json={"name": "limited", "user_id": user.json()["id"]})
        assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['key']}"}, int(user.json()["id"])


def _wait_for_model(server: ServerProcess, model: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=server.url, headers=headers, timeout=5) as http:
        while time.monotonic() < deadline:
            if http.get(f"/v1/models/{model}").status_code == 200:
                return
            time.sleep(0.05)
    pytest.fail(f"{server.url} never saw model {model}")


@pytest.fixture
def replicas(
    settings: Settings, switchyard_server_factory: StartServer, redis_url: str, tmp_path: Path
) -> tuple[ServerProcess, ServerProcess]:
    """Two server processes sharing PostgreSQL and Redis."""
    assert settings.database_url is not None
    env = server_environment(
        SWITCHYARD_DATABASE_URL=settings.database_url,
        SWITCHYARD_SECRET_KEY=SECRET_KEY,
        SWITCHYARD_ADMIN_KEY=ADMIN_KEY,
        SWITCHYARD_REDIS_URL=redis_url,
        SWITCHYARD_REDIS_PREFIX=f"test:{uuid.uuid4().hex}:",
        SWITCHYARD_LOG_LEVEL="warning",
        SWITCHYARD_BUILTIN_EMBEDDINGS="false",
        SWITCHYARD_USAGE_FLUSH_INTERVAL_SECONDS="0.2",
    )
    return switchyard_server_factory(tmp_path / "a", env), switchyard_server_factory(tmp_path / "b", env)


async def test_two_replicas_on_redis_admit_exactly_the_limit_of_a_burst(
    platform: Platform, replicas: tuple[ServerProcess, ServerProcess], mock_upstream: MockUpstream
) -> None:
    a, b = replicas
    model = unique("burst")
    Gateway(a, mock_upstream).add_model(model, "burst-model")
    # A day's window, so that the burst cannot straddle two windows, as it could a minute's.
    headers, _ = _limited_user(a, [{"router": model, "type": "rpd", "value": LIMIT}])
    _wait_for_model(b, model, headers)

    limits = httpx.Limits(max_connections=100)
    async with (
        httpx.AsyncClient(base_url=a.url, headers=headers, timeout=60, limits=limits) as to_a,
        httpx.AsyncClient(base_url=b.url, headers=headers, timeout=60, limits=limits) as to_b,
    ):
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        answers = await asyncio.gather(
            *((to_a if i % 2 else to_b).post("/v1/chat/completions", json=body) for i in range(BURST))
        )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == LIMIT, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(429) == BURST - LIMIT
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.headers["x-ratelimit-limit-requests"] == str(LIMIT)
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


def test_sigterm_under_load_loses_no_usage_record(
    switchyard_server_factory: StartServer, mock_upstream: MockUpstream, tmp_path: Path
) -> None:
    env = server_environment(
        SWITCHYARD_ADMIN_KEY=ADMIN_KEY,
        SWITCHYARD_ADMIN_PASSWORD=ADMIN_PASSWORD,
        SWITCHYARD_BUILTIN_EMBEDDINGS="false",
        SWITCHYARD_USAGE_FLUSH_INTERVAL_SECONDS="30",  # nothing is written before shutdown but by the last flush
    )
    data_dir = tmp_path / "data"
    server = switchyard_server_factory(data_dir, env)
    model = unique("term")
    Gateway(server, mock_upstream).add_model(model, "term-model")
    answered: list[int] = []
    stop = threading.Event()

    def load() -> None:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client(base_url=server.url, headers=ADMIN, timeout=10) as http:
            while not stop.is_set():
                try:
                    answer = http.post("/v1/chat/completions", json=body)
                except httpx.TransportError:
                    return  # the server is going away
                answered.append(answer.status_code)

    workers = [threading.Thread(target=load) for _ in range(8)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 20
    while len(answered) < 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    status = server.stop()  # uvicorn shuts down gracefully, then re-raises the signal
    assert status in (0, -15) and "Application shutdown complete" in server.output(), server.output()[-3000:]
    stop.set()
    for worker in workers:
        worker.join(timeout=15)
    assert len(answered) >= 200 and set(answered) == {200}
    with sqlite3.connect(data_dir / "switchyard.db") as db:
        (written,) = db.execute("SELECT COUNT(*) FROM usage_records WHERE router = ?", (model,)).fetchone()
    assert written == len(answered)


TOKENS = 11 + 6  # the mock's usage for a chat completion: prompt, completion
ESTIMATE = 5  # the gateway's estimate of the prompt "hi": 1 token of text + 4 per message
CONCURRENCY = 16


async def _flood(
    servers: tuple[ServerProcess, ServerProcess], headers: H, body: dict[str, Any], count: int
) -> list[int]:
    """``count`` requests, CONCURRENCY at a time, alternating between the replicas."""
    gate = asyncio.Semaphore(CONCURRENCY)
    async with (
        httpx.AsyncClient(base_url=servers[0].url, headers=headers, timeout=60) as to_a,
        httpx.AsyncClient(base_url=servers[1].url, headers=headers, timeout=60) as to_b,
    ):

        async def one(i: int) -> int:
            async with gate:
                return (await (to_a if i % 2 else to_b).post("/v1/chat/completions", json=body)).status_code

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _records(platform: Platform, router: str, expected: int) -> list[UsageRecordRow]:
    """The router's usage records, once both replicas have written ``expected`` of them."""
    deadline = time.monotonic() + 15
    while True:
        async with platform.sessions() as session:
            rows = list(
                (await session.execute(select(UsageRecordRow).where(UsageRecordRow.router == router))).scalars()
            )
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


async def test_two_replicas_never_overspend_a_token_limit_beyond_what_is_in_flight(
    platform: Platform, replicas: tuple[ServerProcess, ServerProcess], mock_upstream: MockUpstream
) -> None:
    """Each request reserves its estimate plus ``max_tokens`` (25) and settles at its real 17 tokens: what was
    used can never pass the limit, and a refusal only happens once the real use is within the reservations of
    the requests in flight of it."""
    a, b = replicas
    model, limit, max_tokens = unique("tpd"), 2_000, 20
    Gateway(a, mock_upstream).add_model(model, "tpd-model")
    headers, _ = _limited_user(a, [{"router": model, "type": "tpd", "value": limit}])
    _wait_for_model(b, model, headers)
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens}
    statuses = await _flood(replicas, headers, body, 300)
    assert set(statuses) == {200, 429}
    admitted = statuses.count(200)
    rows = await _records(platform, model, 300)
    used = sum(r.prompt_tokens + r.completion_tokens for r in rows if r.status == 200)
    assert used == admitted * TOKENS
    reserved = ESTIMATE + max_tokens
    assert used <= limit  # reservations cover the real use: never over
    assert used > limit - reserved - CONCURRENCY * (reserved - TOKENS)  # no refusal before the limit was near
    assert len(rows) == 300 and sum(r.status == 429 for r in rows) == 300 - admitted


async def test_two_replicas_never_overspend_a_budget_beyond_what_is_in_flight(
    platform: Platform, replicas: tuple[ServerProcess, ServerProcess], mock_upstream: MockUpstream
) -> None:
    """Without ``max_tokens`` a request reserves only its prompt's estimate (5 tokens' worth) and costs 17 tokens'
    worth: the budget can be overspent, but by no more than the requests in flight when it ran out could add
    beyond their reservations; and the spend recorded by both replicas adds up in the database."""
    a, b = replicas
    model, budget = unique("priced"), 0.5
    prompt_price, completion_price = 1000.0, 2000.0
    Gateway(a, mock_upstream).add_model(
        model, "priced-model", cost_prompt_tokens=prompt_price, cost_completion_tokens=completion_price
    )
    headers, user_id = _limited_user(a, [], budget=budget)
    _wait_for_model(b, model, headers)
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    statuses = await _flood(replicas, headers, body, 200)
    assert set(statuses) == {200, 429}
    admitted = statuses.count(200)
    cost = (11 * prompt_price + 6 * completion_price) / 1_000_000  # 0.023
    reservation = ESTIMATE * prompt_price / 1_000_000  # 0.005
    rows = await _records(platform, model, 200)
    spent = sum(r.cost for r in rows)
    assert spent == pytest.approx(admitted * cost)
    assert spent <= budget + CONCURRENCY * (cost - reservation)
    assert spent > budget - reservation  # every refusal saw a counter the real spend has since reached
    refused = [r for r in rows if r.status == 429]
    assert len(refused) == 200 - admitted
    with httpx.Client(base_url=b.url, headers=ADMIN, timeout=10) as http:
        deadline = time.monotonic() + 10
        while (recorded := http.get(f"/api/v1/users/{user_id}").json()["spent"]) != pytest.approx(spent):
            assert time.monotonic() < deadline, (recorded, spent)
            time.sleep(0.1)
