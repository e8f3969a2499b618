"""The real ``switchyard serve`` process, driven by the real ``switchyard`` CLI (subprocesses both), on SQLite
and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import stat
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from switchyard.store.engine import create_engine
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY
from tests.e2e.conftest import ServerProcess, StartServer, server_environment, switchyard_executable

COMMAND_LIMIT = 60.0
KEPT_TABLES = {"alembic_version", "cache_epochs"}

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _empty_postgres(url: str) -> None:
    """Leaves the shared test database as a first start finds it: no rows (the schema may stay)."""

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                tables = [name for (name,) in rows if name not in KEPT_TABLES]
                if tables:
                    names = ", ".join(f'"{name}"' for name in tables)
                    await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The server's store settings: SQLite in its data dir, or the session's PostgreSQL database (emptied)."""
    if request.param == "sqlite":
        return {}
    url = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return {"SWITCHYARD_DATABASE_URL": url, "SWITCHYARD_SECRET_KEY": SECRET_KEY}


@pytest.fixture
def cli_config_file(tmp_path: Path) -> Path:
    return tmp_path / "cli-home" / "config.json"


@pytest.fixture
def cli(cli_config_file: Path) -> Cli:
    """``cli(*args)``: runs the installed ``switchyard`` with its config in a temporary file; bounded."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = server_environment(SWITCHYARD_CLI_CONFIG=str(cli_config_file))
        result = subprocess.run(
            [str(switchyard_executable()), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_LIMIT,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, f"switchyard {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    return run


def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli(*args, "--json").stdout)


def _status_with(server: ServerProcess, token: str) -> int:
    return httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def test_admin_manages_identity_through_the_cli(
    switchyard_server_factory: StartServer,
    store_env: dict[str, str],
    tmp_path: Path,
    cli: Cli,
    cli_config_file: Path,
) -> None:
    env = server_environment(SWITCHYARD_ADMIN_KEY=ADMIN_KEY, SWITCHYARD_ADMIN_PASSWORD=ADMIN_PASSWORD, **store_env)
    server = switchyard_server_factory(tmp_path / "data", env)
    suffix = uuid.uuid4().hex[:6]

    cli("login", server.url, "--email", "admin@localhost", "--password", ADMIN_PASSWORD, "--context", "e2e")
    assert stat.S_IMODE(cli_config_file.stat().st_mode) == 0o600
    saved = json.loads(cli_config_file.read_text())
    session_token = saved["contexts"]["e2e"]["token"]
    assert saved["current"] == "e2e" and session_token.startswith("sy-sess-")
    assert session_token not in cli("context", "list").stdout

    org = _json(cli, "orgs", "create", "--name", f"acme-{suffix}", "--budget", "100")
    role = _json(
        cli,
        "roles",
        "create",
        "--name",
        f"dev-{suffix}",
        "--permission",
        "manage_keys",
        "--limit",
        "*:rpm=60",
    )
    user = _json(
        cli, "users", "create", "--email", f"bob-{suffix}@example.com", "--name", "Bob",
        "--password", "bob-password-1", "--role", f"dev-{suffix}", "--org", f"acme-{suffix}",
    )  # fmt: skip
    assert (user["role_id"], user["organization_id"]) == (role["id"], org["id"])
    key = _json(cli, "keys", "create", "--name", "bob-key", "--user-id", str(user["id"]))
    secret = key["key"]
    assert key["user_id"] == user["id"] and secret.startswith(key["prefix"])

    orgs = _json(cli, "orgs", "list", "--filter", f"name=acme-{suffix}")
    assert [(o["id"], o["budget"]) for o in orgs["data"]] == [(org["id"], 100)]
    roles = _json(cli, "roles", "list", "--filter", f"name=dev-{suffix}")
    assert roles["data"][0]["permissions"] == ["manage_keys"]
    assert roles["data"][0]["limits"] == [{"router": "*", "type": "rpm", "value": 60}]
    users = _json(cli, "users", "list", "--filter", f"organization_id={org['id']}")
    assert [u["email"] for u in users["data"]] == [f"bob-{suffix}@example.com"]
    keys = _json(cli, "keys", "list", "--filter", f"user_id={user['id']}")
    assert [(k["id"], k["status"]) for k in keys["data"]] == [(key["id"], "active")]
    assert "key" not in keys["data"][0]  # the secret is only in the answer to create

    assert _status_with(server, secret) == 200
    cli("keys", "revoke", str(key["id"]))
    assert _json(cli, "keys", "get", str(key["id"]))["status"] == "revoked"
    assert _status_with(server, secret) == 401

    bob = cli("--context", "bob", "orgs", "list", check=False)
    assert bob.returncode == 1 and "No context named 'bob'" in bob.stderr
    cli("login", server.url, "--api-key", secret, "--context", "bob", check=False)
    assert json.loads(cli_config_file.read_text())["current"] == "e2e"  # a refused login changes nothing

    cli("logout")
    assert _status_with(server, session_token) == 401
    after = cli("users", "list", check=False)
    assert after.returncode == 1 and "has no credential" in after.stderr


def test_first_start_prints_a_working_admin_key_once(
    switchyard_server_factory: StartServer, tmp_path: Path, cli: Cli
) -> None:
    data_dir = tmp_path / "fresh"
    first = switchyard_server_factory(data_dir, server_environment())
    printed = first.output()
    key_match = re.search(r"Admin API key: (sy-[A-Za-z0-9_-]+)", printed)
    password_match = re.search(r"Admin password: (\S+)", printed)
    assert key_match and password_match, printed
    key, password = key_match.group(1), password_match.group(1)
    assert "Store these now: they are shown only on this first start." in printed
    assert _status_with(first, key) == 200
    cli("login", first.url, "--email", "admin@localhost", "--password", password)
    first.stop()

    second = switchyard_server_factory(data_dir, server_environment())
    assert _status_with(second, key) == 200  # the same store, the same admin
    again = second.output()
    assert key not in again and password not in again and "Admin API key" not in again


def test_serve_on_postgresql_without_secret_key_exits_1(postgres_url: str, tmp_path: Path) -> None:
    env = server_environment(SWITCHYARD_DATABASE_URL=postgres_url)
    result = subprocess.run(
        [str(switchyard_executable()), "serve", "--data-dir", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_LIMIT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: SWITCHYARD_SECRET_KEY must be set (32+ characters) when the store is not the embedded SQLite."
    )
    assert result.stdout == ""
