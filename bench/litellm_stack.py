"""LiteLLM's proxy for comparison: installed into ``bench/.venvs/litellm`` on first use, one worker, no database,
a master key (so that requests are authenticated), both bench models pointing at the mock upstream."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.processes import BenchError, free_port, start, wait_http
from bench.stacks import BENCH_MODELS, ROOT, UPSTREAM_KEY, Context, Running

VENV = ROOT / "bench" / ".venvs" / "litellm"
REQUIREMENT = os.environ.get("BENCH_LITELLM_REQUIREMENT", "litellm[proxy]==1.106.2")
MASTER_KEY = "sk-bench-litellm-master-0123456789"
INSTALL_LIMIT = 1200
STARTUP_LIMIT = 180.0


def _installed_version() -> str | None:
    python = VENV / "bin" / "python"
    if not python.exists() or not (VENV / "bin" / "litellm").exists():
        return None
    result = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version; print(version('litellm'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def install(log: Path) -> str:
    """Makes sure ``REQUIREMENT`` is installed in the LiteLLM virtualenv; its version."""
    wanted = REQUIREMENT.split("==", 1)[1] if "==" in REQUIREMENT else None
    version = _installed_version()
    if version is not None and (wanted is None or version == wanted):
        return version
    with log.open("ab") as sink:
        steps = [
            ["python3", "-m", "venv", str(VENV)],
            [str(VENV / "bin" / "pip"), "install", "--quiet", REQUIREMENT],
        ]
        for step in steps:
            try:
                result = subprocess.run(step, stdout=sink, stderr=subprocess.STDOUT, timeout=INSTALL_LIMIT)
            except subprocess.TimeoutExpired:
                raise BenchError(f"installing {REQUIREMENT} took over {INSTALL_LIMIT} s") from None
            if result.returncode != 0:
                raise BenchError(f"installing {REQUIREMENT} failed (see {log.name})")
    version = _installed_version()
    if version is None:
        raise BenchError(f"{REQUIREMENT} did not install a usable litellm (see {log.name})")
    return version


def config_text(mock_url: str) -> str:
    upstream = {"chat": "mock-model", "embed": "mock-embed"}
    models = "".join(
        f"  - model_name: {BENCH_MODELS[kind]}\n"
        f"    litellm_params:\n"
        f"      model: openai/{upstream[kind]}\n"
        f"      api_base: {mock_url}/v1\n"
        f"      api_key: {UPSTREAM_KEY}\n"
        for kind in ("chat", "embed")
    )
    return (
        f"model_list:\n{models}"
        f"general_settings:\n  master_key: {MASTER_KEY}\n"
        "litellm_settings:\n  telemetry: false\n  set_verbose: false\n  json_logs: false\n"
    )


def start_litellm(context: Context) -> Running:
    version = install(context.raw_dir / "litellm-install.log")
    config = context.raw_dir / "litellm-config.yaml"
    config.write_text(config_text(context.mock_url))
    port = free_port()
    env = dict(os.environ)
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # no download of the price list at start (no internet here)
        LITELLM_LOG="ERROR",
        LITELLM_TELEMETRY="False",
        PYTHONUNBUFFERED="1",
    )
    env.pop("DATABASE_URL", None)
    command = [
        str(VENV / "bin" / "litellm"),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    process = start("litellm", command, core=context.cores.sut, log=context.raw_dir / "litellm.log", env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(process, f"{url}/health/liveliness", limit=STARTUP_LIMIT, ok=lambda r: r.status_code == 200)
    except BaseException:
        process.stop()
        raise
    return Running(
        "litellm",
        url,
        f"Bearer {MASTER_KEY}",
        dict(BENCH_MODELS),
        process,
        version=f"litellm {version}",
        notes=[f"litellm {version}, `litellm --num_workers 1`, master key, no database"],
    )
