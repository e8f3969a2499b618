"""The systems under test. Each starter returns a ``Running`` stack: where to send requests, with which key and
model names, and the process whose CPU time is measured. The mock upstream is shared by every stack."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import Process, free_port, start, wait_http

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
UPSTREAM_KEY = "sk-bench-upstream-0123456789"
STARTUP_LIMIT = float(os.environ.get("BENCH_STARTUP_LIMIT", "90"))
"""Seconds a server may take to answer after it was started (``bench.instructions`` raises it: valgrind)."""


@dataclass(frozen=True)
class Cores:
    """Where things run: the load generator and the mock share ``load``; the system under test has ``sut``."""

    load: int = 0
    sut: int = 1


@dataclass
class Context:
    raw_dir: Path
    mock_url: str
    mock: Process
    cores: Cores


@dataclass
class Running:
    name: str
    url: str
    authorization: str
    models: dict[str, str]
    process: Process
    helpers: list[Process] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    version: str = ""
    report: Callable[[int], list[str]] | None = None
    """Called after the measurements with the number of requests sent: lines for the summary (e.g. what the
    server recorded of them)."""
    sent: int = 0
    """Requests sent so far: checks, warm-ups and measured runs."""

    def stop(self) -> None:
        for process in [self.process, *self.helpers]:
            if process.name != "mock":
                process.stop()
        for step in self.cleanup:
            step()


BENCH_MODELS = {"chat": "bench-chat", "embed": "bench-embed"}


def start_mock(raw_dir: Path, cores: Cores, *, stream_writes: str) -> tuple[Process, str]:
    port = free_port()
    command = [PYTHON, "-m", "bench.mock_upstream", "--port", str(port), "--stream-writes", stream_writes]
    process = start("mock", command, core=cores.load, log=raw_dir / "mock.log")
    url = f"http://127.0.0.1:{port}"
    wait_http(process, f"{url}/v1/models", limit=STARTUP_LIMIT)
    return process, url


def direct(context: Context) -> Running:
    """The physical limit: wrk straight to the mock (which shares the load generator's core)."""
    return Running(
        "direct",
        context.mock_url,
        f"Bearer {UPSTREAM_KEY}",
        dict(BENCH_MODELS),
        context.mock,
        notes=["the mock itself, on the load generator's core"],
    )


def bare(context: Context) -> Running:
    port = free_port()
    prefix = shlex.split(os.environ.get("BENCH_BARE_PREFIX", ""))  # e.g. valgrind (bench.instructions)
    command = [*prefix, PYTHON, "-m", "bench.bare_proxy", "--port", str(port), "--upstream", context.mock_url]
    process = start("bare", command, core=context.cores.sut, log=context.raw_dir / "bare.log")
    url = f"http://127.0.0.1:{port}"
    wait_http(process, f"{url}/v1/models", limit=STARTUP_LIMIT)
    notes = ["raw ASGI on uvicorn (uvloop + httptools), one pooled aiohttp session; no auth, no parsing"]
    return Running("bare", url, f"Bearer {UPSTREAM_KEY}", dict(BENCH_MODELS), process, notes=notes)
