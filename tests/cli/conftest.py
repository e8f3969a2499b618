"""Fixtures for the CLI's tests: an isolated CLI configuration file, a runner that invokes the real command
tree in-process, and a real server (uvicorn on a free port, SQLite) in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner, Result

from switchyard.api.app import create_app
from switchyard.api.server_protocol import GatheringProtocol
from switchyard.cli.config_store import CONFIG_ENV
from switchyard.cli.main import app
from switchyard.cli.state import CliState
from switchyard.services.bootstrap import bootstrap
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store import migrate
from tests.conftest import ADMIN_KEY, ADMIN_PASSWORD, SECRET_KEY

STARTUP_LIMIT = 20.0

Invoke = Callable[..., Result]


@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the CLI keeps its contexts during the test (``SWITCHYARD_CLI_CONFIG``); not created yet."""
    path = tmp_path / "cli" / "config.json"
    monkeypatch.setenv(CONFIG_ENV, str(path))
    monkeypatch.delenv("SWITCHYARD_CONTEXT", raising=False)
    return path


@pytest.fixture
def invoke(cli_config: Path) -> Invoke:
    """``invoke(*args, transport=None, input=None)``: runs ``switchyard *args`` in-process; with ``transport``
    the CLI's HTTP requests go to it instead of the network."""

    def run(*args: str, transport: httpx.BaseTransport | None = None, input: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), obj=CliState(transport=transport), input=input)

    return run


@dataclass
class LiveServer:
    url: str
    settings: Settings


def _serve_in_thread(settings: Settings, sock: socket.socket) -> tuple[threading.Thread, uvicorn.Server]:
    """Prepares the store and serves, all in the thread's own event loop (as ``switchyard serve`` does)."""
    platform = Platform.build(settings)
    config = uvicorn.Config(
        create_app(settings, platform), log_level="warning", lifespan="on", ws="none", http=GatheringProtocol
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        await migrate.upgrade(platform.engine)
        await bootstrap(platform)
        await server.serve(sockets=[sock])

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="switchyard-test-server", daemon=True)
    thread.start()
    return thread, server


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A real Switchyard server on 127.0.0.1 (SQLite, admin ``ADMIN_KEY``/``ADMIN_PASSWORD``), stopped after
    the test."""
    settings = Settings(
        data_dir=tmp_path / "server",
        admin_key=ADMIN_KEY,
        admin_password=ADMIN_PASSWORD,
        secret_key=SECRET_KEY,
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread, server = _serve_in_thread(settings, sock)
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail(f"the test server did not start within {STARTUP_LIMIT} s")
            time.sleep(0.02)
        yield LiveServer(url, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "the test server did not stop within 10 s"


@pytest.fixture
def logged_in(invoke: Invoke, live_server: LiveServer) -> LiveServer:
    """The live server, with the CLI logged in to it as the admin (by API key)."""
    result = invoke("login", live_server.url, "--api-key", ADMIN_KEY)
    assert result.exit_code == 0, result.output
    return live_server
