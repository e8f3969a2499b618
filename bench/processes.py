"""Processes of a benchmark run: started pinned to a core, waited for (bounded), measured from ``/proc``, stopped.

Only processes this module started are ever signalled, by their own id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
STOP_LIMIT = 10.0


class BenchError(Exception):
    """A run cannot go on: a server did not start, a check failed, a tool is missing."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self, tail: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``STOP_LIMIT`` seconds."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_LIMIT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=STOP_LIMIT)


def start(
    name: str, command: Sequence[str], *, core: int | None, log: Path, env: dict[str, str] | None = None
) -> Process:
    """Runs ``command`` (pinned to ``core`` with ``taskset``, which execs it: the pid is the command's)."""
    argv = (["taskset", "-c", str(core)] if core is not None else []) + list(command)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        popen = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    return Process(name, popen, log)


def wait_http(process: Process, url: str, *, limit: float, ok: Callable[[httpx.Response], bool] | None = None) -> None:
    """Polls ``url`` until it answers (any status, or one ``ok`` accepts); fails if the process exits."""
    deadline = time.monotonic() + limit
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if not process.alive():
                raise BenchError(f"{process.name} exited with {process.popen.returncode}:\n{process.output()}")
            try:
                response = http.get(url)
                if ok is None or ok(response):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise BenchError(f"{process.name} was not ready within {limit:.0f} s:\n{process.output()}")


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in children:
                found.append(int(child))
                pending.append(int(child))
    return found


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from the 3rd on; the name may hold spaces


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid``, its live descendants and the children it has waited for."""
    ticks = 0
    for index, current in enumerate([pid, *_descendants(pid)]):
        fields = _stat_fields(current)
        if fields is None:
            continue
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])  # stat fields 14–17
        ticks += utime + stime + (cutime + cstime if index == 0 else 0)
    return ticks / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its live descendants."""
    total = 0
    for current in [pid, *_descendants(pid)]:
        try:
            pages = int(Path(f"/proc/{current}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += pages * PAGE_BYTES
    return total


def core_times() -> dict[int, tuple[int, int]]:
    """Per core: (busy, total) jiffies since boot, from ``/proc/stat``."""
    times: dict[int, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *values = line.split()
        numbers = [int(v) for v in values]
        idle = numbers[3] + numbers[4]  # idle + iowait
        times[int(name[3:])] = (sum(numbers[:8]) - idle, sum(numbers[:8]))
    return times


def core_busy(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> dict[int, float]:
    """Share of time each core was busy between two ``core_times()`` readings (0–1)."""
    busy: dict[int, float] = {}
    for core, (b1, t1) in after.items():
        b0, t0 = before.get(core, (0, 0))
        busy[core] = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    return busy
