"""Fixtures shared by the whole suite.

Store and API tests run twice: on SQLite (a fresh file per test) and on PostgreSQL (one fresh database per test
session, emptied between tests). PostgreSQL and Redis are real servers on 127.0.0.1; when one is unreachable
the tests that need it fail — they never skip, so CI cannot pass without them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openai
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy import text

from switchyard.api.app import create_app
from switchyard.services.bootstrap import bootstrap
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store import migrate
from switchyard.store.tables import Base
from tests.mock_upstream.dialects import install_dialects
from tests.mock_upstream.server import MockUpstream

POSTGRES_SERVER = os.environ.get("SWITCHYARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("SWITCHYARD_TEST_REDIS", "redis://127.0.0.1:6379/15")
ADMIN_KEY = "sy-test-admin-0123456789abcdefghijklmnopqrstuv"
ADMIN_PASSWORD = "admin-password-for-tests"
SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnop"


def _pg_admin(statement: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(f"{POSTGRES_SERVER}/postgres")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    try:
        asyncio.run(run())
    except OSError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_SERVER} ({exc}); start it (see README).")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"switchyard_test_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    host = POSTGRES_SERVER.split("://", 1)[1]
    yield f"postgresql+asyncpg://{host}/{name}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_migrated(postgres_url: str) -> str:
    async def run() -> None:
        platform = Platform.build(Settings(database_url=postgres_url, secret_key=SECRET_KEY))
        await migrate.upgrade(platform.engine)
        await platform.engine.dispose()

    asyncio.run(run())
    return postgres_url


@pytest.fixture(scope="session")
def local_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of local models' ONNX exports for the session: the built-in model is exported once."""
    return tmp_path_factory.mktemp("local-models")


@pytest.fixture
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); start it (see README).")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "admin_key": ADMIN_KEY,
        "admin_password": ADMIN_PASSWORD,
        "secret_key": SECRET_KEY,
        "redis_prefix": f"test:{uuid.uuid4().hex}:",  # Redis is shared (and pub/sub spans databases)
        "builtin_embeddings": False,  # tests that count providers/routers expect none; the local-model tests turn it on
    }
    if backend == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_migrated")
    return Settings(**overrides)


async def _empty_postgres(platform: Platform) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "cache_epochs")
    async with platform.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    """A migrated, bootstrapped store (admin user and ``ADMIN_KEY``), not yet started."""
    platform = Platform.build(settings)
    if settings.is_sqlite:
        await migrate.upgrade(platform.engine)
    else:
        await _empty_postgres(platform)
    await bootstrap(platform)
    yield platform
    await platform.engine.dispose()


@pytest.fixture
async def app(settings: Settings, platform: Platform) -> AsyncIterator[FastAPI]:
    app = create_app(settings, platform)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


class CallerFactory:
    """Creates a role with the given permissions, a user in it, and an API key for that user."""

    def __init__(self, client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
        self.client = client
        self.admin_headers = admin_headers
        self.count = 0

    async def __call__(self, *permissions: str, password: str | None = None) -> dict[str, Any]:
        self.count += 1
        role = await self.client.post(
            "/api/v1/roles",
            json={"name": f"role-{self.count}", "permissions": list(permissions)},
            headers=self.admin_headers,
        )
        assert role.status_code == 201, role.text
        body: dict[str, Any] = {"email": f"user{self.count}@example.com", "role_id": role.json()["id"]}
        if password:
            body["password"] = password
        user = await self.client.post("/api/v1/users", json=body, headers=self.admin_headers)
        assert user.status_code == 201, user.text
        key = await self.client.post(
            "/api/v1/keys", json={"name": "k", "user_id": user.json()["id"]}, headers=self.admin_headers
        )
        assert key.status_code == 201, key.text
        return {
            "headers": {"Authorization": f"Bearer {key.json()['key']}"},
            "user": user.json(),
            "role": role.json(),
            "key": key.json(),
        }


@pytest.fixture
def new_caller(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> CallerFactory:
    return CallerFactory(client, admin_headers)


@pytest.fixture(scope="session")
def mock_upstream() -> Iterator[MockUpstream]:
    """One mock upstream for the whole session, speaking every dialect (see tests/mock_upstream)."""
    server = MockUpstream()
    install_dialects(server)
    server.start()
    yield server
    server.stop()


class ModelFactory:
    """Creates providers on the mock upstream and a router over them, through the management API."""

    def __init__(self, client: httpx.AsyncClient, admin_headers: dict[str, str], upstream: MockUpstream) -> None:
        self.client = client
        self.admin_headers = admin_headers
        self.upstream = upstream
        self.count = 0

    async def provider(
        self, upstream_model: str, *, wire_format: str = "openai", base_path: str = "/v1", **fields: Any
    ) -> dict[str, Any]:
        self.count += 1
        body = {
            "name": f"p{self.count}-{upstream_model}",
            "wire_format": wire_format,
            "base_url": self.upstream.url + base_path,
            "upstream_model": upstream_model,
            "api_key": f"sk-upstream-secret-{self.count}-0123456789",
        } | fields
        answer = await self.client.post("/api/v1/providers", json=body, headers=self.admin_headers)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def router(
        self, name: str, providers: list[dict[str, Any]], *, model_type: str = "text-generation", **fields: Any
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "model_type": model_type,
            "providers": [{"provider_id": p["id"]} for p in providers],
        } | fields
        answer = await self.client.post("/api/v1/routers", json=body, headers=self.admin_headers)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def model(
        self,
        name: str,
        upstream_model: str | None = None,
        *,
        model_type: str = "text-generation",
        wire_format: str = "openai",
        **router_fields: Any,
    ) -> dict[str, Any]:
        provider = await self.provider(upstream_model or name, wire_format=wire_format)
        return await self.router(name, [provider], model_type=model_type, **router_fields)


@pytest.fixture
def models(client: httpx.AsyncClient, admin_headers: dict[str, str], mock_upstream: MockUpstream) -> ModelFactory:
    return ModelFactory(client, admin_headers, mock_upstream)


@pytest.fixture
async def openai_client(client: httpx.AsyncClient) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official SDK, talking to the in-process app."""
    sdk = openai.AsyncOpenAI(api_key=ADMIN_KEY, base_url="http://testserver/v1", http_client=client, max_retries=0)
    yield sdk
