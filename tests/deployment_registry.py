"""Logs ONNX models into the MLflow store of a Switchyard's settings, in-process, the way the SDK leaves them:
logged models (``m-…``) in an experiment, registered as versions of a model name, with an alias. The model
directory is written by hand (``MLmodel`` naming the onnx flavor's file, and ``model.onnx``): importing
``mlflow.onnx`` in the test process warns at import time (MLflow's own type hints), and the real SDK's
directories are covered end to end (``tests/e2e/test_deployments_e2e.py``)."""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import onnx

from switchyard.adapters import mlflow_tracking
from switchyard.settings import Settings

MLMODEL = """\
flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_version: {onnx_version}
    providers: [CPUExecutionProvider]
model_size_bytes: 1
"""


@dataclass(frozen=True)
class Registered:
    name: str
    model_ids: list[str]
    """The logged model behind each version, version 1 first."""

    def version(self, number: int) -> str:
        return f"models:/{self.name}/{number}"

    def alias(self, alias: str) -> str:
        return f"models:/{self.name}@{alias}"


def register(settings: Settings, models: list[onnx.ModelProto], *, alias: str = "champion") -> Registered:
    """Each model becomes a version of a new registered model (a unique name); ``alias`` names version 1.
    Blocking: call it through ``asyncio.to_thread`` from async tests."""
    location = mlflow_tracking.tracking_location(settings)
    client = mlflow_tracking.tracking_client(settings)
    name = f"iris-{uuid.uuid4().hex[:8]}"
    experiment = client.create_experiment(name, artifact_location=(location.artifacts_dir / name).as_uri())
    client.create_registered_model(name)
    model_ids = []
    for model in models:
        logged = client.create_logged_model(experiment, name="model")
        with tempfile.TemporaryDirectory() as scratch:
            files = Path(scratch)
            onnx.save(model, files / "model.onnx")
            (files / "MLmodel").write_text(MLMODEL.format(onnx_version=onnx.__version__))
            client.log_model_artifacts(logged.model_id, str(files))
        client.create_model_version(name, source=client.get_logged_model(logged.model_id).artifact_location)
        model_ids.append(logged.model_id)
    client.set_registered_model_alias(name, alias, "1")
    return Registered(name, model_ids)


def move_alias(settings: Settings, registered: Registered, alias: str, version: int) -> None:
    mlflow_tracking.tracking_client(settings).set_registered_model_alias(registered.name, alias, str(version))
