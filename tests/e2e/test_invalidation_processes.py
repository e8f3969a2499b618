"""Two real server processes (uvicorn) on one PostgreSQL database, with and without Redis: a key revoked
through one of them is refused by the other within a second, although the other had it cached."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy import select

from switchyard.services.platform import Platform
from switchyard.services.tokens import new_api_key
from switchyard.settings import Settings
from switchyard.store.tables import ApiKeyRow, UserRow
from tests.conftest import ADMIN_KEY, SECRET_KEY

PROPAGATION_LIMIT = 1.0
STARTUP_LIMIT = 30.0
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def backend() -> str:
    return "postgres"  # separate processes share PostgreSQL (SQLite is the single-process default)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(server: Server, deadline: float) -> None:
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"server exited with {server.process.returncode}:\n{server.output()}")
            try:
                if http.get(f"{server.url}/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    pytest.fail(f"server not ready after {STARTUP_LIMIT} s:\n{server.output()}")


StartServers = Callable[[int, str | None], list[Server]]


@pytest.fixture
def start_servers(settings: Settings, platform: Platform, tmp_path: Path) -> Iterator[StartServers]:
    """Starts uvicorn processes on the migrated, bootstrapped store of ``settings``; stops them at the end."""
    servers: list[Server] = []
    logs: list[IO[bytes]] = []

    def start(count: int, redis_url: str | None) -> list[Server]:
        assert settings.database_url is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
        env |= {
            "SWITCHYARD_DATABASE_URL": settings.database_url,
            "SWITCHYARD_SECRET_KEY": SECRET_KEY,
            "SWITCHYARD_ADMIN_KEY": ADMIN_KEY,
            "SWITCHYARD_DATA_DIR": str(tmp_path / "data"),
            "SWITCHYARD_LOG_LEVEL": "warning",
        }
        if redis_url is not None:
            env["SWITCHYARD_REDIS_URL"] = redis_url
        started = []
        for _ in range(count):
            port = _free_port()
            log_path = tmp_path / f"server-{len(servers)}.log"
            log = log_path.open("wb")
            logs.append(log)
            command = [sys.executable, "-m", "uvicorn", "--factory", "switchyard.api.app:create_app"]
            command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            server = Server(url=f"http://127.0.0.1:{port}", process=process, log=log_path)
            servers.append(server)
            started.append(server)
        deadline = time.monotonic() + STARTUP_LIMIT
        for server in started:
            _wait_ready(server, deadline)
        return started

    try:
        yield start
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.process.terminate()
        for server in servers:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=10)
        for log in logs:
            log.close()


async def _add_admin_key(platform: Platform, name: str) -> str:
    """Another key of the admin user, made in the store before the servers start (a change made through a
    server now would make the other drop its cache a moment later, after the warm-up below)."""
    secret = new_api_key()
    async with platform.identity_change() as session:
        admin_id = (
            await session.execute(select(UserRow.id).where(UserRow.email == platform.settings.admin_email))
        ).scalar_one()
        session.add(ApiKeyRow(name=name, user_id=admin_id, prefix=secret.prefix, secret_hash=secret.hash))
    return secret.value


@pytest.mark.parametrize("with_redis", [False, True], ids=["database-epoch", "redis"])
async def test_a_key_revoked_through_one_process_is_refused_by_the_other_within_a_second(
    with_redis: bool, platform: Platform, start_servers: StartServers, request: pytest.FixtureRequest
) -> None:
    redis_url: str | None = request.getfixturevalue("redis_url") if with_redis else None
    bystander = {"Authorization": f"Bearer {await _add_admin_key(platform, 'bystander')}"}
    a, b = start_servers(2, redis_url)
    organizations = "/api/v1/organizations"

    async with httpx.AsyncClient(timeout=5.0, headers=AUTH) as http:
        for server in (a, b):
            for _ in range(2):  # the first call loads the key, the second is served from the cache
                answer = await http.get(f"{server.url}{organizations}")
                assert answer.status_code == 200, answer.text
            assert (await http.get(f"{server.url}{organizations}", headers=bystander)).status_code == 200

        keys = (await http.get(f"{a.url}/api/v1/keys", params={"limit": 100})).json()["data"]
        (admin_key_id,) = [k["id"] for k in keys if k["name"] == "admin" and ADMIN_KEY.startswith(k["prefix"])]
        revoked = await http.patch(f"{a.url}/api/v1/keys/{admin_key_id}", json={"status": "revoked"})
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
        committed = time.monotonic()

        refused_after: dict[str, float] = {}
        deadline = committed + 5 * PROPAGATION_LIMIT
        while len(refused_after) < 2 and time.monotonic() < deadline:
            for server in (a, b):
                if server.url in refused_after:
                    continue
                answer = await http.get(f"{server.url}{organizations}")
                if answer.status_code == 401:
                    assert answer.json()["error"]["code"] == "invalid_api_key"
                    refused_after[server.url] = time.monotonic() - committed
                else:
                    assert answer.status_code == 200, answer.text
        assert len(refused_after) == 2, f"the revoked key still worked 5 s later: {refused_after}"
        assert refused_after[a.url] < 0.2, "the process that made the change refuses the key at once"
        assert refused_after[b.url] < PROPAGATION_LIMIT, f"took {refused_after[b.url]:.3f} s"

        for server in (a, b):  # only that key: the other one still works everywhere
            assert (await http.get(f"{server.url}{organizations}", headers=bystander)).status_code == 200
