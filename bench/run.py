"""The benchmark: ``make bench`` (or ``.venv/bin/python -m bench.run``). See ``bench/README.md``.

Starts the mock upstream, then each stack in turn on its own core; checks one answer per workload; runs wrk for
every workload × concurrency (a warm-up, then the measured run); writes the raw outputs to
``bench/results/<stamp>/``, the summary to ``bench/results/<stamp>.md``, and appends a section to
``bench/RESULTS.md``. Settings come from ``BENCH_*`` variables or the options below.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import httpx

from bench import machine, report
from bench.checks import check_answer, check_stack
from bench.litellm_stack import start_litellm
from bench.load import BUILTIN, BUILTIN_CONCURRENCY, WORKLOADS, Measurement, Workload, measure, parse_wrk, run_wrk
from bench.processes import BenchError, Process
from bench.stacks import Context, Cores, Running, bare, direct, start_mock
from bench.switchyard_stack import start_switchyard

RESULTS_DIR = Path(__file__).parent / "results"
HISTORY = Path(__file__).parent / "RESULTS.md"

STARTERS: dict[str, Callable[[Context], Running]] = {
    "direct": direct,
    "bare": bare,
    "switchyard-sqlite": lambda context: start_switchyard(context, "sqlite"),
    "switchyard-postgres": lambda context: start_switchyard(context, "postgres"),
    "switchyard-postgres-redis": lambda context: start_switchyard(context, "postgres", redis=True),
    "litellm": start_litellm,
}
DEFAULT_STACKS = "direct,bare,switchyard-sqlite,switchyard-postgres,litellm"
BUILTIN_FIRST_LIMIT = 900.0
"""The built-in model's first request exports it to ONNX when no export is cached: allow for it."""
OPTIONAL_STACKS = frozenset({"litellm"})
"""Stacks whose failure to install or start is reported in the table rather than failing the run."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    quick = _env("BENCH_QUICK", "0") not in ("0", "", "false")
    parser = argparse.ArgumentParser(description="Switchyard's benchmark harness.")
    parser.add_argument("--stacks", default=_env("BENCH_STACKS", DEFAULT_STACKS), help=", ".join(STARTERS))
    parser.add_argument("--workloads", default=_env("BENCH_WORKLOADS", ",".join(WORKLOADS)))
    parser.add_argument("--concurrency", default=_env("BENCH_CONCURRENCY", "1,16,64"))
    parser.add_argument("--seconds", type=float, default=float(_env("BENCH_SECONDS", "3" if quick else "15")))
    parser.add_argument("--warmup", type=float, default=float(_env("BENCH_WARMUP", "1" if quick else "3")))
    parser.add_argument("--stream-writes", default=_env("BENCH_STREAM_WRITES", "single"), choices=("single", "event"))
    parser.add_argument(
        "--builtin",
        type=int,
        default=int(_env("BENCH_BUILTIN", "1")),
        help="1: also measure Switchyard's built-in embedding model (sentences/s); 0: skip it.",
    )
    parser.add_argument(
        "--history",
        action=argparse.BooleanOptionalAction,
        default=not quick,
        help="Append a section to bench/RESULTS.md (default: for full runs, not for BENCH_QUICK ones).",
    )
    parser.add_argument("--label", default=_env("BENCH_LABEL", "quick" if quick else "full"))
    options = parser.parse_args(argv)
    options.stacks = [s.strip() for s in options.stacks.split(",") if s.strip()]
    options.workloads = [w.strip() for w in options.workloads.split(",") if w.strip()]
    options.concurrency = [int(c) for c in options.concurrency.split(",") if c.strip()]
    unknown = [s for s in options.stacks if s not in STARTERS] + [w for w in options.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown stack or workload: {', '.join(unknown)}")
    return options


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop every server


def _measure_cell(
    running: Running,
    workload: Workload,
    body_file: Path,
    concurrency: int,
    options: argparse.Namespace,
    context: Context,
    out: list[Measurement],
) -> None:
    url = running.url + workload.path
    if options.warmup > 0:
        warmup = run_wrk(
            url,
            body_file,
            running.authorization,
            concurrency=concurrency,
            seconds=options.warmup,
            core=context.cores.load,
        )
        running.sent += int(parse_wrk(warmup)["requests"])
    m = measure(
        running.name,
        workload.name,
        url,
        body_file,
        running.authorization,
        concurrency=concurrency,
        seconds=options.seconds,
        load_core=context.cores.load,
        sut_pid=running.process.pid,
        mock_pid=None if running.process is context.mock else context.mock.pid,
    )
    (context.raw_dir / f"wrk-{running.name}-{workload.name}-c{concurrency}.txt").write_text(m.raw)
    out.append(m)
    running.sent += m.requests
    print(
        f"  {workload.name:<10} c={concurrency:<3} {m.rps:>9,.0f} req/s"
        f"  p50 {m.latency_us['p50'] / 1000:6.2f} ms  p99 {m.latency_us['p99'] / 1000:7.2f} ms"
        f"  cpu {m.cpu_us_per_request or 0:7.0f} µs/req  errors {m.error_count}",
        flush=True,
    )


def measure_stack(running: Running, options: argparse.Namespace, context: Context, out: list[Measurement]) -> None:
    workloads = [WORKLOADS[name] for name in options.workloads]
    check_stack(running.url, running.authorization, running.models, workloads)
    running.sent += len(workloads)
    for workload in workloads:
        body_file = context.raw_dir / f"body-{workload.name}-{running.name}.json"
        body_file.write_bytes(workload.body_for(running.models[workload.model_kind]))
        for concurrency in options.concurrency:
            _measure_cell(running, workload, body_file, concurrency, options, context, out)
        if not running.process.alive():
            raise BenchError(f"{running.name} died during {workload.name}:\n{running.process.output()}")


def measure_builtin(running: Running, options: argparse.Namespace, context: Context, out: list[Measurement]) -> str:
    """Sentences/s of the built-in embedding model, when the stack serves it; a line for the stack's notes."""
    model = running.models["builtin"]
    with httpx.Client(timeout=BUILTIN_FIRST_LIMIT, headers={"Authorization": running.authorization}) as http:
        listed = http.get(running.url + "/v1/models")
        if listed.status_code != 200 or model not in {m.get("id") for m in listed.json().get("data", [])}:
            return f"built-in embedding model: `{model}` is not served by this build"
        body = BUILTIN.body_for(model)
        began = time.monotonic()
        first = http.post(running.url + BUILTIN.path, content=body, headers={"Content-Type": "application/json"})
        loaded = time.monotonic() - began
    check_answer(BUILTIN, first.status_code, first.text)
    running.sent += 1
    body_file = context.raw_dir / f"body-{BUILTIN.name}-{running.name}.json"
    body_file.write_bytes(body)
    for concurrency in BUILTIN_CONCURRENCY:
        _measure_cell(running, BUILTIN, body_file, concurrency, options, context, out)
    return f"built-in embedding model `{model}`: first request (export/load) {loaded:.1f} s"


