"""What a result depends on: the machine, its load when the run began, and the versions of everything measured."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench.load import wrk_version
from bench.stacks import ROOT

PACKAGES = ("switchyard", "uvicorn", "uvloop", "httptools", "aiohttp", "starlette", "fastapi", "orjson")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def git_revision() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        return result.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + (" + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def describe() -> list[str]:
    """Markdown lines for a summary's preamble."""
    packages = ", ".join(f"{name} {v}" for name, v in versions().items())
    return [
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}; load average at start {load_average()}",
        f"- Switchyard at git {git_revision()}; {packages}; {wrk_version()}",
    ]
