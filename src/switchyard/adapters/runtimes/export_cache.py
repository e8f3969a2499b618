"""Exports cached on disk: made once per model folder, shared by every process that uses the same cache.

An export lives in ``<models dir>/<name>-<fingerprint>/``; the fingerprint hashes every file of the model
folder (and the export format), so a changed folder gets a new export and an unchanged one is never exported
again. Exporting runs ``onnx_export`` in a child process, into a temporary folder renamed into place when it
is whole; an exclusive lock on ``<models dir>/.<name>-<fingerprint>.lock`` makes processes that start
together wait for the one exporting instead of exporting too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from switchyard.adapters.runtimes.export_layout import FORMAT, is_complete

log = logging.getLogger(__name__)

EXPORT_TIMEOUT = 900.0
"""Longest an export may take (seconds); a typical small model takes 10–20 s, most of it importing torch."""
QUIET = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TQDM_DISABLE": "1", "TRANSFORMERS_VERBOSITY": "error"}


class ExportFailed(Exception):
    pass


def fingerprint(folder: Path) -> str:
    digest = hashlib.sha256(f"switchyard-export-{FORMAT}\n".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}\n{path.stat().st_size}\n".encode())
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def ensure_export(folder: Path, name: str, models_dir: Path) -> Path:
    """The export folder of the model in ``folder``, made now if the cache has none. Blocking."""
    target = models_dir / f"{name}-{fingerprint(folder)[:16]}"
    if is_complete(target):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(models_dir / f".{target.name}.lock"):
        if is_complete(target):  # another process made it while this one waited
            return target
        for leftover in [target, *models_dir.glob(f".{target.name}-*")]:  # from an export that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=models_dir))
        try:
            _run_export(folder, work)
            work.rename(target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return target


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_export(folder: Path, out: Path) -> None:
    began = time.perf_counter()
    log.info("exporting the local model in %s to ONNX (once; cached in %s)", folder, out.parent)
    command = [sys.executable, "-m", "switchyard.adapters.runtimes.onnx_export", str(folder), str(out)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=EXPORT_TIMEOUT,
            env=os.environ | QUIET,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ExportFailed(f"the ONNX export took longer than {EXPORT_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        log.error("ONNX export of %s failed:\n%s", folder, done.stderr[-4000:])
        raise ExportFailed(reason.removeprefix("export failed: "))
    log.info("exported %s in %.1f s", folder, time.perf_counter() - began)
