"""The deployment lifecycle on a real store (SQLite and PostgreSQL) with real ONNX sessions, models resolved
from local directories: pending → running or failed with the reason, rollover, failed rollouts, deletion, a
second process following the table, a restart, and a slow load that a newer revision overtakes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from switchyard.domain.deployments import Deployment, DeploymentStatus
from switchyard.domain.tensors import Tensor, TensorRequest
from switchyard.errors import NotFound, UpstreamUnavailable
from switchyard.services import deployments as service
from switchyard.services import deployments_inference
from switchyard.services.deployments_host import DeploymentHost, TensorModel, load_onnx_model
from switchyard.services.permissions import Permission
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller, Principal
from switchyard.settings import Settings
from tests.onnx_models import scale_model, write_model_dir

ADMIN = Principal(1, "admin@localhost", 1, "admin", frozenset({Permission.admin}))
CALLER = Caller(ADMIN)
ROW = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)


class Models:
    """Model references → local directories, as the MLflow registry would resolve them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.directories: dict[str, Path] = {}

    def add(self, reference: str, factor: float) -> None:
        self.directories[reference] = write_model_dir(scale_model(factor), self.root / str(len(self.directories)))

    def broken(self, reference: str) -> None:
        directory = self.root / f"broken-{len(self.directories)}"
        directory.mkdir()
        (directory / "model.onnx").write_bytes(b"not a model")
        self.directories[reference] = directory

    def resolve(self, settings: Settings, reference: str) -> Path:
        if reference not in self.directories:
            raise NotFound(f"No model '{reference}'.")
        return self.directories[reference]


@pytest.fixture
def models(tmp_path: Path) -> Models:
    found = Models(tmp_path / "models")
    found.add("models:/scale@one", 1.0)
    found.add("models:/scale@two", 2.0)
    found.broken("models:/scale@broken")
    return found


@pytest.fixture
async def host(platform: Platform, models: Models) -> AsyncIterator[DeploymentHost]:
    started = DeploymentHost(platform, resolve=models.resolve)
    await started.start()
    yield started
    await started.close()


async def until(check: Callable[[], Awaitable[bool]], limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not await check():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.02)


async def until_status(platform: Platform, deployment_id: int, status: DeploymentStatus, **fields: Any) -> Deployment:
    found: list[Deployment] = []

    async def reached() -> bool:
        found[:] = [await service.get_deployment(platform, deployment_id)]
        deployment = found[0]
        return deployment.status == status and all(getattr(deployment, k) == v for k, v in fields.items())

    await until(reached)
    return found[0]


async def create(platform: Platform, host: DeploymentHost, name: str, model: str) -> Deployment:
    values = {"name": name, "kind": "logged-model", "model": model, "description": "", "serving_size": "small"}
    return await service.create_deployment(platform, host, CALLER, values, {"team": "ml"})


async def scaled(host: DeploymentHost, name: str) -> tuple[str, list[float]]:
    """The version that answered and the first output row."""
    target = deployments_inference.ready(deployments_inference.find(host, ADMIN, name), None)
    request = TensorRequest((Tensor("x", "FP32", ROW.shape, ROW),))
    response = await deployments_inference.infer(host, target, request)
    return response.model_version, response.outputs[0].array[0].tolist()


async def test_a_deployment_loads_then_serves(platform: Platform, host: DeploymentHost) -> None:
    created = await create(platform, host, "scaler", "models:/scale@one")
    assert (created.status, created.revision, created.running_revision, created.error) == ("pending", 1, None, None)
    assert created.tags == {"team": "ml"} and created.created_by == 1

    running = await until_status(platform, created.id, DeploymentStatus.running, running_revision=1)
    assert running.error is None and running.updated_at == created.updated_at
    assert running.model_data == {
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 4]}],
    }
    assert await scaled(host, "scaler") == ("1", [1.0, 2.0, 3.0, 4.0])
    messages = [line.message for line in await service.deployment_logs(platform, host, created.id)]
    assert messages[0].startswith("revision 1: loading models:/scale@one") and "serving after" in messages[1]


