"""MLflow's experiments, runs and logged models as the management views show them (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Experiment:
    id: str
    name: str
    lifecycle_stage: str
    """``active`` or ``deleted``."""
    artifact_location: str
    created_at: datetime | None
    updated_at: datetime | None
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    experiment_id: str
    name: str
    status: str
    """``running``, ``scheduled``, ``finished``, ``failed`` or ``killed``."""
    lifecycle_stage: str
    user: str | None
    created_at: datetime | None
    """When the run started."""
    updated_at: datetime | None
    """When it ended, else when it started."""
    ended_at: datetime | None
    artifact_uri: str
    tags: dict[str, str]
    metrics: dict[str, float]
    """The latest value of each metric."""
    parameters: dict[str, str]


@dataclass(frozen=True, slots=True)
class LoggedModel:
    id: str
    name: str
    experiment_id: str
    run_id: str | None
    status: str
    """``pending``, ``ready`` or ``upload-failed``."""
    created_at: datetime | None
    updated_at: datetime | None
    artifact_location: str
    tags: dict[str, str]
    parameters: dict[str, str]
    kind: str = "unknown"
    """From the model's flavors: ``onnx``, ``sklearn``, ``pytorch``, ``hugging-face`` or ``unknown``."""
    model_size: int | None = None
    """Bytes, as MLflow recorded it."""
    schema: dict[str, list[dict[str, Any]]] | None = None
    """``{"input": [...], "output": [...]}``: V2 tensor specs (name, datatype, shape) from the ONNX graph."""
    input_example: Any = None
    """The example logged with the model (``input_example.json``), as saved."""
