"""Where a stack's CPU goes under load: py-spy samples the system under test while wrk drives one workload.

Run: ``.venv/bin/python -m bench.profile [--stack switchyard-sqlite] [--workload chat] [--concurrency 16]
[--seconds 20]``. py-spy is installed into ``bench/.venvs/tools`` on first use. Writes, under
``bench/results/profile-<stamp>-<stack>-<workload>/`` the collapsed stacks (``profile.txt``: open it in
speedscope or feed it to ``flamegraph.pl``), and beside it ``….md``: the share of samples by package and the
functions with the most self and inclusive time.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.load import WORKLOADS, Measurement, measure
from bench.processes import BenchError
from bench.run import RESULTS_DIR, STARTERS
from bench.stacks import ROOT, Context, Cores, start_mock

TOOLS = ROOT / "bench" / ".venvs" / "tools"
PY_SPY = TOOLS / "bin" / "py-spy"
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def ensure_py_spy() -> Path:
    if not PY_SPY.exists():
        subprocess.run(["python3", "-m", "venv", str(TOOLS)], check=True, timeout=300)
        subprocess.run([str(TOOLS / "bin" / "pip"), "install", "--quiet", "py-spy"], check=True, timeout=600)
    return PY_SPY


def package_of(file: str) -> str:
    """py-spy names files from their import root: ``aiohttp/client.py`` → ``aiohttp``; Switchyard's own modules
    stay whole (``switchyard/services/gateway/dispatch.py``); the event loop's own time shows as ``asyncio``."""
    if file.startswith("switchyard/"):
        return file
    return file.split("/", 1)[0].removesuffix(".py") or "native"


OUTER_FRAMES = (
    "typer/",
    "switchyard/cli/",
    "asyncio/runners.py",
    "threading.py",
    "uvicorn/server.py",
    "uvicorn/main.py",
    "uvicorn/_compat.py",
    "<frozen runpy>",
    "switchyard",
)
"""Frames every sample passes through (start-up, the loop's entry): left out of the inclusive table."""


def parse_collapsed(text: str) -> list[tuple[list[tuple[str, str]], int]]:
    """Each stack as its frames (function, file), outermost first, with its sample count."""
    stacks = []
    for line in text.splitlines():
        if not line.strip():
            continue
        path, _, count = line.rpartition(" ")
        frames = []
        for raw in path.split(";"):
            match = FRAME.match(raw.strip())
            if match is not None:
                frames.append((match["function"], match["file"]))
        if frames:
            stacks.append((frames, int(count)))
    return stacks


def summarize(text: str, top: int = 30, cpu_us: float | None = None) -> list[str]:
    """Tables of sample shares; with ``cpu_us`` (CPU per request), each share also as µs per request."""
    stacks = parse_collapsed(text)
    total = sum(count for _, count in stacks) or 1
    by_package: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        function, file = frames[-1]
        by_package[package_of(file)] += count
        self_time[f"{function} ({file})"] += count
        outer = {f"{f} ({p})" for f, p in frames if p.startswith(OUTER_FRAMES) or f in ("main", "<module>")}
        for name in {f"{f} ({p})" for f, p in frames} - outer:
            inclusive[name] += count

    def table(title: str, counter: Counter[str], limit: int) -> list[str]:
        if cpu_us is None:
            rows = [f"| {title} | share |", "| --- | ---: |"]
            rows += [f"| `{name}` | {count * 100 / total:.1f} % |" for name, count in counter.most_common(limit)]
            return rows
        rows = [f"| {title} | share | ≈ µs/request |", "| --- | ---: | ---: |"]
        rows += [
            f"| `{name}` | {count * 100 / total:.1f} % | {count * cpu_us / total:.0f} |"
            for name, count in counter.most_common(limit)
        ]
        return rows

    lines = [f"{total} samples.", "", "### Self time by package", ""]
    lines += table("package", by_package, 20)
    lines += ["", "### Self time by function", ""] + table("function", self_time, top)
    lines += ["", "### Inclusive time by function", ""] + table("function", inclusive, top)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="switchyard-sqlite", choices=sorted(STARTERS))
    parser.add_argument("--workload", default="chat", choices=sorted(WORKLOADS))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="Also sample C extension frames (slower).")
    args = parser.parse_args()
    py_spy = ensure_py_spy()
    cores = Cores()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
    out = RESULTS_DIR / f"profile-{stamp}-{args.stack}-{args.workload}"
    out.mkdir(parents=True)
    workload = WORKLOADS[args.workload]
    mock, mock_url = start_mock(out, cores, stream_writes="single")
    running = None
    try:
        context = Context(out, mock_url, mock, cores)
        running = STARTERS[args.stack](context)
        body = out / "body.json"
        body.write_bytes(workload.body_for(running.models[workload.model_kind]))
        url = running.url + workload.path

        def load(seconds: float) -> Measurement:
            assert running is not None
            return measure(
                running.name,
                workload.name,
                url,
                body,
                running.authorization,
                concurrency=args.concurrency,
                seconds=seconds,
                load_core=cores.load,
                sut_pid=running.process.pid,
                mock_pid=None,
            )

        load(3)  # warm-up
        duration = int(args.seconds)
        command = ["taskset", "-c", str(cores.load), str(py_spy), "record", "--pid", str(running.process.pid)]
        command += ["--rate", str(args.rate), "--duration", str(duration + 2), "--format", "raw"]
        # py-spy samples native frames only by pausing the process (--native excludes --nonblocking)
        command += ["--output", str(out / "profile.txt")] + (["--native"] if args.native else ["--nonblocking"])
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        m = load(duration)
        _, err = spy.communicate(timeout=duration + 60)
        if spy.returncode != 0:
            raise BenchError(f"py-spy failed: {err.decode(errors='replace')[-2000:]}")
    finally:
        if running is not None:
            running.stop()
        mock.stop()
    collapsed = (out / "profile.txt").read_text()
    header = [
        f"# Profile of {args.stack}, {args.workload}, c={args.concurrency}, {duration} s ({stamp})",
        "",
        f"Under py-spy ({args.rate} Hz, non-blocking): {m.rps:,.0f} req/s, {m.cpu_us_per_request or 0:.0f} µs CPU "
        "per request (sampling costs some of both).",
        "",
    ]
    text = "\n".join(header + summarize(collapsed, cpu_us=m.cpu_us_per_request)) + "\n"
    (RESULTS_DIR / f"{out.name}.md").write_text(text)
    print(text)
    print(f"profile: {out}")


if __name__ == "__main__":
    main()
