"""Sentences per second of the built-in embedding model (``all-minilm-l6-v2``), in the runtime and over HTTP.

Run: ``.venv/bin/python bench/embeddings.py [--seconds 10] [--threads 1] [--concurrency 1,8,32]``

1. **Runtime, directly** (``LocalModel`` in this process, no HTTP): one sentence per call, one call after
   another; calls of 32 sentences; C concurrent callers of one sentence each (the micro-batcher gathers them).
2. **HTTP**: a real ``switchyard serve`` (fresh SQLite data dir, the built-in model on) driven by the official
   ``openai`` SDK (``AsyncOpenAI``, base64 as the SDK asks by default): C concurrent clients of one sentence
   per request, and requests of 32 sentences. The client runs in this process, on the same cores.

The sentences are 8–30 words (about 10–40 tokens). ONNX exports are cached in ``bench/.cache/models`` (the
first run exports, 10–60 s). Prints a Markdown table with the load average before the run: the cores are
shared, rerun before quoting a figure. Sentences per CPU-second (CPU time of the process that runs the model:
this one for the runtime rows, the server for the HTTP rows) depends much less on what else the machine runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai

from switchyard.adapters.runtimes.local_model import LocalModel, LocalModels, RuntimeConfig

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "bench" / ".cache" / "models"
MODEL = "all-minilm-l6-v2"
BATCH = 32
KEY = "sy-bench-embeddings-0123456789abcdefghijklmnop"
WORDS = (
    "the a gateway routes every request to model provider with low latency while operators watch budgets quotas "
    "and carbon across clusters of machines that serve embeddings for search retrieval ranking documents quickly"
).split()


def sentences(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "." for _ in range(count)]


@dataclass
class Result:
    path: str
    shape: str
    sentences: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]

    def row(self) -> str:
        rate = self.sentences / self.seconds
        per_cpu = self.sentences / self.cpu_seconds if self.cpu_seconds > 0 else float("nan")
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
        return f"| {self.path} | {self.shape} | {rate:,.0f} | {per_cpu:,.0f} | {p50:.1f} | {p95:.1f} | {len(ordered)} |"


def process_cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one when ``pid`` is None), all its threads included."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def closed_loop(
    path: str,
    shape: str,
    call: Callable[[list[str]], Awaitable[object]],
    size: int,
    callers: int,
    seconds: float,
    pid: int | None = None,
) -> Result:
    """``callers`` loops, each sending ``size`` sentences per call until ``seconds`` have passed."""
    texts = sentences(4096)
    latencies: list[float] = []
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller(offset: int) -> None:
        nonlocal done
        position = offset
        while time.perf_counter() < deadline:
            batch = [texts[(position + i) % len(texts)] for i in range(size)]
            began = time.perf_counter()
            await call(batch)
            latencies.append(time.perf_counter() - began)
            done += size
            position += size * callers

    began, cpu = time.perf_counter(), process_cpu_seconds(pid)
    await asyncio.gather(*(caller(i * size) for i in range(callers)))
    return Result(path, shape, done, time.perf_counter() - began, process_cpu_seconds(pid) - cpu, latencies)


async def runtime_results(threads: int, concurrency: list[int], seconds: float) -> list[Result]:
    models = LocalModels(RuntimeConfig(models_dir=MODELS_DIR, threads=threads))
    model: LocalModel = models.get(f"local://{MODEL}")
    await model.encode(["warm up"])

    async def encode(texts: list[str]) -> object:
        return await model.encode(texts)

    results = [
        await closed_loop("runtime", "1 sentence per call, sequential", encode, 1, 1, seconds),
        await closed_loop("runtime", f"{BATCH} sentences per call", encode, BATCH, 1, seconds),
    ]
    for callers in concurrency:
        if callers > 1:
            shape = f"{callers} concurrent callers × 1 sentence"
            results.append(await closed_loop("runtime", shape, encode, 1, callers, seconds))
    models.configure(RuntimeConfig(models_dir=MODELS_DIR))  # stops the worker thread
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")} | {
        "SWITCHYARD_ADMIN_KEY": KEY,
        "SWITCHYARD_MODELS_DIR": str(MODELS_DIR),
        "SWITCHYARD_LOCAL_THREADS": str(threads),
        "SWITCHYARD_LOG_LEVEL": "warning",
    }
    command = [
        str(Path(sys.executable).parent / "switchyard"),
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not become ready within 60 s")


async def http_results(url: str, pid: int, concurrency: list[int], seconds: float) -> list[Result]:
    limits = httpx.Limits(max_connections=max(concurrency) + 1, max_keepalive_connections=max(concurrency) + 1)
    async with (
        httpx.AsyncClient(limits=limits, timeout=600) as http,
        openai.AsyncOpenAI(api_key=KEY, base_url=f"{url}/v1", http_client=http, max_retries=0) as client,
    ):

        async def embed(texts: list[str]) -> object:
            return await client.embeddings.create(model=MODEL, input=texts)

        await embed(["warm up: the first request loads the model"])
        results = []
        for callers in concurrency:
            shape = f"{callers} concurrent clients × 1 sentence"
            results.append(await closed_loop("HTTP + openai SDK", shape, embed, 1, callers, seconds, pid))
        results.append(
            await closed_loop("HTTP + openai SDK", f"{BATCH} sentences per request", embed, BATCH, 1, seconds, pid)
        )
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description="Sentences per second of the built-in embedding model.")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads of the model (0: one per core)")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated numbers of concurrent callers")
    parser.add_argument("--skip-http", action="store_true", help="measure the runtime only")
    args = parser.parse_args()
    concurrency = [int(c) for c in args.concurrency.split(",")]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    results = asyncio.run(runtime_results(args.threads, concurrency, args.seconds))
    if not args.skip_http:
        with tempfile.TemporaryDirectory(prefix="switchyard-bench-") as data_dir:
            process, url = start_server(Path(data_dir), args.threads)
            try:
                results += asyncio.run(http_results(url, process.pid, concurrency, args.seconds))
            finally:
                process.terminate()
                process.wait(timeout=30)
    print(f"\n{os.cpu_count()} cores, load average {load} before the run; model threads: {args.threads}\n")
    print("| path | workload | sentences/s | sentences per CPU-s | p50 ms per call | p95 ms per call | calls |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
