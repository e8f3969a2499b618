"""The load: workloads (what is POSTed where) and one bounded wrk run against one stack, with the CPU time of the
system under test and the busy share of each core taken around it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import BenchError, core_busy, core_times, cpu_seconds

LUA_SCRIPT = Path(__file__).parent / "wrk" / "post.lua"
WRK_TIMEOUT = "30s"
"""wrk's per-request timeout: a slower answer counts as an error (and is then missing from the percentiles)."""

CHAT_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write one sentence about trains."},
]


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    model_kind: str  # "chat" or "embed": which of a stack's model names the body uses
    body: dict[str, Any]

    def body_for(self, model: str) -> bytes:
        return json.dumps({"model": model, **self.body}, separators=(",", ":")).encode()


WORKLOADS: dict[str, Workload] = {
    "chat": Workload("chat", "/v1/chat/completions", "chat", {"messages": CHAT_MESSAGES, "max_tokens": 64}),
    "stream": Workload(
        "stream", "/v1/chat/completions", "chat", {"messages": CHAT_MESSAGES, "max_tokens": 64, "stream": True}
    ),
    "embeddings": Workload(
        "embeddings", "/v1/embeddings", "embed", {"input": "The quick brown fox jumps over the lazy dog."}
    ),
}

BUILTIN_SENTENCES = [
    f"Sentence number {i} about the trains that leave the station on time, most days of the week." for i in range(16)
]
BUILTIN = Workload("builtin-embeddings", "/v1/embeddings", "builtin", {"input": BUILTIN_SENTENCES})
"""Switchyard's in-process embedding model (all-MiniLM-L6-v2): 16 sentences per request; reported as sentences/s."""
BUILTIN_CONCURRENCY = (1, 4)


@dataclass
class Measurement:
    stack: str
    workload: str
    concurrency: int
    seconds: float
    requests: int
    errors: dict[str, int]
    rps: float
    latency_us: dict[str, float]
    cpu_us_per_request: float | None
    mock_cpu_us_per_request: float | None
    core_busy: dict[str, float] = field(default_factory=dict)
    raw: str = ""

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("raw")
        return data


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise BenchError("wrk is not installed: apt-get install -y wrk")
    return found


def wrk_version() -> str:
    result = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, timeout=10)
    return (result.stdout + result.stderr).strip().splitlines()[0].split(" Copyright")[0]


def parse_wrk(output: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            parsed: dict[str, Any] = json.loads(line[len("BENCH_JSON ") :])
            return parsed
    raise BenchError(f"wrk printed no summary:\n{output[-2000:]}")


def run_wrk(
    url: str,
    body_file: Path,
    authorization: str,
    *,
    concurrency: int,
    seconds: float,
    core: int,
) -> str:
    """One wrk run, one thread on ``core``; its whole output."""
    command = [
        "taskset",
        "-c",
        str(core),
        wrk_path(),
        "-t1",
        f"-c{concurrency}",
        f"-d{seconds:g}s",
        "--timeout",
        WRK_TIMEOUT,
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        str(body_file),
        authorization,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish within {seconds + 60:.0f} s") from exc
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def measure(
    stack: str,
    workload: str,
    url: str,
    body_file: Path,
    authorization: str,
    *,
    concurrency: int,
    seconds: float,
    load_core: int,
    sut_pid: int,
    mock_pid: int | None,
) -> Measurement:
    """A wrk run with the CPU seconds of ``sut_pid`` (and of the mock) and each core's busy share around it."""
    cores0, cpu0 = core_times(), cpu_seconds(sut_pid)
    mock0 = cpu_seconds(mock_pid) if mock_pid is not None else 0.0
    began = time.monotonic()
    output = run_wrk(url, body_file, authorization, concurrency=concurrency, seconds=seconds, core=load_core)
    elapsed = time.monotonic() - began
    cpu1, cores1 = cpu_seconds(sut_pid), core_times()
    mock1 = cpu_seconds(mock_pid) if mock_pid is not None else 0.0
    summary = parse_wrk(output)
    requests = int(summary["requests"])
    duration = summary["duration_us"] / 1e6
    errors = {k: int(v) for k, v in summary["errors"].items()}

    def per_request(spent: float) -> float | None:
        return spent * 1e6 / requests if requests else None

    return Measurement(
        stack=stack,
        workload=workload,
        concurrency=concurrency,
        seconds=round(elapsed, 2),
        requests=requests,
        errors=errors,
        rps=(requests - errors["status"]) / duration if duration else 0.0,  # answers that were not errors
        latency_us={k: float(v) for k, v in summary["latency_us"].items()},
        cpu_us_per_request=per_request(cpu1 - cpu0),
        mock_cpu_us_per_request=per_request(mock1 - mock0) if mock_pid is not None else None,
        core_busy={str(core): round(share, 3) for core, share in core_busy(cores0, cores1).items()},
        raw=output,
    )
