"""Deployments of logged models as the services see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class DeploymentKind(StrEnum):
    logged_model = "logged-model"


class ServingSize(StrEnum):
    """The resources one process gives a deployment: runtime threads per inference, inferences at once."""

    small = "small"
    large = "large"
    extra_large = "extra-large"

    @property
    def threads(self) -> int:
        return {ServingSize.small: 1, ServingSize.large: 2, ServingSize.extra_large: 4}[self]

    @property
    def concurrency(self) -> int:
        return {ServingSize.small: 2, ServingSize.large: 4, ServingSize.extra_large: 8}[self]


class DeploymentStatus(StrEnum):
    pending = "pending"
    """Nothing serves yet: the model is being loaded."""
    running = "running"
    """A revision serves requests (a newer one may be rolling out: ``revision > running_revision``)."""
    failed = "failed"
    """Nothing serves: the latest revision could not be loaded (``error`` says why)."""


@dataclass(frozen=True, slots=True)
class Deployment:
    id: int
    name: str
    """Also the model name of the Open Inference Protocol (``/v2/models/{name}``)."""
    description: str
    kind: DeploymentKind
    model: str
    """The model as given: a logged model id, ``models:/<name>@<alias>`` or ``models:/<name>/<version>``."""
    serving_size: ServingSize
    status: DeploymentStatus
    error: str | None
    revision: int
    """Bumped by every change of model or serving size; the revision a rollout is loading."""
    running_revision: int | None
    model_data: dict[str, Any]
    """What the running revision serves: platform, inputs and outputs (from the ONNX graph)."""
    tags: dict[str, str] = field(default_factory=dict)
    created_by: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LogLine:
    time: datetime
    level: str
    message: str