async def test_a_model_that_cannot_be_had_fails_at_once_and_one_that_cannot_load_fails_soon(
    platform: Platform, host: DeploymentHost
) -> None:
    missing = await create(platform, host, "missing", "models:/nowhere@one")
    assert (missing.status, missing.error) == ("failed", "No model 'models:/nowhere@one'.")
    with pytest.raises(UpstreamUnavailable, match="is not ready: revision 1 could not be loaded: No model"):
        deployments_inference.ready(deployments_inference.find(host, ADMIN, "missing"), None)

    broken = await create(platform, host, "broken", "models:/scale@broken")
    assert broken.status == "pending"
    failed = await until_status(platform, broken.id, DeploymentStatus.failed)
    assert failed.error is not None and "onnxruntime cannot load model.onnx" in failed.error
    assert failed.running_revision is None and failed.updated_at == broken.updated_at
    lines = await service.deployment_logs(platform, host, broken.id)
    assert lines[-1].level == "error" and "revision 1 failed to load" in lines[-1].message


async def test_a_new_model_rolls_over_and_a_failed_rollout_keeps_the_old_one(
    platform: Platform, host: DeploymentHost
) -> None:
    created = await create(platform, host, "scaler", "models:/scale@one")
    await until_status(platform, created.id, DeploymentStatus.running, running_revision=1)

    updated = await service.update_deployment(platform, host, CALLER, created.id, {"model": "models:/scale@two"})
    assert (updated.status, updated.revision, updated.running_revision) == ("running", 2, 1)
    await until_status(platform, created.id, DeploymentStatus.running, running_revision=2)
    assert await scaled(host, "scaler") == ("2", [2.0, 4.0, 6.0, 8.0])
    assert "revision 1 dropped" in [line.message for line in host.logs(created.id)]

    bad = await service.update_deployment(platform, host, CALLER, created.id, {"model": "models:/scale@broken"})
    assert (bad.status, bad.revision, bad.running_revision) == ("running", 3, 2)
    await until(lambda: _has_error(platform, created.id))
    failed = await service.get_deployment(platform, created.id)
    assert (failed.status, failed.running_revision) == ("running", 2) and "cannot load" in (failed.error or "")
    assert await scaled(host, "scaler") == ("2", [2.0, 4.0, 6.0, 8.0])

    gone = await service.update_deployment(platform, host, CALLER, created.id, {"model": "models:/nowhere@x"})
    assert (gone.status, gone.revision, gone.error) == ("running", 4, "No model 'models:/nowhere@x'.")
    assert await scaled(host, "scaler") == ("2", [2.0, 4.0, 6.0, 8.0])

    renamed = await service.update_deployment(platform, host, CALLER, created.id, {"name": "renamed"})
    assert renamed.revision == 4 and host.lookup("scaler") is None
    assert await scaled(host, "renamed") == ("2", [2.0, 4.0, 6.0, 8.0])


async def _has_error(platform: Platform, deployment_id: int) -> bool:
    return (await service.get_deployment(platform, deployment_id)).error is not None


async def test_deleting_stops_serving(platform: Platform, host: DeploymentHost) -> None:
    created = await create(platform, host, "scaler", "models:/scale@one")
    await until_status(platform, created.id, DeploymentStatus.running)
    await service.delete_deployment(platform, host, CALLER, created.id)
    with pytest.raises(NotFound):
        deployments_inference.find(host, ADMIN, "scaler")
    with pytest.raises(NotFound):
        await service.get_deployment(platform, created.id)
    await host.sync()  # a poll that read the table before the delete does not bring it back either
    assert host.lookup("scaler") is None


