"""Memory under a long load (not in CI): does the gateway's resident memory stay flat after warm-up?

Run: ``.venv/bin/python -m bench.soak [--requests 1000000] [--stack switchyard-sqlite]``. Drives the stack with wrk
in rounds (chat, streaming chat and embeddings in turn, concurrency 16) until it has answered ``--requests``,
reading its resident memory (``/proc/PID/statm``, with its children) after every round. The baseline is the
first reading after ``--warmup`` requests; the verdict is the last reading's growth over it (target ≤ 5 %).
Writes ``bench/results/soak-<stamp>.md`` and the raw wrk outputs under ``bench/results/soak-<stamp>/``.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from bench.load import WORKLOADS, measure
from bench.machine import describe
from bench.processes import BenchError, rss_bytes
from bench.run import RESULTS_DIR, STARTERS
from bench.stacks import Context, Cores, start_mock

ROTATION = ("chat", "stream", "embeddings")
GROWTH_TARGET = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="switchyard-sqlite", choices=sorted(STARTERS))
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--warmup", type=int, default=100_000, help="Requests before the baseline reading.")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--round-seconds", type=float, default=20)
    parser.add_argument("--max-minutes", type=float, default=90, help="Stop (and say so) after this long.")
    args = parser.parse_args()
    cores = Cores()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
    raw_dir = RESULTS_DIR / f"soak-{stamp}"
    raw_dir.mkdir(parents=True)
    mock, mock_url = start_mock(raw_dir, cores, stream_writes="single")
    running = None
    readings: list[tuple[int, float, int]] = []  # (requests so far, minutes, rss bytes)
    deadline = time.monotonic() + args.max_minutes * 60
    began = time.monotonic()
    done = errors = 0
    try:
        running = STARTERS[args.stack](Context(raw_dir, mock_url, mock, cores))
        readings.append((0, 0.0, rss_bytes(running.process.pid)))
        bodies = {}
        for name in ROTATION:
            workload = WORKLOADS[name]
            bodies[name] = raw_dir / f"body-{name}.json"
            bodies[name].write_bytes(workload.body_for(running.models[workload.model_kind]))
        round_number = 0
        while done < args.requests and time.monotonic() < deadline:
            workload = WORKLOADS[ROTATION[round_number % len(ROTATION)]]
            m = measure(
                running.name,
                workload.name,
                running.url + workload.path,
                bodies[workload.name],
                running.authorization,
                concurrency=args.concurrency,
                seconds=args.round_seconds,
                load_core=cores.load,
                sut_pid=running.process.pid,
                mock_pid=None,
            )
            (raw_dir / f"wrk-{round_number:04d}-{workload.name}.txt").write_text(m.raw)
            done += m.requests
            errors += m.error_count
            if not running.process.alive():
                raise BenchError(f"{running.name} died:\n{running.process.output()}")
            readings.append((done, (time.monotonic() - began) / 60, rss_bytes(running.process.pid)))
            print(f"{done:>10,} requests  {readings[-1][2] / 2**20:8.1f} MiB  {m.rps:8,.0f} req/s", flush=True)
            round_number += 1
    finally:
        if running is not None:
            running.stop()
        mock.stop()
    text = report(args, stamp, readings, done, errors)
    (RESULTS_DIR / f"soak-{stamp}.md").write_text(text)
    print(text)


def report(args: argparse.Namespace, stamp: str, readings: list[tuple[int, float, int]], done: int, errors: int) -> str:
    after = [r for r in readings if r[0] >= args.warmup]
    lines = [f"# Soak of {args.stack} ({stamp})", "", *describe(), ""]
    lines.append(
        f"{done:,} requests (chat, streaming chat and embeddings in turn, c={args.concurrency}, "
        f"{args.round_seconds:g} s rounds), {errors} errors, {readings[-1][1]:.1f} minutes."
    )
    if done < args.requests:
        lines.append(f"Stopped after {args.max_minutes:g} minutes, short of {args.requests:,} requests.")
    if len(after) >= 2:
        base, last = after[0][2], after[-1][2]
        growth = (last - base) / base
        verdict = "met" if growth <= GROWTH_TARGET else "**missed**"
        lines.append(
            f"Resident memory after warm-up ({after[0][0]:,} requests): {base / 2**20:.1f} MiB; at the end "
            f"{last / 2**20:.1f} MiB; growth {growth * 100:+.1f} % (target ≤ {GROWTH_TARGET * 100:.0f} %: {verdict}); "
            f"peak {max(r[2] for r in after) / 2**20:.1f} MiB."
        )
    lines += ["", "| requests | minutes | RSS MiB |", "| ---: | ---: | ---: |"]
    step = max(1, len(readings) // 40)
    for index, (count, minutes, rss) in enumerate(readings):
        if index % step == 0 or index == len(readings) - 1:
            lines.append(f"| {count:,} | {minutes:.1f} | {rss / 2**20:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
