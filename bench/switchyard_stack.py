"""Switchyard as the system under test: ``switchyard serve`` on SQLite or on a throwaway PostgreSQL database, set
up through the management API with governance on — the key used belongs to a role with rate limits.

The harness measures whatever the server does; it only checks, and reports, what the build enforces: a probe key
whose role allows one request per minute must be refused its second request (429), and after the run the usage
API is asked how many requests were recorded.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.processes import BenchError, free_port, start, wait_http
from bench.stacks import BENCH_MODELS, STARTUP_LIMIT, UPSTREAM_KEY, Context, Running

ADMIN_KEY = "sy-bench-admin-0123456789abcdefghijklmnopqrstuv"
ADMIN_PASSWORD = "bench-admin-password-0123"
SECRET_KEY = "bench-secret-key-0123456789abcdefghijklmnop"
POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
BUILTIN_MODEL = "all-minilm-l6-v2"
MODELS_CACHE = Path(__file__).parent / ".cache" / "models"
"""Where the built-in model's ONNX export is kept between runs (made once, ~1 min, on its first request)."""
HIGH_LIMITS = [
    {"router": "*", "type": "rpm", "value": 100_000_000},
    {"router": "*", "type": "tpm", "value": 100_000_000_000},
]


EXTRA_ENVIRONMENT: dict[str, str] = {}
"""Settings for the server on top of the harness's own (``bench.instructions`` sets the usage writer's)."""


def switchyard_command() -> list[str]:
    """``.venv/bin/switchyard``, or ``BENCH_SWITCHYARD`` (e.g. another checkout's, to compare two builds);
    ``serve --port … --data-dir …`` is appended."""
    override = os.environ.get("BENCH_SWITCHYARD")
    return shlex.split(override) if override else [str(Path(sys.executable).parent / "switchyard")]


