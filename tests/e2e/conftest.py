"""Helpers for end-to-end tests that run ``switchyard serve`` as a real subprocess.

Fixtures (named for what they give, so that other e2e modules can use them or define their own alongside):

- ``switchyard_server_factory`` — ``start(data_dir, env)`` runs ``switchyard serve`` on a free port, waits
  (bounded) for ``/health/ready`` and returns a ``ServerProcess``; every server started is stopped at the end.

Functions: ``switchyard_executable()`` (the installed ``switchyard``), ``server_environment(**variables)``
(``os.environ`` without any ``SWITCHYARD_*`` variable, the built-in embedding model off, plus the given
ones), ``wait_until_ready(server)``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD
from tests.mock_upstream.server import MockUpstream

STARTUP_LIMIT = 45.0
STOP_LIMIT = 15.0


def switchyard_executable() -> Path:
    return Path(sys.executable).parent / "switchyard"


def server_environment(**variables: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SWITCHYARD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["SWITCHYARD_BUILTIN_EMBEDDINGS"] = "false"  # as in tests/conftest.py; the local-model tests turn it on
    env.update(variables)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it has not exited within ``STOP_LIMIT``; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_LIMIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_LIMIT)
        return self.process.returncode


def wait_until_ready(server: ServerProcess, limit: float = STARTUP_LIMIT) -> None:
    deadline = time.monotonic() + limit
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"the server exited with {server.process.returncode}:\n{server.output()[-4000:]}")
            try:
                if http.get(f"{server.url}/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"the server was not ready within {limit} s:\n{server.output()[-4000:]}")


StartServer = Callable[[Path, dict[str, str]], ServerProcess]


@pytest.fixture
def switchyard_server_factory(tmp_path: Path) -> Iterator[StartServer]:
    """``start(data_dir, env)``: ``switchyard serve --port <free> --data-dir <data_dir>`` with exactly ``env``
    (build it with ``server_environment``), ready to serve when it returns."""
    started: list[ServerProcess] = []

    def start(data_dir: Path, env: dict[str, str]) -> ServerProcess:
        port = free_port()
        log = tmp_path / f"server-{len(started)}-{port}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(switchyard_executable()), "serve", "--port", str(port), "--data-dir", str(data_dir)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
        started.append(server)
        wait_until_ready(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@dataclass
class Gateway:
    server: ServerProcess
    upstream: MockUpstream

    @property
    def v1(self) -> str:
        return f"{self.server.url}/v1"

    def add_model(
        self, name: str, upstream_model: str, model_type: str = "text-generation", **router_fields: Any
    ) -> dict[str, Any]:
        """A provider on the mock upstream and a router named ``name`` over it (with ``router_fields``), created
        over HTTP."""
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=10) as http:
            provider = http.post(
                "/api/v1/providers",
                json={
                    "name": f"{name}-provider",
                    "wire_format": "openai",
                    "base_url": f"{self.upstream.url}/v1",
                    "upstream_model": upstream_model,
                    "api_key": "sk-e2e-upstream-secret",
                    "context_length": 8192,
                },
            )
            assert provider.status_code == 201, provider.text
            router = http.post(
                "/api/v1/routers",
                json={
                    "name": name,
                    "aliases": [f"{name}-alias"],
                    "model_type": model_type,
                    "providers": [{"provider_id": provider.json()["id"]}],
                }
                | router_fields,
            )
            assert router.status_code == 201, router.text
        return dict(provider.json())


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def gateway(switchyard_server_factory: StartServer, tmp_path: Path, mock_upstream: MockUpstream) -> Gateway:
    env = server_environment(SWITCHYARD_ADMIN_KEY=ADMIN_KEY, SWITCHYARD_ADMIN_PASSWORD=ADMIN_PASSWORD)
    return Gateway(switchyard_server_factory(tmp_path / "data", env), mock_upstream)
