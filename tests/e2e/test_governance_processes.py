"""Governance across real server processes: two replicas sharing PostgreSQL and Redis admit exactly a limit's
worth of a burst; a server stopped with SIGTERM under load has written a usage record for every answer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from switchyard.services.platform import Platform
from switchyard.settings import Settings
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY
from tests.e2e.conftest import Gateway, ServerProcess, StartServer, server_environment, unique
from tests.mock_upstream.server import MockUpstream

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
LIMIT, BURST = 100, 500


@pytest.fixture
def backend() -> str:
    return "postgres"  # replicas share PostgreSQL


def _limited_user(server: ServerProcess, model: str) -> dict[str, str]:
    """A user whose role allows LIMIT requests a day on ``model``, and its key. (A day's window, so that the
    burst cannot straddle two windows, as it could a minute's.)"""
    with httpx.Client(base_url=server.url, headers=ADMIN, timeout=10) as http:
        role = http.post(
            "/api/v1/roles",
            json={"name": unique("burst"), "limits": [{"router": model, "type": "rpd", "value": LIMIT}]},
        )
        assert role.status_code == 201, role.text
        user = http.post("/api/v1/users", json={"email": f"{unique('b')}@example.com", "role_id": role.json()["id"]})
        assert user.status_code == 201, user.text
        key = http.post("/api/v1/keys", json={"name": "burst", "user_id": user.json()["id"]})
        assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['key']}"}


def _wait_for_model(server: ServerProcess, model: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=server.url, headers=headers, timeout=5) as http:
        while time.monotonic() < deadline:
            if http.get(f"/v1/models/{model}").status_code == 200:
                return
            time.sleep(0.05)
    pytest.fail(f"{server.url} never saw model {model}")


async def test_two_replicas_on_redis_admit_exactly_the_limit_of_a_burst(
    platform: Platform,
    settings: Settings,
    switchyard_server_factory: StartServer,
    mock_upstream: MockUpstream,
    redis_url: str,
    tmp_path: Path,
) -> None:
    assert settings.database_url is not None
    env = server_environment(
        SWITCHYARD_DATABASE_URL=settings.database_url,
        SWITCHYARD_SECRET_KEY=SECRET_KEY,
        SWITCHYARD_ADMIN_KEY=ADMIN_KEY,
        SWITCHYARD_REDIS_URL=redis_url,
        SWITCHYARD_REDIS_PREFIX=f"test:{uuid.uuid4().hex}:",
        SWITCHYARD_LOG_LEVEL="warning",
        SWITCHYARD_BUILTIN_EMBEDDINGS="false",
    )
    a = switchyard_server_factory(tmp_path / "a", env)
    b = switchyard_server_factory(tmp_path / "b", env)
    model = unique("burst")
    Gateway(a, mock_upstream).add_model(model, "burst-model")
    headers = _limited_user(a, model)
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