def _environment(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env.update(PYTHONUNBUFFERED="1", SWITCHYARD_LOG_LEVEL="warning")
    env.update(SWITCHYARD_ADMIN_KEY=ADMIN_KEY, SWITCHYARD_ADMIN_PASSWORD=ADMIN_PASSWORD)
    env.update(SWITCHYARD_MODELS_DIR=str(MODELS_CACHE))
    env.update(variables)
    return env


async def _postgres(statement: str) -> None:
    connection = await asyncpg.connect(f"{POSTGRES_SERVER}/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _created(response: httpx.Response) -> dict[str, Any]:
    if response.status_code not in (200, 201):
        raise BenchError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    data: dict[str, Any] = response.json()
    return data


def _user_with_key(http: httpx.Client, name: str, limits: list[dict[str, Any]]) -> str:
    """A role ``name`` (no permissions) whose limits are set with PATCH, a user in it and an API key of theirs."""
    role = _created(http.post("/api/v1/roles", json={"name": name, "description": "benchmark"}))
    _created(http.patch(f"/api/v1/roles/{role['id']}", json={"limits": limits}))
    user = _created(http.post("/api/v1/users", json={"email": f"{name}@bench.example", "role_id": role["id"]}))
    key = _created(http.post("/api/v1/keys", json={"name": name, "user_id": user["id"]}))
    return str(key["key"])


def configure(url: str, mock_url: str) -> tuple[str, str]:
    """Providers and routers over the mock, the bench key, and the rate-limit probe; (key, probe result)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30) as http:
        for kind, model_type, upstream in (
            ("chat", "text-generation", "mock-model"),
            ("embed", "text-embeddings-inference", "mock-embed"),
        ):
            provider = _created(
                http.post(
                    "/api/v1/providers",
                    json={
                        "name": f"{BENCH_MODELS[kind]}-mock",
                        "wire_format": "openai",
                        "base_url": f"{mock_url}/v1",
                        "upstream_model": upstream,
                        "api_key": UPSTREAM_KEY,
                    },
                )
            )
            _created(
                http.post(
                    "/api/v1/routers",
                    json={
                        "name": BENCH_MODELS[kind],
                        "model_type": model_type,
                        "providers": [{"provider_id": provider["id"]}],
                    },
                )
            )
        key = _user_with_key(http, "bench", HIGH_LIMITS)
        probe_key = _user_with_key(http, "bench-probe", [{"router": "*", "type": "rpm", "value": 1}])
    return key, probe_rate_limit(url, probe_key)


def probe_rate_limit(url: str, key: str) -> str:
    """Two requests with a key whose role allows one per minute: is the second refused?"""
    body = {"model": BENCH_MODELS["chat"], "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        statuses = [http.post("/v1/chat/completions", json=body).status_code for _ in range(2)]
    if statuses == [200, 429]:
        return "enforced (a 1 rpm role got 200 then 429)"
    return f"NOT enforced by this build (a 1 rpm role got {statuses[0]} then {statuses[1]})"


def usage_report(url: str, sent: int) -> list[str]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30) as http:
        try:
            response = http.get("/api/v1/usage", params={"limit": 1})
        except httpx.HTTPError as exc:
            return [f"usage records: the usage API could not be read ({type(exc).__name__})"]
    if response.status_code != 200:
        return [f"usage records: `GET /api/v1/usage` answered {response.status_code} (not in this build)"]
    data = response.json()
    total = f"more than {data['total']:,}" if data.get("total_capped") else f"{data.get('total', 0):,}"
    return [f"usage records after the run: {total} (`GET /api/v1/usage`) for {sent:,} requests sent"]


def start_switchyard(context: Context, database: str, *, redis: bool = False) -> Running:
    """``database``: ``sqlite`` (the embedded default) or ``postgres`` (a throwaway database, dropped at stop)."""
    name = f"switchyard-{database}" + ("-redis" if redis else "")
    data_dir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    variables: dict[str, str] = dict(EXTRA_ENVIRONMENT)
    cleanup: list[Callable[[], None]] = [lambda: shutil.rmtree(data_dir, ignore_errors=True)]
    if database == "postgres":
        db_name = f"switchyard_bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(_postgres(f'CREATE DATABASE "{db_name}"'))
        cleanup.append(lambda: asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')))
        host = POSTGRES_SERVER.split("://", 1)[1]
        variables.update(
            SWITCHYARD_DATABASE_URL=f"postgresql+asyncpg://{host}/{db_name}", SWITCHYARD_SECRET_KEY=SECRET_KEY
        )
    if redis:
        variables["SWITCHYARD_REDIS_URL"] = REDIS_URL
    port = free_port()
    command = [*switchyard_command(), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    process = start(
        name, command, core=context.cores.sut, log=context.raw_dir / f"{name}.log", env=_environment(**variables)
    )
    url = f"http://127.0.0.1:{port}"
    running = Running(name, url, "", {**BENCH_MODELS, "builtin": BUILTIN_MODEL}, process, cleanup=cleanup)
    try:
        wait_http(process, f"{url}/health/ready", limit=STARTUP_LIMIT, ok=lambda r: r.status_code == 200)
        key, probe = configure(url, context.mock_url)
    except BaseException:
        running.stop()
        raise
    running.authorization = f"Bearer {key}"
    running.notes = [
        "authentication, routing, a role with rpm and tpm limits on every router; usage recording as the build does",
        f"rate limit: {probe}",
        "store: "
        + ("SQLite (embedded default)" if database == "sqlite" else "PostgreSQL (127.0.0.1)")
        + (", counters on Redis" if redis else ", in-process counters"),
        "log level: warning (no access log)",
    ]
    if os.environ.get("BENCH_SWITCHYARD"):
        running.notes.append(f"command: `{os.environ['BENCH_SWITCHYARD']}` (BENCH_SWITCHYARD)")
    running.report = lambda sent: usage_report(url, sent)
    return running
