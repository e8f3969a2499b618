"""The deployments this process serves: one model session per deployment, loaded and run off the event loop.

Every process keeps its own sessions. The ``deployments`` table says what should run; a process learns of
changes made through it at once (the services call ``want``/``forget`` after committing) and of changes made
through other processes by polling the table every ``SWITCHYARD_DEPLOYMENTS_POLL_INTERVAL_SECONDS``.

Rollover: a new revision (another model, another serving size) is loaded next to the one serving; once loaded
it replaces it in one assignment. A request holds the ``Serving`` it started with, so requests in flight finish
on the old session, which is dropped when the last of them ends — no request fails because of a rollout.
When a new revision cannot be loaded the old one keeps serving and the deployment's ``error`` says why.

What a load found is written back to the row (``status``, ``running_revision``, ``error``, ``model_data``),
guarded by the revision, so that a slow load never overwrites a newer change; ``updated_at`` keeps the time
of the last change a user made.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import and_, case, or_, select, update

from switchyard.domain.deployments import Deployment, DeploymentStatus, LogLine, ServingSize
from switchyard.domain.tensors import Tensor, TensorSpec
from switchyard.errors import SwitchyardError
from switchyard.services.platform import Platform
from switchyard.settings import Settings
from switchyard.store.tables import DeploymentRow

log = logging.getLogger(__name__)

INFERENCE_WORKERS = 16
"""Threads running inferences, shared by every deployment; each deployment's serving size bounds its share."""


class TensorModel(Protocol):
    """A loaded model (``adapters/runtimes/onnx_tensor.OnnxTensorModel``)."""

    @property
    def platform(self) -> str: ...

    @property
    def inputs(self) -> tuple[TensorSpec, ...]: ...

    @property
    def outputs(self) -> tuple[TensorSpec, ...]: ...

    @property
    def skipped_outputs(self) -> tuple[str, ...]: ...

    def run(self, inputs: Mapping[str, Tensor], outputs: Sequence[str]) -> list[np.ndarray[Any, Any]]: ...


Resolver = Callable[[Settings, str], Path]
"""A model reference → the local directory of its files (blocking)."""
Loader = Callable[[Path, int], TensorModel]
"""A model directory and a thread count → a loaded model (blocking)."""


def resolve_logged_model(settings: Settings, reference: str) -> Path:
    from switchyard.adapters import mlflow_tracking

    if not settings.mlflow_enabled:
        raise LookupError("MLflow is disabled on this server (SWITCHYARD_MLFLOW_ENABLED=false): no logged models.")
    return mlflow_tracking.model_directory(settings, reference)


def load_onnx_model(directory: Path, threads: int) -> TensorModel:
    from switchyard.adapters.runtimes.onnx_tensor import OnnxTensorModel

    return OnnxTensorModel.load(directory, threads)


def describe_failure(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, SwitchyardError) else str(exc)
    return (text.strip() or type(exc).__name__)[:2000]


