"""Instructions per request under callgrind: an A/B figure this shared machine's noise does not move.

``python -m bench.instructions --stack switchyard-sqlite --workload chat [--requests 1000] [--concurrency 16]``

The system under test runs under ``valgrind --tool=callgrind`` with instrumentation off (start-up and set-up at
valgrind's base speed); for the measured part it is switched on, ``--requests`` requests are sent (after a
warm-up) by an in-process asyncio client at ``--concurrency``, and the instructions the server executed (every
thread, user space) are read back and divided by the requests. The same build gives the same figure within
~1 %, whatever else runs on the machine; req/s and CPU µs move by ±10–40 % here (bench/RESULTS.md).

What it does not see: time in the kernel (system calls, context switches) and waiting (a thread waiting for the
GIL costs no instructions) — a change that moves work between threads or trades instructions for system calls
needs ``make bench`` too. Under valgrind the threads run one at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

os.environ.setdefault("BENCH_STARTUP_LIMIT", "900")  # start-up under valgrind: read by bench.stacks

from bench.load import WORKLOADS  # noqa: E402
from bench.processes import BenchError  # noqa: E402
from bench.stacks import Context, Cores, Running, bare, start_mock  # noqa: E402
from bench.switchyard_stack import EXTRA_ENVIRONMENT, start_switchyard, switchyard_command  # noqa: E402

STACKS = ("bare", "switchyard-sqlite", "switchyard-postgres")

USAGE_BATCH = 100
"""Usage records are written 100 at a time and never on a timer: how many batches a run writes must not depend on
how fast valgrind runs (each batch has a cost of its own)."""


async def _send(running: Running, workload: str, requests: int, concurrency: int) -> int:
    """Sends ``requests`` requests, ``concurrency`` at a time; returns how many answered 200."""
    spec = WORKLOADS[workload]
    body = spec.body_for(running.models[spec.model_kind])
    headers = {"Authorization": running.authorization, "Content-Type": "application/json"}
    remaining = requests
    ok = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining, ok
        while remaining > 0:
            remaining -= 1
            async with session.post(running.url + spec.path, data=body, headers=headers) as response:
                await response.read()
                ok += response.status == 200

    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return ok


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=120)


def _total(out_dir: Path) -> int:
    """The instructions in every dump of the run (one file per thread and dump)."""
    total = 0
    for path in out_dir.iterdir():
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total += int(line.split()[1])
                break
    return total


def measure(stack: str, workload: str, requests: int, concurrency: int, warmup: int) -> tuple[int, int]:
    """(instructions, requests answered) for one stack and workload."""
    work = Path(tempfile.mkdtemp(prefix="bench-callgrind-"))
    out_dir = work / "out"
    out_dir.mkdir()
    valgrind = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
        f"--callgrind-out-file={out_dir}/callgrind.%p",
    ]  # fmt: skip
    mock, mock_url = start_mock(work / "raw", Cores(), stream_writes="single")
    context = Context(work / "raw", mock_url, mock, Cores())
    try:
        if stack == "bare":
            os.environ["BENCH_BARE_PREFIX"] = " ".join(valgrind)
            running = bare(context)
        else:
            EXTRA_ENVIRONMENT.update(
                SWITCHYARD_USAGE_BATCH_SIZE=str(USAGE_BATCH), SWITCHYARD_USAGE_FLUSH_INTERVAL_SECONDS="60"
            )
            os.environ["BENCH_SWITCHYARD"] = " ".join([*valgrind, *switchyard_command()])
            running = start_switchyard(context, stack.removeprefix("switchyard-"))
        try:
            asyncio.run(_send(running, workload, warmup, concurrency))
            pid = str(running.process.pid)
            _control("-i", "on", pid)
            _control("-z", pid)
            began = time.monotonic()
            answered = asyncio.run(_send(running, workload, requests, concurrency))
            _control("-d", pid)
            _control("-i", "off", pid)
            seconds = time.monotonic() - began
            print(f"instructions: {workload} on {stack}: {requests} requests in {seconds:.0f} s; dumps in {out_dir}")
            return _total(out_dir), answered
        finally:
            running.stop()
    finally:
        mock.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", choices=STACKS, default="switchyard-sqlite")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="chat")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    instructions, answered = measure(args.stack, args.workload, args.requests, args.concurrency, args.warmup)
    if answered != args.requests:
        raise BenchError(f"{args.requests - answered} of {args.requests} requests failed")
    print(f"{args.stack} {args.workload} c={args.concurrency}: {instructions / answered:,.0f} instructions per request")


if __name__ == "__main__":
    main()