def run(options: argparse.Namespace) -> int:
    cores = Cores()
    os.sched_setaffinity(0, {cores.load})  # the harness itself stays off the system under test's core
    started = datetime.now(UTC)
    stamp = started.strftime("%Y-%m-%d-%H%M%S")
    raw_dir = RESULTS_DIR / stamp
    raw_dir.mkdir(parents=True)
    preamble = machine.describe()
    print(f"bench: results in {raw_dir}", flush=True)
    measurements: list[Measurement] = []
    notes: dict[str, list[str]] = {}
    failures: dict[str, str] = {}
    mock: Process | None = None
    try:
        mock, mock_url = start_mock(raw_dir, cores, stream_writes=options.stream_writes)
        context = Context(raw_dir, mock_url, mock, cores)
        for name in options.stacks:
            print(f"{name}:", flush=True)
            running: Running | None = None
            try:
                running = STARTERS[name](context)
                measure_stack(running, options, context, measurements)
                notes[name] = list(running.notes)
                if "builtin" in running.models and options.builtin:
                    notes[name].append(measure_builtin(running, options, context, measurements))
                notes[name] += running.report(running.sent) if running.report else []
            except BenchError as exc:
                lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
                failures[name] = lines[0] + (f" … {lines[-1]}" if len(lines) > 1 else "")
                print(f"  not measured: {exc}", flush=True)
            finally:
                if running is not None:
                    running.stop()
    finally:
        if mock is not None:
            mock.stop()
    results = report.Results(measurements)
    title = f"Benchmark {started:%Y-%m-%d %H:%M} UTC ({options.label})"
    preamble += [
        f"- Layout: wrk (1 thread) and the mock upstream on core {cores.load}, the system under test on core "
        f"{cores.sut} (`taskset`); all on 127.0.0.1. Each cell: {options.warmup:g} s warm-up, then "
        f"{options.seconds:g} s measured. Mock streams written {options.stream_writes} "
        "(see README).",
        "- Latency: wrk's `--latency` histogram (from the request's first byte written to the answer's last byte "
        "read; not corrected for coordinated omission). *Added* = the stack's percentile minus direct's at the same "
        "concurrency. CPU µs/req: utime+stime of the server process (and its children) over the measured run ÷ "
        "requests. req/s counts answers that were not errors.",
    ]
    text = report.summary(results, title=title, preamble=preamble, stack_notes=notes, failures=failures)
    (RESULTS_DIR / f"{stamp}.md").write_text(text)
    (raw_dir / "results.json").write_text(
        json.dumps({"options": vars(options), "measurements": [m.as_dict() for m in measurements]}, indent=1)
    )
    if options.history:
        context_line = preamble[0].removeprefix("- ") + "; " + options.label + f" run, {options.seconds:g} s per cell."
        with HISTORY.open("a") as history:
            history.write(
                "\n" + report.history_entry(results, title=title, summary_name=f"{stamp}.md", context=context_line)
            )
    print(text)
    print(f"bench: summary in {RESULTS_DIR / f'{stamp}.md'}", flush=True)
    fatal = [name for name in failures if name not in OPTIONAL_STACKS]
    return 1 if fatal else 0


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    began = time.monotonic()
    code = run(parse_options())
    print(f"bench: {time.monotonic() - began:.0f} s", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