def model_data(model: TensorModel) -> dict[str, Any]:
    return {
        "platform": model.platform,
        "inputs": [spec.as_dict() for spec in model.inputs],
        "outputs": [spec.as_dict() for spec in model.outputs],
    }


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the table asks of one deployment."""

    id: int
    name: str
    revision: int
    model: str
    size: ServingSize
    updated_at: datetime

    @classmethod
    def of(cls, deployment: Deployment) -> Wanted:
        assert deployment.updated_at is not None
        return cls(
            deployment.id,
            deployment.name,
            deployment.revision,
            deployment.model,
            deployment.serving_size,
            deployment.updated_at,
        )


@dataclass(frozen=True, slots=True)
class Serving:
    """One loaded revision; requests keep the one they started with."""

    revision: int
    model: TensorModel
    size: ServingSize
    gate: asyncio.Semaphore


class Hosted:
    """One deployment in this process: what serves, what is loading, what went wrong, and its log."""

    def __init__(self, wanted: Wanted, log_lines: int) -> None:
        self.id = wanted.id
        self.name = wanted.name
        self.updated_at = wanted.updated_at
        self.revision = 0
        """The newest revision this process has taken up (loading, serving or failed)."""
        self.serving: Serving | None = None
        self.loading: asyncio.Task[None] | None = None
        self.failure: str | None = None
        self.log: deque[LogLine] = deque(maxlen=log_lines)

    @property
    def not_ready_reason(self) -> str:
        if self.failure is not None:
            return f"revision {self.revision} could not be loaded: {self.failure}"
        return f"revision {self.revision} is still loading"


class DeploymentHost:
    def __init__(self, platform: Platform, *, resolve: Resolver | None = None, load: Loader | None = None) -> None:
        self.platform = platform
        self._resolve = resolve or resolve_logged_model
        self._load = load or load_onnx_model
        self._hosted: dict[int, Hosted] = {}
        self._names: dict[str, int] = {}
        self._gone: set[int] = set()
        self._executor = ThreadPoolExecutor(INFERENCE_WORKERS, thread_name_prefix="switchyard-inference")
        self._poller: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self.sync()
        except Exception:  # the poller tries again; the server starts anyway
            log.exception("could not read the deployments to serve")
        self._poller = asyncio.create_task(self._poll(), name="switchyard-deployments-poll")

    async def close(self) -> None:
        tasks = [t for t in [self._poller, *(h.loading for h in self._hosted.values())] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._hosted.clear()
        self._names.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def sync(self) -> None:
        """Takes up what the table asks (new deployments, new revisions, renames) and drops what is gone."""
        async with self.platform.sessions() as session:
            rows = (await session.execute(select(DeploymentRow))).scalars().all()
        present = set()
        for row in rows:
            present.add(row.id)
            self.want(Wanted(row.id, row.name, row.revision, row.model, ServingSize(row.serving_size), row.updated_at))
        for deployment_id in [i for i in self._hosted if i not in present]:
            self.forget(deployment_id)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.platform.settings.deployments_poll_interval_seconds)
            try:
                await self.sync()
            except Exception:
                log.warning("could not poll the deployments table", exc_info=True)

    # -- what to serve -----------------------------------------------------------------------------------

    async def resolve(self, reference: str) -> tuple[Path | None, str | None]:
        """The directory of a model's files, or why it cannot be had."""
        try:
            return await asyncio.to_thread(self._resolve, self.platform.settings, reference), None
        except Exception as exc:
            return None, describe_failure(exc)

    def want(self, wanted: Wanted, *, directory: Path | None = None, failure: str | None = None) -> None:
        """Serve ``wanted``; ``directory`` when the caller resolved the model already, ``failure`` when it
        found that it cannot be had (the caller recorded that in the row). Idempotent per revision."""
        if wanted.id in self._gone:
            return
        hosted = self._hosted.get(wanted.id)
        if hosted is None:
            hosted = self._hosted[wanted.id] = Hosted(wanted, self.platform.settings.deployments_log_lines)
            self._names[wanted.name] = wanted.id
        elif wanted.updated_at >= hosted.updated_at and wanted.name != hosted.name:
            if self._names.get(hosted.name) == hosted.id:
                del self._names[hosted.name]
            self._names[wanted.name] = wanted.id
            self.note(hosted, "info", f"renamed from '{hosted.name}' to '{wanted.name}'")
            hosted.name = wanted.name
        hosted.updated_at = max(hosted.updated_at, wanted.updated_at)
        if wanted.revision <= hosted.revision:
            return
        hosted.revision = wanted.revision
        if hosted.loading is not None:
            hosted.loading.cancel()
            hosted.loading = None
        if failure is not None:
            hosted.failure = failure
            self.note(hosted, "error", f"revision {wanted.revision}: {wanted.model} cannot be served: {failure}")
            return
        hosted.failure = None
        hosted.loading = asyncio.create_task(
            self._take_up(hosted, wanted, directory), name=f"switchyard-deployment-{wanted.id}-r{wanted.revision}"
        )

    def forget(self, deployment_id: int) -> None:
        """Stop serving a deleted deployment (requests in flight finish on their session)."""
        self._gone.add(deployment_id)
        hosted = self._hosted.pop(deployment_id, None)
        if hosted is None:
            return
        if self._names.get(hosted.name) == deployment_id:
            del self._names[hosted.name]
        if hosted.loading is not None:
            hosted.loading.cancel()

    async def _take_up(self, hosted: Hosted, wanted: Wanted, directory: Path | None) -> None:
        current = self._current(hosted, wanted)
        self.note(hosted, "info", f"revision {wanted.revision}: loading {wanted.model} (serving size {wanted.size})")
        started = time.perf_counter()
        try:
            if directory is None:
                directory = await asyncio.to_thread(self._resolve, self.platform.settings, wanted.model)
            model = await asyncio.to_thread(self._load, directory, wanted.size.threads)
        except Exception as exc:
            if not current():
                return
            hosted.failure = describe_failure(exc)
            hosted.loading = None
            self.note(hosted, "error", f"revision {wanted.revision} failed to load: {hosted.failure}")
            await self._record(wanted, failure=hosted.failure)
            return
        if not current():
            return
        previous = hosted.serving
        hosted.serving = Serving(wanted.revision, model, wanted.size, asyncio.Semaphore(wanted.size.concurrency))
        hosted.loading = None
        elapsed = (time.perf_counter() - started) * 1000
        described = "; ".join(
            f"{kind} " + ", ".join(f"{s.name} {s.datatype} {list(s.shape)}" for s in specs)
            for kind, specs in (("inputs", model.inputs), ("outputs", model.outputs))
        )
        self.note(hosted, "info", f"revision {wanted.revision}: serving after {elapsed:.0f} ms to load ({described})")
        if model.skipped_outputs:
            skipped = ", ".join(model.skipped_outputs)
            self.note(hosted, "warning", f"outputs that are not tensors are not served: {skipped}")
        if previous is not None:
            self.note(hosted, "info", f"revision {previous.revision} dropped")
        await self._record(wanted, model=model)

    def _current(self, hosted: Hosted, wanted: Wanted) -> Callable[[], bool]:
        return lambda: self._hosted.get(hosted.id) is hosted and hosted.revision == wanted.revision

    async def _record(self, wanted: Wanted, *, model: TensorModel | None = None, failure: str | None = None) -> None:
        """Writes what a load found, unless the row moved on to another revision or already says so."""
        same = and_(DeploymentRow.id == wanted.id, DeploymentRow.revision == wanted.revision)
        if model is not None:
            statement = (
                update(DeploymentRow)
                .where(
                    same,
                    or_(
                        DeploymentRow.status != DeploymentStatus.running.value,
                        DeploymentRow.running_revision.is_distinct_from(wanted.revision),
                        DeploymentRow.error.is_not(None),
                    ),
                )
                .values(
                    status=DeploymentStatus.running.value,
                    running_revision=wanted.revision,
                    error=None,
                    model_data=model_data(model),
                    updated_at=DeploymentRow.updated_at,
                )
            )
        else:
            nothing_runs = DeploymentRow.running_revision.is_(None)
            statement = (
                update(DeploymentRow)
                .where(
                    same,
                    or_(
                        DeploymentRow.error.is_distinct_from(failure),
                        and_(nothing_runs, DeploymentRow.status != DeploymentStatus.failed.value),
                    ),
                )
                .values(
                    error=failure,
                    status=case((nothing_runs, DeploymentStatus.failed.value), else_=DeploymentRow.status),
                    updated_at=DeploymentRow.updated_at,
                )
            )
        try:
            async with self.platform.transaction() as session:
                await session.execute(statement)
        except Exception:
            log.warning("could not record the state of deployment %s", wanted.id, exc_info=True)

    # -- serving -----------------------------------------------------------------------------------------

    def lookup(self, name: str) -> Hosted | None:
        deployment_id = self._names.get(name)
        return None if deployment_id is None else self._hosted.get(deployment_id)

    def get(self, deployment_id: int) -> Hosted | None:
        return self._hosted.get(deployment_id)

    def names(self) -> list[tuple[int, str]]:
        """Every deployment this process hosts: id and name."""
        return [(hosted.id, hosted.name) for hosted in self._hosted.values()]

    async def run(
        self, serving: Serving, inputs: Mapping[str, Tensor], outputs: Sequence[str]
    ) -> list[np.ndarray[Any, Any]]:
        """Runs the model in a worker thread, at most ``size.concurrency`` at once for this deployment."""
        async with serving.gate:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, serving.model.run, inputs, outputs)

    def note(self, hosted: Hosted, level: str, message: str) -> None:
        hosted.log.append(LogLine(datetime.now(UTC), level, message))
        log.log(logging.getLevelName(level.upper()), "deployment '%s': %s", hosted.name, message)

    def logs(self, deployment_id: int) -> list[LogLine]:
        hosted = self._hosted.get(deployment_id)
        return list(hosted.log) if hosted is not None else []
