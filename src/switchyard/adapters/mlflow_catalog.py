"""Reads MLflow's experiments, runs and logged models into ``domain.experiments`` objects. Every function blocks
(the store is synchronous): call them from a worker thread.

Lists page through MLflow's own search until the end, since the management views answer with a total.
A logged model's files (``MLmodel``, ``input_example.json``, the ONNX graph) are read by ``describe``, meant
for the few models of one page; what the ONNX graph says is cached per file.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from switchyard.adapters import mlflow_tracking
from switchyard.domain.experiments import Experiment, LoggedModel, Run
from switchyard.errors import BadRequest, NotFound
from switchyard.settings import Settings

if TYPE_CHECKING:
    from mlflow.entities import Experiment as MlflowExperiment
    from mlflow.entities import LoggedModel as MlflowLoggedModel
    from mlflow.entities import Run as MlflowRun
    from mlflow.store.entities.paged_list import PagedList

log = logging.getLogger(__name__)

PAGE = 1000
KINDS = {"onnx": "onnx", "sklearn": "sklearn", "pytorch": "pytorch", "transformers": "hugging-face"}
MODEL_STATUS = {"PENDING": "pending", "READY": "ready", "FAILED": "upload-failed"}
E = TypeVar("E")


def _time(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, UTC) if millis else None


def _all_pages(search: Callable[[str | None], PagedList[E]]) -> Iterator[E]:
    token: str | None = None
    while True:
        page = search(token)
        yield from page
        token = page.token
        if not token:
            return


def _experiment(entity: MlflowExperiment) -> Experiment:
    return Experiment(
        id=str(entity.experiment_id),
        name=entity.name,
        lifecycle_stage=entity.lifecycle_stage,
        artifact_location=entity.artifact_location,
        created_at=_time(entity.creation_time),
        updated_at=_time(entity.last_update_time),
        tags=dict(entity.tags),
    )


def _run(entity: MlflowRun) -> Run:
    info, data = entity.info, entity.data
    ended = _time(info.end_time)
    started = _time(info.start_time)
    return Run(
        id=info.run_id,
        experiment_id=str(info.experiment_id),
        name=info.run_name or "",
        status=str(info.status).lower(),
        lifecycle_stage=info.lifecycle_stage,
        user=info.user_id or None,
        created_at=started,
        updated_at=ended or started,
        ended_at=ended,
        artifact_uri=info.artifact_uri or "",
        tags=dict(data.tags),
        metrics={k: float(v) for k, v in data.metrics.items()},
        parameters=dict(data.params),
    )


def _logged_model(entity: MlflowLoggedModel) -> LoggedModel:
    return LoggedModel(
        id=entity.model_id,
        name=entity.name,
        experiment_id=str(entity.experiment_id),
        run_id=entity.source_run_id or None,
        status=MODEL_STATUS.get(str(entity.status), "pending"),
        created_at=_time(entity.creation_timestamp),
        updated_at=_time(entity.last_updated_timestamp),
        artifact_location=entity.artifact_location,
        tags=dict(entity.tags),
        parameters=dict(entity.params),
    )


def experiments(settings: Settings) -> list[Experiment]:
    from mlflow.entities import ViewType

    client = mlflow_tracking.tracking_client(settings)
    found = _all_pages(lambda token: client.search_experiments(ViewType.ALL, max_results=PAGE, page_token=token))
    return [_experiment(e) for e in found]


def experiment(settings: Settings, experiment_id: str) -> Experiment:
    if not experiment_id.isdigit():  # the SQL store numbers its experiments
        raise NotFound(f"No experiment '{experiment_id}'.", param="experiment_id")
    client = mlflow_tracking.tracking_client(settings)
    with mlflow_tracking.mlflow_errors(f"experiment '{experiment_id}'", param="experiment_id"):
        return _experiment(client.get_experiment(experiment_id))


def runs(settings: Settings, experiment_id: str) -> list[Run]:
    from mlflow.entities import ViewType

    experiment(settings, experiment_id)
    client = mlflow_tracking.tracking_client(settings)
    found = _all_pages(
        lambda token: client.search_runs(
            [experiment_id], run_view_type=ViewType.ALL, max_results=PAGE, page_token=token
        )
    )
    return [_run(r) for r in found]


def run(settings: Settings, run_id: str) -> Run:
    if not run_id.isalnum():
        raise NotFound(f"No run '{run_id}'.", param="run_id")
    client = mlflow_tracking.tracking_client(settings)
    with mlflow_tracking.mlflow_errors(f"run '{run_id}'", param="run_id"):
        return _run(client.get_run(run_id))


def logged_models(settings: Settings) -> list[LoggedModel]:
    ids = [e.id for e in experiments(settings)]
    if not ids:
        return []
    client = mlflow_tracking.tracking_client(settings)
    found = _all_pages(lambda token: client.search_logged_models(ids, max_results=PAGE, page_token=token))
    return [_logged_model(m) for m in found]


def logged_model(settings: Settings, model_id: str) -> LoggedModel:
    if not mlflow_tracking.LOGGED_MODEL_ID.fullmatch(model_id):
        raise NotFound(f"No logged model '{model_id}'.", param="model_id")
    client = mlflow_tracking.tracking_client(settings)
    with mlflow_tracking.mlflow_errors(f"logged model '{model_id}'", param="model_id"):
        return _logged_model(client.get_logged_model(model_id))


def describe(settings: Settings, model: LoggedModel) -> LoggedModel:
    """The model with what its files tell: kind, size, tensor schema, input example."""
    location = mlflow_tracking.tracking_location(settings)
    try:
        directory = mlflow_tracking.local_artifact_path(location, model.artifact_location)
    except BadRequest:
        return model
    mlmodel = _read_yaml(directory / "MLmodel")
    declared = mlmodel.get("flavors")
    flavors: dict[str, Any] = declared if isinstance(declared, dict) else {}
    kind = next((KINDS[name] for name in flavors if name in KINDS), "unknown")
    size = mlmodel.get("model_size_bytes")
    example_info = mlmodel.get("saved_input_example_info")
    example = None
    if isinstance(example_info, dict) and isinstance(example_info.get("artifact_path"), str):
        example = _read_json(directory, example_info["artifact_path"])
    schema = None
    onnx_flavor = flavors.get("onnx")
    if isinstance(onnx_flavor, dict) and isinstance(onnx_flavor.get("data"), str):
        schema = _onnx_schema(directory / onnx_flavor["data"])
    return replace(
        model,
        kind=kind,
        model_size=size if isinstance(size, int) else None,
        schema=schema,
        input_example=example,
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _read_json(directory: Path, name: str) -> Any:
    path = (directory / name).resolve()
    if not path.is_relative_to(directory.resolve()):
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _onnx_schema(path: Path) -> dict[str, list[dict[str, Any]]] | None:
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    return _onnx_schema_cached(path, stamp)


@functools.lru_cache(maxsize=256)
def _onnx_schema_cached(path: Path, _stamp: int) -> dict[str, list[dict[str, Any]]] | None:
    from switchyard.adapters.runtimes.onnx_tensor import ModelLoadError, OnnxTensorModel

    try:
        model = OnnxTensorModel.load(path, threads=1)
    except ModelLoadError as exc:
        log.info("no tensor schema for %s: %s", path, exc)
        return None
    return {"input": [s.as_dict() for s in model.inputs], "output": [s.as_dict() for s in model.outputs]}