async def test_another_process_follows_the_table_and_a_restart_loads_everything(
    platform: Platform, host: DeploymentHost, models: Models
) -> None:
    created = await create(platform, host, "scaler", "models:/scale@one")
    other = DeploymentHost(platform, resolve=models.resolve)
    await other.start()
    try:
        await until(lambda: _serves(other, "scaler", 1))
        await service.update_deployment(platform, host, CALLER, created.id, {"model": "models:/scale@two"})
        await service.update_deployment(platform, host, CALLER, created.id, {"name": "renamed"})
        await other.sync()
        await until(lambda: _serves(other, "renamed", 2))
        assert await scaled(other, "renamed") == ("2", [2.0, 4.0, 6.0, 8.0]) and other.lookup("scaler") is None
        await service.delete_deployment(platform, host, CALLER, created.id)
        await other.sync()
        assert other.lookup("renamed") is None
    finally:
        await other.close()

    second = await create(platform, host, "second", "models:/scale@one")
    await until_status(platform, second.id, DeploymentStatus.running)
    restarted = DeploymentHost(platform, resolve=models.resolve)
    await restarted.start()
    try:
        await until(lambda: _serves(restarted, "second", 1))
    finally:
        await restarted.close()


async def _serves(host: DeploymentHost, name: str, revision: int) -> bool:
    hosted = host.lookup(name)
    return hosted is not None and hosted.serving is not None and hosted.serving.revision == revision


async def test_a_slow_load_overtaken_by_a_newer_revision_changes_nothing(platform: Platform, models: Models) -> None:
    release = threading.Event()

    def slow_for_one(directory: Path, threads: int) -> TensorModel:
        if directory == models.directories["models:/scale@one"]:
            release.wait(10)
        return load_onnx_model(directory, threads)

    host = DeploymentHost(platform, resolve=models.resolve, load=slow_for_one)
    await host.start()
    try:
        created = await create(platform, host, "scaler", "models:/scale@one")
        await service.update_deployment(platform, host, CALLER, created.id, {"model": "models:/scale@two"})
        await until_status(platform, created.id, DeploymentStatus.running, running_revision=2)
        release.set()
        await asyncio.sleep(0.3)  # the abandoned load of revision 1 finishes now, and must not be taken up
        assert await scaled(host, "scaler") == ("2", [2.0, 4.0, 6.0, 8.0])
        final = await service.get_deployment(platform, created.id)
        assert (final.status, final.revision, final.running_revision) == ("running", 2, 2)
    finally:
        release.set()
        await host.close()


async def test_inference_checks_the_request_against_the_model(platform: Platform, host: DeploymentHost) -> None:
    created = await create(platform, host, "scaler", "models:/scale@one")
    await until_status(platform, created.id, DeploymentStatus.running)
    target = deployments_inference.ready(deployments_inference.find(host, ADMIN, "scaler"), "1")
    cases = [
        (
            TensorRequest((Tensor("z", "FP32", (1, 4), ROW),)),
            "has no input 'z'; its inputs: 'x' \\(FP32 \\[-1, 4\\]\\)",
        ),
        (TensorRequest((Tensor("x", "FP64", (1, 4), ROW.astype(np.float64)),)), "is FP32, not FP64"),
        (TensorRequest((Tensor("x", "FP32", (4,), ROW[0]),)), "has shape \\[-1, 4\\] \\(-1: any size\\); got \\[4\\]"),
        (TensorRequest((Tensor("x", "FP32", (2, 2), ROW.reshape(2, 2)),)), "got \\[2, 2\\]"),
        (TensorRequest((Tensor("x", "FP32", (1, 4), ROW),), ("nope",)), "has no output 'nope'; its outputs: y"),
    ]
    from switchyard.errors import BadRequest

    for request, message in cases:
        with pytest.raises(BadRequest, match=message):
            await deployments_inference.infer(host, target, request)
    with pytest.raises(NotFound, match="Version 7 of model 'scaler' is not served; version 1 is"):
        deployments_inference.ready(deployments_inference.find(host, ADMIN, "scaler"), "7")
    scoped = Principal(2, "u@example.com", 2, "user", frozenset(), allowed_routers=frozenset({"other"}))
    with pytest.raises(NotFound, match="does not exist or you do not have access"):
        deployments_inference.find(host, scoped, "scaler")
